#!/usr/bin/env python3
"""Builds the VC-Mix trial list from VoxCeleb1 and VoxConverse folders.

VC-Mix (arXiv 2309.14741, a test set of SEED) mixes the target trials of
VoxCeleb1-O (18,802) with non-target trials between VoxConverse
speaker-verification segments (140,734): 159,536 trials. Give a local
VoxCeleb1 folder (test set at least), the VoxConverse speaker-verification
folder (segments matched by ``folder/file.wav``) and its trial file
(default ``<voxconverse_folder>/vcmix_test.txt``; a file that already mixes
both works: its VoxCeleb lines are replaced by VoxCeleb1-O's targets).
The list is written to ``<out_folder>/vcmix_trials.txt`` with paths
relative to ``<out_folder>/wav`` (two symbolic links, ``vox1`` and
``voxconverse``), or with full paths (``--full_paths``). A second run
writes nothing.

    python recipes/prepare_vcmix.py --voxceleb1_folder /data/voxceleb1 \\
        --voxconverse_folder /data/vcmix --out_folder /data/seed/vcmix

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
        corpora.prepare_vcmix,
        ["voxceleb1_folder", "voxconverse_folder"],
        {
            "voxconverse_trials": (
                None,
                "trial file of the VoxConverse segments "
                "(default: <voxconverse_folder>/vcmix_test.txt)",
            ),
            "vox1_trials": (
                corpora.VOX1_O_URL,
                "URL or file of VoxCeleb1-O (cleaned)",
            ),
            "vox1_checksum": (None, None),
        },
        argv,
    )


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    sys.exit(run_main(main, prog="prepare_vcmix.py", strip_debug=True))
