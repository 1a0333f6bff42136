"""Label-free clean-speech corpora: a local copy, or downloaded once.

:func:`fetch_corpus` finds a public corpus below a data root (or a given
local folder) and otherwise downloads (resumable, checksum when
published) and extracts it; :func:`prepare_clean_corpus` lists its audio
in a manifest (LibriTTS-R train-clean-100 / 360, Libri-Light small).
Re-exported by :mod:`seed_brain.dataio.corpora`.

Authors
 * seed-brain developers 2026
"""

import logging
import os

from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio.download import download, extract
from seed_brain.utils.files import read_json, write_json

logger = logging.getLogger(__name__)


def _find_folder(data_root, relative):
    """``data_root/relative``, or a folder of the same name below it."""
    folder = os.path.join(data_root, relative)
    if os.path.isdir(folder):
        return folder
    name = os.path.basename(os.path.normpath(relative))
    for dirpath, dirnames, _ in os.walk(data_root):
        depth = dataprep._rel_posix(dirpath, data_root).count("/")
        if depth >= 3:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d != "archives"
        )
        if name in dirnames:
            return os.path.join(dirpath, name)
    return None


def fetch_corpus(name, spec, data_root, local_folder=None, allow_download=True):
    """The folder of a public corpus: a local copy, or downloaded once.

    Arguments
    ---------
    name : str
        Corpus name, for messages.
    spec : dict
        ``url``, ``checksum`` (or None) and ``folder`` (the corpus folder
        inside the extracted archive, relative to ``data_root``; when the
        archive lays it out differently, a folder of the same last name
        up to three levels below ``data_root`` is used).
    data_root : str
        The archive goes to ``data_root/archives`` (resumable download,
        checksum when given) and is extracted into ``data_root`` (once).
    local_folder : str or None
        An existing copy: returned as it is, nothing is downloaded.
    allow_download : bool
        False: fail with the URL in the message instead of downloading.

    Returns
    -------
    str
        Absolute path of the corpus folder.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> fetch_corpus("x", {"url": "", "folder": "x"}, root,
    ...              local_folder=root) == root
    True
    """
    if local_folder is not None:
        folder = dataprep._check_folder(local_folder, f"{name} folder")
        return os.path.abspath(folder)
    folder = _find_folder(data_root, spec["folder"])
    if folder is not None:
        return os.path.abspath(folder)
    if not allow_download:
        raise FileNotFoundError(
            f"{name}: '{os.path.join(data_root, spec['folder'])}' not found "
            f"and downloading is off. Download {spec['url']} and extract it "
            f"into '{data_root}', or pass the local folder."
        )
    archive = os.path.join(
        data_root, "archives", os.path.basename(spec["url"].split("?")[0])
    )
    download(spec["url"], archive, spec.get("checksum"))
    extract(archive, data_root)
    folder = _find_folder(data_root, spec["folder"])
    if folder is None:
        raise FileNotFoundError(
            f"{name}: the archive {archive} did not contain "
            f"'{spec['folder']}'. Fix 'folder' in the configuration."
        )
    return os.path.abspath(folder)


def prepare_clean_corpus(
    name,
    spec,
    data_root,
    local_folder=None,
    allow_download=True,
    min_duration=1.0,
):
    """Downloads (if needed), extracts and lists a label-free corpus.

    Arguments
    ---------
    name : str
        Corpus name (manifest file name), e.g. ``librittsr_clean_100``.
    spec : dict
        ``url``, ``checksum`` (or null), ``folder`` (the corpus folder
        inside the extracted archive, relative to ``data_root``).
    data_root : str
        Archives go to ``data_root/archives``, extraction into
        ``data_root``, the manifest to ``data_root/manifests/<name>.csv``.
    local_folder : str or None
        An existing copy of the corpus folder: used as it is, nothing is
        downloaded.
    allow_download : bool
        False: fail (with the URL in the message) instead of downloading.
    min_duration : float
        Shorter files are left out of the manifest.

    Returns
    -------
    dict
        ``{"folder", "manifest", "files", "hours"}``: pass ``folder`` as
        (one of) ``--clean_folder``.
    """
    manifests = os.path.join(data_root, "manifests")
    folder = fetch_corpus(name, spec, data_root, local_folder, allow_download)
    folder = os.path.abspath(folder)
    csv_path = os.path.join(manifests, f"{name}.csv")
    record_path = os.path.join(manifests, f"{name}.json")
    record = read_json(record_path)
    wanted = {"folder": folder, "min_duration": float(min_duration)}
    if (
        record is not None
        and os.path.isfile(csv_path)
        and all(record.get(k) == v for k, v in wanted.items())
    ):
        logger.info("%s: manifest %s is up to date.", name, csv_path)
        return record
    rows = dataprep.prepare_clean_manifest(
        folder, csv_path, min_duration=min_duration
    )
    hours = sum(float(r["duration"]) for r in rows) / 3600.0
    record = dict(
        wanted,
        manifest=os.path.abspath(csv_path),
        files=len(rows),
        hours=round(hours, 3),
    )
    write_json(record_path, record)
    logger.info("%s: %d files, %.1f h in %s.", name, len(rows), hours, folder)
    return record
