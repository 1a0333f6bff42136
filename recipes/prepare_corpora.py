#!/usr/bin/env python3
"""Downloads and prepares the public corpora of the SEED paper's setting.

* clean speech, label-free: LibriTTS-R train-clean-100 and train-clean-360
  and Libri-Light small (manifests in ``<data_root>/manifests``);
* MUSAN: ``music.csv``, ``noise.csv``, ``speech.csv`` and generated
  ``babble.csv`` (3-7 speech files summed) in ``<data_root>/musan_csv``;
* RIRs: OpenSLR-28's simulated room impulse responses in
  ``<data_root>/rirs_csv/rir.csv``.

URLs, checksums and folder names are in ``hparams/corpora.yaml``. Downloads
resume where they stopped (HTTP range requests), are checked against the
published checksum when the yaml has one, and happen once: a second run
downloads and writes nothing. ``--local NAME=FOLDER`` uses an existing copy
instead of downloading (e.g. ``--local musan=/data/musan``);
``--no_download`` fails instead of downloading.

    python recipes/prepare_corpora.py --data_root /data/seed
    python recipes/prepare_corpora.py --data_root /data/seed \\
        --only musan rirs --local rirs=/data/RIRS_NOISES

It prints the ``train.py`` arguments that use the prepared folders and
writes them to ``<data_root>/corpora.json``.

Authors
 * seed-brain developers 2026
"""

import json
import os
import sys

import yaml

# The checkout's own package comes first, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from seed_brain.dataio import corpora, training_corpora
from seed_brain.utils.files import write_json
from seed_brain.utils.scripts import doc_parser, start_logging

CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "hparams",
    "corpora.yaml",
)


def load_config(path):
    """The corpora of ``hparams/corpora.yaml`` as ``{name: spec}``.

    Arguments
    ---------
    path : str
        The yaml file.

    Returns
    -------
    dict
        ``{"clean": {name: spec}, "musan": spec, "rirs": spec}``.
    """
    with open(path, encoding="utf-8") as fin:
        config = yaml.safe_load(fin)
    for key in ("clean", "musan", "rirs"):
        if key not in config:
            raise ValueError(f"{path} has no '{key}' section.")
    return config


def prepare(
    data_root,
    config,
    only=None,
    local=None,
    allow_download=True,
    babble_count=200,
    babble_seconds=20.0,
    seed=0,
):
    """Prepares the corpora named in ``only`` (default: all).

    Arguments
    ---------
    data_root : str
        Root folder of downloads, extractions and outputs.
    config : dict
        See :func:`load_config`.
    only : list of str or None
        Names among the clean corpora, ``musan`` and ``rirs``.
    local : dict or None
        ``{name: existing folder}``.
    allow_download : bool
        False: fail instead of downloading.
    babble_count, babble_seconds : int, float
        Generated babble files (see
        ``seed_brain.dataio.training_corpora.prepare_musan``).
    seed : int
        Seed of the babble.

    Returns
    -------
    dict
        What was prepared, and ``train_args``: the train.py arguments.
    """
    local = local or {}
    names = list(config["clean"]) + ["musan", "rirs"]
    only = names if not only else list(only)
    unknown = sorted(set(only) - set(names)) + sorted(set(local) - set(names))
    if unknown:
        raise ValueError(f"Unknown corpora {unknown}; known: {names}.")
    summary = {"clean": {}}
    for name, spec in config["clean"].items():
        if name in only:
            summary["clean"][name] = corpora.prepare_clean_corpus(
                name,
                spec,
                data_root,
                local_folder=local.get(name),
                allow_download=allow_download,
            )
    csv_makers = {
        "musan": lambda folder, out: training_corpora.prepare_musan(
            folder,
            out,
            babble_count=babble_count,
            babble_seconds=babble_seconds,
            seed=seed,
        ),
        "rirs": training_corpora.prepare_rirs,
    }
    for name, make_csv in csv_makers.items():
        if name in only:
            folder = corpora.fetch_corpus(
                name, config[name], data_root, local.get(name), allow_download
            )
            summary[name] = make_csv(
                folder, os.path.join(data_root, f"{name}_csv")
            )
    args = []
    if summary["clean"]:
        clean = [info["folder"] for info in summary["clean"].values()]
        args.append(f"--clean_folder=[{','.join(clean)}]")
        hours = sum(info["hours"] for info in summary["clean"].values())
        summary["clean_hours"] = round(hours, 1)
    if "musan" in summary:
        folders = summary["musan"]["folders"]
        args.append(f"--noise_folder={folders['noise']}")
        args.append(f"--music_folder={folders['music']}")
    if "rirs" in summary:
        args.append(f"--rir_folder={summary['rirs']['folder']}")
    summary["train_args"] = args
    os.makedirs(data_root, exist_ok=True)
    write_json(os.path.join(data_root, "corpora.json"), summary)
    return summary


def main(argv=None):
    """Command line entry point."""
    parser = doc_parser(__doc__)
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument(
        "--local",
        nargs="+",
        default=[],
        metavar="NAME=FOLDER",
        help="use an existing copy of a corpus",
    )
    parser.add_argument("--no_download", action="store_true")
    parser.add_argument("--babble_count", type=int, default=200)
    parser.add_argument("--babble_seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start_logging()
    local = {}
    for item in args.local:
        if "=" not in item:
            parser.error(f"--local expects NAME=FOLDER, got {item!r}")
        name, folder = item.split("=", 1)
        local[name] = folder
    summary = prepare(
        args.data_root,
        load_config(args.config),
        only=args.only,
        local=local,
        allow_download=not args.no_download,
        babble_count=args.babble_count,
        babble_seconds=args.babble_seconds,
        seed=args.seed,
    )
    print(json.dumps(summary, indent=1))
    print("train.py arguments: " + " ".join(summary["train_args"]))
    return summary


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    sys.exit(run_main(main, prog="prepare_corpora.py", strip_debug=True))
