#!/usr/bin/env python3
"""Prepares the VoxCeleb1-O test trials from a local VoxCeleb1 folder.

VoxCeleb audio needs registration, so it is never downloaded: give the
folder of your copy (any layout above the ``id*/`` speaker folders, e.g.
``vox1_test_wav/wav``; WAV files). The cleaned VoxCeleb1-O list
(``veri_test2.txt``: 37,611 trials, ``label enrol test`` with
``id/session/utt.wav`` paths) is public and downloaded once, or read from
``--trials``. Every file of the list is checked, and the list is written to
``<out_folder>/vox1_o_trials.txt`` with paths relative to the test folder
(or full paths with ``--full_paths``). A second run writes nothing.

    python recipes/prepare_voxceleb.py --voxceleb1_folder /data/voxceleb1 \\
        --out_folder /data/seed/vox1_o

It prints the ``--test_folder`` / ``--test_trials`` arguments of train.py.

Authors
 * seed-brain developers 2026
"""

import os
import sys

# The checkout's own package comes first, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from seed_brain.dataio import corpora
from seed_brain.utils.scripts import run_test_set_script


def main(argv=None):
    """Command line entry point."""
    return run_test_set_script(
        __doc__,
        corpora.prepare_voxceleb1_o,
        ["voxceleb1_folder"],
        {
            "trials": (
                corpora.VOX1_O_URL,
                "URL or file of the trial list (default: VoxCeleb1-O cleaned)",
            ),
            "checksum": (None, None),
        },
        argv,
    )


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    sys.exit(run_main(main, prog="prepare_voxceleb.py", strip_debug=True))
