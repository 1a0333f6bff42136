"""Results tables: the per-condition summary, results.json and results.md.

:func:`write_results` stores ``results.json`` and a human-readable
``results.md``; EERs there are in percent.

Authors
 * seed-brain developers 2026
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from seed_brain.scoring.bootstrap import _relative
from seed_brain.utils.files import write_text

__all__ = [
    "summarise_conditions",
    "write_results",
]

#: Name of the condition left out of the ``mean (noisy)`` row.
CLEAN_CONDITION = "clean"


#: Label of the averaged row in :func:`summarise_conditions`.
MEAN_NOISY = "mean (noisy)"


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where} must be a number, got {value!r}") from err


def _check_condition(cond: Any, i: int) -> None:
    if not isinstance(cond, Mapping):
        raise ValueError(f"conditions[{i}] must be a dict, got {cond!r}")
    for key in ("name", "n_target", "n_nontarget", "baseline", "seed"):
        if key not in cond:
            raise ValueError(f"conditions[{i}] lacks the key {key!r}")
    if not isinstance(cond["name"], str):
        raise ValueError(f"conditions[{i}]['name'] must be a string")
    for system in ("baseline", "seed"):
        block = cond[system]
        if not isinstance(block, Mapping):
            raise ValueError(f"conditions[{i}][{system!r}] must be a dict")
        for metric in ("eer", "min_dcf"):
            if metric not in block:
                raise ValueError(
                    f"conditions[{i}][{system!r}] lacks the key {metric!r}"
                )
            _number(block[metric], f"conditions[{i}][{system!r}][{metric!r}]")


def summarise_conditions(conditions: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Flatten per-condition results and add the ``mean (noisy)`` row.

    Parameters
    ----------
    conditions : Sequence[Mapping]
        Entries of the results schema: ``{"name", "n_target",
        "n_nontarget", "baseline": {"eer", "min_dcf"}, "seed": {"eer",
        "min_dcf"}}`` (EER in percent), optionally ``"eer_change_ci"``.

    Returns
    -------
    list[dict]
        One row per condition with ``name``, ``n_target``, ``n_nontarget``,
        ``baseline_eer``, ``seed_eer``, ``eer_rel_change``,
        ``baseline_min_dcf``, ``seed_min_dcf``, ``min_dcf_rel_change``
        (relative changes ``(seed - baseline) / baseline`` in percent, NaN
        if the baseline is 0) and ``eer_change_ci`` (or None); then, when
        at least one condition is not named ``clean``, a row named ``mean
        (noisy)`` holding the unweighted mean of the EER and minDCF columns
        over those conditions, and the relative change of those means
        (trial counts and CI set to None).

    Example
    -------
    >>> rows = summarise_conditions([
    ...     {"name": "clean", "n_target": 10, "n_nontarget": 90,
    ...      "baseline": {"eer": 1.0, "min_dcf": 0.1},
    ...      "seed": {"eer": 1.0, "min_dcf": 0.1}},
    ...     {"name": "babble", "n_target": 10, "n_nontarget": 90,
    ...      "baseline": {"eer": 4.0, "min_dcf": 0.4},
    ...      "seed": {"eer": 3.0, "min_dcf": 0.3}},
    ...     {"name": "music", "n_target": 10, "n_nontarget": 90,
    ...      "baseline": {"eer": 2.0, "min_dcf": 0.2},
    ...      "seed": {"eer": 2.0, "min_dcf": 0.2}},
    ... ])
    >>> [r["name"] for r in rows]
    ['clean', 'babble', 'music', 'mean (noisy)']
    >>> rows[-1]["baseline_eer"], rows[-1]["seed_eer"]
    (3.0, 2.5)
    >>> round(rows[-1]["eer_rel_change"], 2)
    -16.67
    """
    rows: list[dict] = []
    names = set()
    for i, cond in enumerate(conditions):
        _check_condition(cond, i)
        if cond["name"] in names:
            raise ValueError(f"duplicate condition name {cond['name']!r}")
        names.add(cond["name"])
        base_eer = _number(cond["baseline"]["eer"], "eer")
        seed_eer = _number(cond["seed"]["eer"], "eer")
        base_dcf = _number(cond["baseline"]["min_dcf"], "min_dcf")
        seed_dcf = _number(cond["seed"]["min_dcf"], "min_dcf")
        rows.append(
            {
                "name": cond["name"],
                "n_target": int(cond["n_target"]),
                "n_nontarget": int(cond["n_nontarget"]),
                "baseline_eer": base_eer,
                "seed_eer": seed_eer,
                "eer_rel_change": _relative(base_eer, seed_eer),
                "baseline_min_dcf": base_dcf,
                "seed_min_dcf": seed_dcf,
                "min_dcf_rel_change": _relative(base_dcf, seed_dcf),
                "eer_change_ci": cond.get("eer_change_ci"),
            }
        )
    noisy = [r for r in rows if r["name"] != CLEAN_CONDITION]
    if noisy:
        mean_row: dict[str, Any] = {
            "name": MEAN_NOISY,
            "n_target": None,
            "n_nontarget": None,
            "eer_change_ci": None,
        }
        for key in (
            "baseline_eer",
            "seed_eer",
            "baseline_min_dcf",
            "seed_min_dcf",
        ):
            mean_row[key] = math.fsum(r[key] for r in noisy) / len(noisy)
        # The change of the mean (what "x % lower mean EER" means), not
        # the mean of the per-condition changes.
        mean_row["eer_rel_change"] = _relative(
            mean_row["baseline_eer"], mean_row["seed_eer"]
        )
        mean_row["min_dcf_rel_change"] = _relative(
            mean_row["baseline_min_dcf"], mean_row["seed_min_dcf"]
        )
        rows.append(mean_row)
    return rows


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    text = format(value, spec)
    if text.lstrip("+-").strip("0.") == "":  # "-0.000" -> "0.000"
        text = format(0.0, spec.lstrip("+"))
    return text


def _fmt_ci(ci: Any) -> str:
    if ci is None:
        return "-"
    if isinstance(ci, Mapping):
        if "delta_ci" not in ci:
            raise ValueError(f"eer_change_ci dict lacks 'delta_ci': {ci!r}")
        low, high = ci["delta_ci"]
        bounds = f"[{_fmt(low, '+.3f')}, {_fmt(high, '+.3f')}]"
        if "delta" in ci:
            return f"{_fmt(ci['delta'], '+.3f')} {bounds}"
        return bounds
    low, high = ci
    return f"[{_fmt(low, '+.3f')}, {_fmt(high, '+.3f')}]"


def _jsonable(obj: Any) -> Any:
    """Plain JSON types; NumPy/torch values converted, non-finite -> None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray) or hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in results.json")


MEAN_CI_KEY = "mean_noisy_eer_change_ci"


TEST_SETS_KEY = "test_sets"


def _table(
    conditions: Sequence[Mapping[str, Any]], mean_ci: Any
) -> tuple[list[str], bool]:
    """Lines of one results table, and whether it has a CI column."""
    rows = summarise_conditions(conditions)
    with_ci = any(r["eer_change_ci"] is not None for r in rows)
    header = [
        "condition",
        "baseline EER (%)",
        "SEED EER (%)",
        "EER rel. change (%)",
        "baseline minDCF",
        "SEED minDCF",
        "minDCF rel. change (%)",
        "targets",
        "non-targets",
    ]
    align = ["---"] + ["---:"] * (len(header) - 1)
    if with_ci:
        header.append("EER change, pp [CI]")
        align.append("---:")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for r in rows:
        cells = [
            r["name"],
            _fmt(r["baseline_eer"], ".3f"),
            _fmt(r["seed_eer"], ".3f"),
            _fmt(r["eer_rel_change"], "+.1f"),
            _fmt(r["baseline_min_dcf"], ".4f"),
            _fmt(r["seed_min_dcf"], ".4f"),
            _fmt(r["min_dcf_rel_change"], "+.1f"),
            "-" if r["n_target"] is None else str(r["n_target"]),
            "-" if r["n_nontarget"] is None else str(r["n_nontarget"]),
        ]
        if with_ci:
            ci = r["eer_change_ci"]
            if r["name"] == MEAN_NOISY and mean_ci:
                ci = mean_ci
            cells.append(_fmt_ci(ci))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells))
        lines[-1] += " |"
    return lines, with_ci


def _mean_ci_note(mean_ci: Any) -> list[str]:
    """The line on the joint CI of the mean noisy row (none without it)."""
    if not mean_ci:
        return []
    low, high = mean_ci["relative_ci"]
    return [
        f"`{MEAN_NOISY}` CI: the same trials resampled jointly over "
        f"the {mean_ci['n_conditions']} noisy conditions "
        f"({mean_ci['n_valid']} replicates); relative change of the "
        f"mean EER {_fmt(mean_ci['relative'], '+.1f')} % "
        f"[{_fmt(low, '+.1f')}, {_fmt(high, '+.1f')}]."
    ]


def _markdown(results: Mapping[str, Any]) -> str:
    table, with_ci = _table(results["conditions"], results.get(MEAN_CI_KEY))
    lines = [f"# Results: {results['backbone']}", "", *table]
    lines += [
        "",
        "EER in percent. Relative change = (SEED - baseline) / baseline x "
        "100; negative is better.",
        f"`{MEAN_NOISY}` is the unweighted mean of each column over every "
        f"condition except `{CLEAN_CONDITION}`; its relative changes are "
        "those of the means.",
    ]
    if with_ci:
        lines.append(
            "CI: paired-bootstrap percentile interval of the EER change "
            "(SEED - baseline, percentage points)."
        )
    lines += _mean_ci_note(results.get(MEAN_CI_KEY))
    test_sets = results.get(TEST_SETS_KEY) or {}
    if not isinstance(test_sets, Mapping):
        raise ValueError(f"results[{TEST_SETS_KEY!r}] must be a dict")
    for name, entry in test_sets.items():
        if not isinstance(entry, Mapping) or not entry.get("conditions"):
            raise ValueError(
                f"results[{TEST_SETS_KEY!r}][{name!r}] needs 'conditions'"
            )
        table, _ = _table(entry["conditions"], entry.get(MEAN_CI_KEY))
        what = entry.get("description")
        counts = (
            f"{int(entry['n_target']):,} target / "
            f"{int(entry['n_nontarget']):,} non-target trials per condition"
            if "n_target" in entry and "n_nontarget" in entry
            else ""
        )
        intro = "; ".join(x for x in (what, counts) if x)
        lines += ["", f"## Test set `{name}`", ""]
        if intro:
            lines += [f"{intro[0].upper()}{intro[1:]}.", ""]
        lines += table
        note = _mean_ci_note(entry.get(MEAN_CI_KEY))
        if note:
            lines += ["", *note]
    extra = {
        k: v
        for k, v in results.items()
        if k not in ("backbone", "conditions", TEST_SETS_KEY)
    }
    if extra:
        lines += [
            "",
            "## Details",
            "",
            "```json",
            json.dumps(_jsonable(extra), sort_keys=True, indent=2),
            "```",
        ]
    return "\n".join(lines) + "\n"


def write_results(
    results: Mapping[str, Any], folder: str | os.PathLike
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``folder``.

    The JSON keeps ``results`` as given (keys sorted, indent 2; NumPy and
    torch scalars / arrays converted, NaN / inf stored as ``null``). The
    Markdown file has the :func:`summarise_conditions` table, then one
    table per entry of ``results["test_sets"]`` (``{name: {"conditions":
    [...], "n_target", "n_nontarget", "description",
    "mean_noisy_eer_change_ci"}}``, conditions as in the main table), and
    the other top-level keys as a JSON block. Both files are written atomically
    (temporary file, then ``os.replace``) and are byte-for-byte identical
    for identical input.

    Parameters
    ----------
    results : Mapping
        ``{"backbone": str, "conditions": [...], ...}``; see
        :func:`summarise_conditions` for a condition's keys. EERs in
        percent.
    folder : str or os.PathLike
        Output folder, created if needed.

    Returns
    -------
    tuple[pathlib.Path, pathlib.Path]
        Paths of ``results.json`` and ``results.md``.

    Example
    -------
    >>> import tempfile
    >>> results = {"backbone": "ecapa", "conditions": [
    ...     {"name": "clean", "n_target": 2, "n_nontarget": 8,
    ...      "baseline": {"eer": 1.0, "min_dcf": 0.1},
    ...      "seed": {"eer": 0.5, "min_dcf": 0.1}}]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     json_path, md_path = write_results(results, d)
    ...     json.loads(json_path.read_text())["backbone"]
    'ecapa'
    """
    if not isinstance(results, Mapping):
        raise ValueError("results must be a dict")
    if not isinstance(results.get("backbone"), str):
        raise ValueError("results['backbone'] must be a string")
    conditions = results.get("conditions")
    if not isinstance(conditions, (list, tuple)) or not conditions:
        raise ValueError("results['conditions'] must be a non-empty list")
    markdown = _markdown(results)  # validates every condition
    text = json.dumps(_jsonable(results), sort_keys=True, indent=2) + "\n"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "results.json"
    md_path = folder / "results.md"
    write_text(json_path, text)
    write_text(md_path, markdown)
    return json_path, md_path
