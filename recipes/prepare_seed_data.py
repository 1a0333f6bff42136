#!/usr/bin/env python3
"""Prepares the data of a SEED run, exactly as ``train.py`` does.

Runs :func:`seed_brain.dataio.prepare.prepare_seed_data` (see its docstring)
into ``--data_folder``: ``train.csv`` (label-free manifest), ``noise.csv`` /
``music.csv`` / ``rir.csv`` (SpeechBrain ``AddNoise`` / ``AddReverb`` CSVs of
converted 16 kHz mono files), ``dev/`` (dev segments and trials),
``trials.txt``, ``conditions/`` (noisy test conditions), ``test_sets/``
(short and held-out test sets) and ``prepared.json``. Every step is
idempotent: a second identical run writes nothing. ``train.py`` with the
same folders reuses what this wrote when its ``data_folder`` points to the
same place.

Example (the project's shared data; training noise noise1-5 and rir1-4,
the other files kept for the test conditions)::

    python recipes/prepare_seed_data.py --data_folder results/ge2e/data \\
        --clean_folder ../shared/data/speech/train-clean-100 \\
        --test_folder ../shared/data/speech/test-other \\
        --noise_folder ../shared/data/noise --noise_include 'noise*.wav' \\
        --rir_folder ../shared/data/rir --rir_include 'rir[1-4].wav' \\
        --test_noise_exclude 'noise*.wav' --test_rir_exclude 'rir[1-4].wav'

Authors
 * seed-brain developers 2026
"""

import argparse
import inspect
import logging
import os
import sys

# The checkout's own package comes first, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from seed_brain.dataio.prepare import prepare_seed_data

LISTS = {"clean_folder", "heldout_folder"} | {
    f"{src}_{kind}"
    for src in ("noise", "rir", "music", "test_noise", "test_rir", "heldout")
    for kind in ("include", "exclude")
}
NUMBERS = {
    "max_target": int,
    "max_nontarget": int,
    "min_duration": float,
    "dev_utterances": int,
    "dev_segment_seconds": float,
    "dev_max_segments": int,
    "sample_rate": int,
    "seed": int,
    "noise_max_seconds": float,
    "synthetic_noise": int,
    "synthetic_rirs": int,
    "heldout_test_utterances": int,
    "heldout_segments": int,
    "heldout_long_seconds": float,
    "test_segment_seconds": float,
}


def _boolean(text):
    """``True`` / ``False`` (also yes/no, 1/0) from the command line."""
    value = {"true": True, "yes": True, "1": True}.get(text.lower())
    if value is None and text.lower() not in ("false", "no", "0"):
        raise argparse.ArgumentTypeError(f"expected True or False: {text!r}")
    return bool(value)


def parser():
    """The argument parser: one option per argument of the function."""
    out = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:4]),
    )
    params = inspect.signature(prepare_seed_data).parameters
    for name, param in params.items():
        if name == "conditions":
            continue  # set test conditions in the yaml (train.py)
        required = param.default is inspect.Parameter.empty
        kwargs = {"required": required, "default": None}
        if name in LISTS:
            kwargs["nargs"] = "+"
        if name in NUMBERS:
            kwargs["type"] = NUMBERS[name]
        if isinstance(param.default, bool):  # e.g. --skip_bad_audio True
            kwargs["type"] = _boolean
        if not required:
            kwargs["default"] = param.default
        out.add_argument(f"--{name}", **kwargs)
    return out


def main(argv=None):
    """Runs the preparation; returns 0."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s - %(message)s")
    prepared = prepare_seed_data(**vars(args))
    print(
        f"Prepared {prepared['n_train_utterances']} training utterances, "
        f"{len(prepared['dev']['trials'])} dev trials and "
        f"{len(prepared['conditions'])} test conditions in "
        f"{args.data_folder}"
    )
    return 0


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    sys.exit(run_main(main, prog="prepare_seed_data.py", strip_debug=True))
