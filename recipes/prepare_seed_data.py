#!/usr/bin/env python3
"""Prepares the data of a SEED run: manifests, augmentation CSVs, trials.

Everything goes under ``<output_folder>/data``::

    train.csv                   clean speech, ID,duration,wav
    noise.csv, noise/           training noises as 16 kHz mono WAV + CSV for
                                speechbrain AddNoise
    rir.csv, rir/               training RIRs, same, for AddReverb
    trials.txt                  label enrol test (paths relative to
                                --test_folder)
    test_conditions/            corrupted test sides, one folder per
                                condition, trials_<name>.txt (absolute
                                paths) and conditions.json

Each step runs only when its inputs are given, and every step is
idempotent: running the same command again writes nothing.

Example (shared data of the project)::

    python recipes/prepare_seed_data.py \\
        --clean_folder ../shared/data/speech/train-clean-100 \\
        --noise_folder ../shared/data/noise --noise_include 'noise[1-5].wav' \\
        --rir_folder ../shared/data/rir --rir_include 'rir[1-4].wav' \\
        --test_folder ../shared/data/speech/test-other \\
        --test_noise_folder ../shared/data/noise \\
        --test_noise_exclude 'noise[1-5].wav' \\
        --test_rir_folder ../shared/data/rir \\
        --test_rir_exclude 'rir[1-4].wav' \\
        --output_folder results/seed

Authors
-------
* seed-brain contributors
"""

import argparse
import logging
import os
import sys

try:
    from seed_brain import dataprep
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
    from seed_brain import dataprep


def parse_args(argv=None):
    """Command-line options (see ``--help``)."""
    names = [c["name"] for c in dataprep.DEFAULT_CONDITIONS]
    parser = argparse.ArgumentParser(
        description=(
            "Prepare SEED data into OUTPUT_FOLDER/data: clean-speech "
            "manifest (train.csv), noise and RIR CSVs for SpeechBrain's "
            "AddNoise/AddReverb (files converted to mono WAV at "
            "--sample_rate), a verification trial list (trials.txt) and "
            "corrupted test conditions (test_conditions/). Steps whose "
            "inputs are not given are skipped; re-running writes nothing."
        ),
        epilog=__doc__.split("Authors")[0].split("Example", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output_folder",
        required=True,
        help="Run folder; outputs go to OUTPUT_FOLDER/data.",
    )
    parser.add_argument(
        "--clean_folder",
        nargs="+",
        help="Folder(s) of clean training speech, any layout (no labels "
        "used) -> data/train.csv.",
    )
    parser.add_argument(
        "--min_duration",
        type=float,
        default=0.0,
        help="Skip clean files shorter than this, in seconds (default 0).",
    )
    parser.add_argument(
        "--noise_folder",
        help="Training noises -> data/noise.csv + data/noise/.",
    )
    parser.add_argument(
        "--rir_folder",
        help="Training room impulse responses -> data/rir.csv + data/rir/.",
    )
    parser.add_argument(
        "--test_folder",
        help="Test speech, one sub-folder per speaker -> data/trials.txt.",
    )
    parser.add_argument(
        "--test_noise_folder",
        help="Noises for the noisy test conditions (keep them apart from "
        "the training noises).",
    )
    parser.add_argument(
        "--test_rir_folder",
        help="RIRs for the reverberant test conditions.",
    )
    for kind in ("noise", "rir", "test_noise", "test_rir"):
        parser.add_argument(
            f"--{kind}_include",
            nargs="+",
            metavar="GLOB",
            help=f"Only files of --{kind}_folder matching one of these "
            "globs (relative path or file name), e.g. "
            f"'{'rir[1-4]' if 'rir' in kind else 'noise[1-5]'}.wav'.",
        )
        parser.add_argument(
            f"--{kind}_exclude",
            nargs="+",
            metavar="GLOB",
            help=f"Leave out files of --{kind}_folder matching these globs.",
        )
    parser.add_argument(
        "--max_target",
        type=int,
        help="Most target trials (default: every same-speaker pair).",
    )
    parser.add_argument(
        "--max_nontarget",
        type=int,
        help="Most non-target trials (default: every pair).",
    )
    parser.add_argument(
        "--conditions",
        nargs="+",
        choices=names,
        help="Test conditions to build (default: all those whose noise/RIR "
        f"folders are given, among {', '.join(names)}).",
    )
    parser.add_argument(
        "--sample_rate",
        type=int,
        default=16000,
        help="Sample rate of converted and corrupted files (default 16000).",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1234,
        help="Seed of trial sampling and test corruption (default 1234).",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Runs the preparation steps whose inputs are given."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    data = os.path.join(args.output_folder, "data")
    os.makedirs(data, exist_ok=True)
    wrote = []

    if args.clean_folder:
        path = os.path.join(data, "train.csv")
        rows = dataprep.prepare_clean_manifest(
            args.clean_folder, path, args.sample_rate, args.min_duration
        )
        hours = sum(float(r["duration"]) for r in rows) / 3600
        wrote.append(f"{path}: {len(rows)} clean files, {hours:.2f} h")

    for kind in ("noise", "rir"):
        folder = getattr(args, f"{kind}_folder")
        if not folder:
            continue
        path = os.path.join(data, f"{kind}.csv")
        rows = dataprep.prepare_augment_csv(
            folder,
            path,
            os.path.join(data, kind),
            sample_rate=args.sample_rate,
            include=getattr(args, f"{kind}_include"),
            exclude=getattr(args, f"{kind}_exclude"),
        )
        wrote.append(f"{path}: {len(rows)} {kind} files")

    if args.test_folder:
        path = os.path.join(data, "trials.txt")
        trials = dataprep.prepare_trials(
            args.test_folder,
            path,
            max_target=args.max_target,
            max_nontarget=args.max_nontarget,
            seed=args.seed,
        )
        targets = sum(label for label, _, _ in trials)
        wrote.append(
            f"{path}: {targets} target + {len(trials) - targets} "
            "non-target trials"
        )

        sources = {}
        for kind in ("noise", "rir"):
            folder = getattr(args, f"test_{kind}_folder")
            if folder:
                sources[kind] = dataprep.list_audio_files(
                    folder,
                    include=getattr(args, f"test_{kind}_include"),
                    exclude=getattr(args, f"test_{kind}_exclude"),
                )
                if not sources[kind]:
                    sys.exit(f"No test {kind} file selected in '{folder}'.")
        conditions = []
        for cond in dataprep.DEFAULT_CONDITIONS:
            needs_noise = cond["snr"] is not None
            possible = (not needs_noise or "noise" in sources) and (
                not cond["reverb"] or "rir" in sources
            )
            if args.conditions and cond["name"] not in args.conditions:
                continue
            if not possible:
                if args.conditions:
                    sys.exit(
                        f"Condition {cond['name']} needs "
                        f"{'--test_noise_folder' if needs_noise else ''}"
                        f"{' and ' if needs_noise and cond['reverb'] else ''}"
                        f"{'--test_rir_folder' if cond['reverb'] else ''}."
                    )
                print(f"Skipping condition {cond['name']}: no test noise/RIR.")
                continue
            conditions.append(cond)
        if conditions:
            out = dataprep.prepare_test_conditions(
                args.test_folder,
                path,
                os.path.join(data, "test_conditions"),
                conditions=conditions,
                noise_files=sources.get("noise"),
                rir_files=sources.get("rir"),
                sample_rate=args.sample_rate,
                seed=args.seed,
            )
            for name, cond in out.items():
                wrote.append(
                    f"{cond['trials_path']}: condition {name}, test files "
                    f"under {cond['test_root']}"
                )

    if not wrote:
        sys.exit("Nothing to do: give at least one input folder (see --help).")
    print("Prepared:")
    for line in wrote:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
