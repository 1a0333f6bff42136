"""Where the shared real data of the tests lives, and a marker to skip
without it.

The audio lives outside the repository, in ``../shared/data`` (or
``$SEED_DATA``). ``conftest.py`` builds its fixtures on :data:`DATA`; test
modules that read files directly import :data:`DATA` and
:func:`needs_data` from here.
"""

import os
from pathlib import Path

import pytest

DATA = Path(
    os.environ.get(
        "SEED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared/data"
    )
).resolve()


def needs_data(subfolder):
    """A ``skipif`` marker for tests that read ``DATA / subfolder``."""
    return pytest.mark.skipif(
        not (DATA / subfolder).is_dir(),
        reason=f"shared data not found at {DATA}",
    )
