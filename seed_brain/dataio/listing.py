"""Audio files found below a folder, and the ids made from their paths.

:func:`list_audio_files` (sorted, glob ``include`` / ``exclude``), the
errors of a missing folder or of one without audio, and the utterance id
of a relative path (no extension, ``/`` -> ``_``), which the manifests of
:mod:`seed_brain.dataio.manifests` use.

Authors
 * seed-brain developers 2026
"""

import fnmatch
import os

from seed_brain.dataio.audio import AUDIO_EXTENSIONS, is_audio_file


def _check_folder(folder, what="folder"):
    """Raises FileNotFoundError / NotADirectoryError with a clear message."""
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(
            f"{what} '{folder}' does not exist (working directory "
            f"'{os.getcwd()}'). Check the path."
        )
    if not os.path.isdir(folder):
        raise NotADirectoryError(
            f"{what} '{folder}' is not a folder. Pass the folder that holds "
            "the audio files."
        )
    return folder


def _is_below(path, folder):
    """Whether ``path`` lies inside ``folder`` (both made absolute)."""
    path = os.path.abspath(path)
    folder = os.path.abspath(folder)
    return os.path.commonpath([path, folder]) == folder


def _rel_posix(path, root):
    """``path`` relative to ``root`` with ``/`` separators."""
    return os.path.relpath(path, root).replace(os.sep, "/")


def _make_id(relpath, prefix=""):
    """Utterance ID from a relative path: no extension, ``/`` -> ``_``."""
    stem = os.path.splitext(relpath)[0]
    return prefix + stem.replace("/", "_")


def list_audio_files(folder, include=None, exclude=None, skip=None):
    """Every audio file below ``folder``, recursively, sorted.

    Arguments
    ---------
    folder : str or os.PathLike
        Folder to search (any layout); symbolic links are followed.
    include : list of str, optional
        Glob patterns (``fnmatch``); a file is kept if its path relative to
        ``folder`` or its base name matches one of them.
    exclude : list of str, optional
        Glob patterns, same matching; matching files are dropped.
    skip : str or os.PathLike, optional
        A folder whose content is ignored (e.g. an output folder placed
        inside ``folder``).

    Returns
    -------
    list of str
        Paths (``folder`` joined with the relative path), sorted by relative
        path. Only :data:`seed_brain.dataio.audio.AUDIO_EXTENSIONS`; hidden
        files are ignored.

    Raises
    ------
    FileNotFoundError
        ``folder`` does not exist.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ["b/x.wav", "a.flac", "b/notes.txt", "noise1.wav"]:
    ...     os.makedirs(os.path.dirname(os.path.join(root, name)),
    ...                 exist_ok=True)
    ...     open(os.path.join(root, name), "w").close()
    >>> [os.path.relpath(p, root) for p in list_audio_files(root)]
    ['a.flac', 'b/x.wav', 'noise1.wav']
    >>> [os.path.relpath(p, root)
    ...  for p in list_audio_files(root, include=["noise*"])]
    ['noise1.wav']
    """
    folder = _check_folder(folder)

    def matches(rel, patterns):
        name = rel.rsplit("/", 1)[-1]
        return any(
            fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p)
            for p in patterns
        )

    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".")
            and not (skip and _is_below(os.path.join(dirpath, d), skip))
        ]
        for name in filenames:
            if not is_audio_file(name):
                continue
            path = os.path.join(dirpath, name)
            rel = _rel_posix(path, folder)
            if include and not matches(rel, include):
                continue
            if exclude and matches(rel, exclude):
                continue
            found.append((rel, os.path.join(folder, *rel.split("/"))))
    return [path for _, path in sorted(found)]


def _no_audio_error(folder, include=None, exclude=None):
    """ValueError for a folder without (matching) audio files."""
    detail = ""
    if include or exclude:
        detail = f" matching include={include} exclude={exclude}"
    return ValueError(
        f"No audio files ({', '.join(AUDIO_EXTENSIONS)}){detail} found "
        f"below '{folder}'. Check the folder (and the patterns)."
    )
