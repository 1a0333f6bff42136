#!/usr/bin/env python3
"""Collects the ``results.json`` of several runs into one ablation table.

Each argument is ``label=folder`` (a run's ``output_folder`` or a
``results_folder`` of a ``--test_only`` evaluation). The table has, per
run: the dev (validation) EER on noisy and on clean test segments, the
test clean EER, the mean EER and minDCF over the noisy test conditions,
and the relative change of the mean EER with its paired-bootstrap
interval (``mean_noisy_eer_change_ci``, present when the run had
``n_bootstrap > 0``). Settings are chosen on the dev columns; the test
columns are reported, never tuned on.

Example::

    python recipes/ablation_table.py "default=results/unseen" \\
        "w=1.0=results/unseen/abl_w10" > ablation.md

Authors
 * seed-brain developers 2026
"""

import argparse
import json
import os
import sys

# The checkout's own package comes first, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from seed_brain.scoring import summarise_conditions

HEADER = (
    "| run | dev noisy EER % | dev clean EER % | test clean EER % | "
    "test mean noisy EER % | rel. change [95 % CI] | mean noisy minDCF | "
    "held-out short clean EER % | held-out short mean noisy EER % |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
)


def _pair(entry):
    """``"base -> seed"`` of an EER entry (``-`` when missing)."""
    if not entry:
        return "-"
    return f"{entry['baseline']['eer']:.2f} -> {entry['seed']['eer']:.2f}"


def _short_cells(entry):
    """Clean and mean noisy EER cells of the held-out short test set."""
    if not entry:
        return ["-", "-"]
    rows = summarise_conditions(entry["conditions"])
    clean = next((r for r in rows if r["name"] == "clean"), None)
    mean = next((r for r in rows if r["name"] == "mean (noisy)"), None)
    return [
        "-"
        if clean is None
        else f"{clean['baseline_eer']:.2f} -> {clean['seed_eer']:.2f}",
        "-"
        if mean is None
        else f"{mean['baseline_eer']:.2f} -> {mean['seed_eer']:.2f}",
    ]


def table_row(label, results):
    """One markdown row of the ablation table.

    Arguments
    ---------
    label : str
        Name of the run.
    results : dict
        Its ``results.json``.

    Returns
    -------
    str
        The row (no trailing newline).

    Example
    -------
    >>> cond = lambda name, b, s: {"name": name, "n_target": 1,
    ...     "n_nontarget": 9, "baseline": {"eer": b, "min_dcf": 0.5},
    ...     "seed": {"eer": s, "min_dcf": 0.4}}
    >>> row = table_row("x", {"conditions": [cond("clean", 1.0, 1.0),
    ...                                      cond("noise", 20.0, 15.0)]})
    >>> row.split(" | ")[3:7]
    ['1.000 -> 1.000', '20.00 -> 15.00', '-25.0 %', '0.500 -> 0.400']
    >>> row.split(" | ")[7:]
    ['-', '- |']
    """
    rows = summarise_conditions(results["conditions"])
    clean = next((r for r in rows if r["name"] == "clean"), None)
    mean = next(r for r in rows if r["name"] == "mean (noisy)")
    change = f"{mean['eer_rel_change']:+.1f} %"
    ci = results.get("mean_noisy_eer_change_ci")
    if ci:
        low, high = ci["relative_ci"]
        change += f" [{low:+.1f}, {high:+.1f}]"
    dev = results.get("dev")
    cells = [
        label,
        _pair(dev),
        _pair((dev or {}).get("clean")),
        "-"
        if clean is None
        else f"{clean['baseline_eer']:.3f} -> {clean['seed_eer']:.3f}",
        f"{mean['baseline_eer']:.2f} -> {mean['seed_eer']:.2f}",
        change,
        f"{mean['baseline_min_dcf']:.3f} -> {mean['seed_min_dcf']:.3f}",
        *_short_cells((results.get("test_sets") or {}).get("heldout_short")),
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "runs", nargs="+", help="label=folder holding a results.json"
    )
    args = parser.parse_args(argv)
    out = [HEADER]
    for spec in args.runs:
        label, sep, folder = spec.rpartition("=")
        if not sep or not label:
            parser.error(f"{spec!r} is not label=folder")
        path = os.path.join(folder, "results.json")
        if not os.path.isfile(path):
            parser.error(f"{path} not found: run the recipe there first")
        with open(path, encoding="utf-8") as fin:
            out.append(table_row(label, json.load(fin)) + "\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    sys.exit(run_main(main, prog="ablation_table.py", strip_debug=True))
