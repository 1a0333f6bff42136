"""Shared fixtures of the test suite: the real data and small slices of it.

The real audio lives outside the repository, in ``../shared/data`` (or
``$SEED_DATA``); tests that need it skip with a clear reason when it is
absent. Slices are folders of symbolic links made under ``tmp_path``, so
that a test runs the recipe on a few real files without copying them.
"""

from pathlib import Path

import pytest
from shared_data import DATA


@pytest.fixture(scope="session")
def data_dir():
    """The shared real-data folder (skips when it is missing)."""
    if not (DATA / "speech").is_dir():
        pytest.skip(f"shared data not found at {DATA} (set SEED_DATA)")
    return DATA


def link_clean(data_dir, folder, count):
    """Links the first ``count`` train-clean-100 files into ``folder``.

    Returns the list of linked paths (flat layout, no speaker folders).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((data_dir / "speech" / "train-clean-100").glob("*/*"))
    sources = [p for p in sources if p.suffix == ".flac"][:count]
    links = []
    for source in sources:
        link = folder / source.name
        link.symlink_to(source)
        links.append(link)
    return links


def link_test(data_dir, folder, speakers, per_speaker):
    """Links ``per_speaker`` test-other files of ``speakers`` speakers.

    One sub-folder per speaker, as the trial preparation expects. Returns
    ``{speaker: [relative paths]}``.
    """
    folder = Path(folder)
    chosen = sorted((data_dir / "speech" / "test-other").iterdir())
    chosen = [p for p in chosen if p.is_dir()][:speakers]
    layout = {}
    for spk in chosen:
        (folder / spk.name).mkdir(parents=True, exist_ok=True)
        layout[spk.name] = []
        for source in sorted(spk.glob("*.flac"))[:per_speaker]:
            (folder / spk.name / source.name).symlink_to(source)
            layout[spk.name].append(f"{spk.name}/{source.name}")
    return layout


class SpeechSlices:
    """Makers of small symlinked slices of the shared speech data."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

    def clean(self, folder, count):
        """See :func:`link_clean`."""
        return link_clean(self.data_dir, folder, count)

    def test(self, folder, speakers, per_speaker):
        """See :func:`link_test`."""
        return link_test(self.data_dir, folder, speakers, per_speaker)


@pytest.fixture(scope="session")
def speech_slices(data_dir):
    """Makes folders of symbolic links to a few real utterances."""
    return SpeechSlices(data_dir)
