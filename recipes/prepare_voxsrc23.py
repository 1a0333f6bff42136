#!/usr/bin/env python3
"""Checks a local copy of the VoxSRC-23 test set against its trial list.

The SEED authors test on VoxSRC-23 beside VoxCeleb1-O and VC-Mix, with a
labelled list ``voxsrc23_test.txt`` in the same ``label enrol test`` format
(label 1 target, 0 non-target). VoxSRC audio needs registration, so it is
never downloaded: give the folder of your copy and the list (default
``<voxsrc23_folder>/voxsrc23_test.txt``). Files are matched by the last
path components the list gives (at most two, e.g. ``VoxSRC2023_test/
abc.wav`` or ``abc.wav``), whatever the folders above them; every file of
the list must be there. The list is written to
``<out_folder>/voxsrc23_trials.txt`` with paths relative to the folder
holding them (or full paths with ``--full_paths``), with
``<out_folder>/voxsrc23.json``. A second run writes nothing.

    python recipes/prepare_voxsrc23.py --voxsrc23_folder /data/voxsrc23 \\
        --out_folder /data/seed/voxsrc23

It prints the ``--test_folder`` / ``--test_trials`` arguments of train.py.

Authors
 * seed-brain developers 2026
"""

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_vcmix import corpora  # noqa: E402

from seed_brain.utils.scripts import run_test_set_script  # noqa: E402

logger = logging.getLogger(__name__)

#: The list's name in the authors' release.
TRIALS_NAME = "voxsrc23_test.txt"


def _check_labelled(path):
    """A clear error for the challenge's unlabelled ``enrol test`` pairs."""
    from seed_brain.utils.textio import list_lines

    for lineno, fields in list_lines(path, "Trial list"):
        if len(fields) == 2:
            raise ValueError(
                f"{path}, line {lineno}: 2 fields ('enrol test'): this is "
                "the challenge's unlabelled pair list. Scoring needs the "
                "labelled list ('label enrol test', label 1 target, 0 "
                f"non-target), such as the SEED authors' {TRIALS_NAME}: "
                "give it with --trials."
            )
        return


def prepare_voxsrc23(
    voxsrc23_folder, out_folder, trials=None, full_paths=False
):
    """Writes the VoxSRC-23 trial list of a local copy of the test set.

    Arguments
    ---------
    voxsrc23_folder : str
        Local VoxSRC-23 test audio (WAV files, any layout above them).
    out_folder : str
        Where the list goes.
    trials : str or None
        The labelled trial list (default ``voxsrc23_folder/``
        :data:`TRIALS_NAME`).
    full_paths : bool
        Write absolute paths instead of paths relative to the test folder.

    Returns
    -------
    dict
        ``{"test_folder", "trials", "source", "n_target", "n_nontarget",
        "n_files"}``: pass the first two as ``--test_folder`` and
        ``--test_trials``.
    """
    os.makedirs(out_folder, exist_ok=True)
    if trials is None:
        trials = os.path.join(voxsrc23_folder, TRIALS_NAME)
    source = corpora._fetch_list(trials, out_folder)
    _check_labelled(source)
    listed = corpora.read_trial_list(source)
    counts = corpora._counts(listed)
    if not counts[0] or not counts[1]:
        raise ValueError(
            f"{source} holds {counts[0]} target and {counts[1]} non-target "
            "trials: an EER needs both (is it the whole list?)."
        )
    names = {name for _, a, b in listed for name in (a, b)}
    relative = [n for n in names if not os.path.isabs(n)]
    depth = min([2] + [len(n.split("/")) for n in relative])
    index = corpora.index_audio(voxsrc23_folder, depth)
    resolved = corpora._resolve(
        listed, index, depth, "VoxSRC-23", voxsrc23_folder
    )
    # One folder above every relative name: keep the list's paths.
    roots = set()
    for name in relative:
        path = resolved[name]
        roots.add(path[: -len(name) - 1] if path.endswith("/" + name) else None)
    if full_paths or len(roots) != 1 or None in roots:
        test_folder = "/"
        lines = [f"{lab} {resolved[a]} {resolved[b]}\n" for lab, a, b in listed]
    else:
        test_folder = roots.pop()
        lines = [f"{lab} {a} {b}\n" for lab, a, b in listed]
    spaced = [p for p in resolved.values() if len(p.split()) != 1]
    if test_folder == "/" and spaced:
        raise ValueError(
            f"'{spaced[0]}' contains whitespace, which a full path in the "
            "'label enrol test' format cannot hold: rename the folder."
        )
    info, wrote = corpora.write_trial_list(
        out_folder,
        "voxsrc23",
        lines,
        test_folder,
        counts,
        source=os.path.abspath(source),
        n_files=len(resolved),
    )
    logger.info(
        "VoxSRC-23: %s %s (%d target, %d non-target trials, %d files).",
        "wrote" if wrote else "already up to date:",
        os.path.join(out_folder, "voxsrc23_trials.txt"),
        counts[0],
        counts[1],
        len(resolved),
    )
    return info


def main(argv=None):
    """Command line entry point."""
    return run_test_set_script(
        __doc__,
        prepare_voxsrc23,
        ["voxsrc23_folder"],
        {
            "trials": (
                None,
                "labelled trial list (default: <voxsrc23_folder>/"
                f"{TRIALS_NAME})",
            )
        },
        argv,
    )


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    sys.exit(run_main(main, prog="prepare_voxsrc23.py", strip_debug=True))
