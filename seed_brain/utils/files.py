"""Files written whole or not at all, JSON read back, and file identity.

Every file seed-brain writes goes through :func:`write_bytes`,
:func:`write_text`, :func:`write_json` or :func:`save_torch`: the content
goes to a temporary name in the same folder, then a rename, so that a
reader (or a rerun after a crash) finds the old file or the new one, never
a part. A full disk is a :class:`seed_brain.utils.errors.DiskFullError`
that names the folder and the size, and the temporary file is removed.

Authors
 * seed-brain developers 2026
"""

import json
import os

from seed_brain.utils.errors import disk_space

__all__ = [
    "file_key",
    "read_csv",
    "read_json",
    "save_torch",
    "write_bytes",
    "write_json",
    "write_text",
]


def write_bytes(path, data, what=None, fix=None, if_changed=False):
    """Writes ``data`` to a temporary file, then renames it to ``path``.

    Arguments
    ---------
    path : str or os.PathLike
        File to write (its folder is created).
    data : bytes or str
        Content (``str`` is written as UTF-8, line ends as they are).
    what : str or None
        What the file is, for a full disk's error (default: its name).
    fix : str or None
        Extra advice for a full disk (e.g. the setting that moves it).
    if_changed : bool
        Leave the file (and its modification time) alone when it already
        holds exactly ``data``.

    Returns
    -------
    bool
        Whether the file was written (False: it was already the same).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "sub", "a.txt")
    >>> write_bytes(path, "hello")
    True
    >>> open(path).read(), os.listdir(os.path.dirname(path))
    ('hello', ['a.txt'])
    >>> write_bytes(path, "hello", if_changed=True)
    False
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if if_changed and os.path.isfile(path):
        with open(path, "rb") as fin:
            if fin.read() == data:
                return False
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        what = what or os.path.basename(path)
        with disk_space(folder, len(data), what, fix):
            with open(tmp, "wb") as fout:
                fout.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return True


def write_text(path, text, what=None, fix=None, if_changed=True):
    """Writes ``text`` (UTF-8) atomically: :func:`write_bytes` for text.

    A file that already holds exactly ``text`` is left alone (its
    modification time too) unless ``if_changed=False``.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> write_text(path, "ID,wav\\n"), write_text(path, "ID,wav\\n")
    (True, False)
    """
    return write_bytes(path, text, what, fix, if_changed)


def write_json(path, obj, indent=1, what=None, fix=None, if_changed=True):
    """Writes ``obj`` as JSON (sorted keys, a final newline) atomically.

    Arguments
    ---------
    path : str or os.PathLike
        File to write.
    obj : object
        Anything ``json.dumps`` takes.
    indent : int or None
        JSON indentation (None: one line).
    what, fix
        See :func:`write_bytes`.
    if_changed : bool
        Leave a file that already holds this JSON alone (the default).

    Returns
    -------
    bool
        Whether the file was written.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.json")
    >>> write_json(path, {"b": 1, "a": [2]}, indent=None)
    True
    >>> open(path).read()
    '{"a": [2], "b": 1}\\n'
    >>> read_json(path)
    {'a': [2], 'b': 1}
    """
    text = json.dumps(obj, indent=indent, sort_keys=True) + "\n"
    return write_bytes(path, text, what, fix, if_changed)


def read_json(path, default=None):
    """The JSON content of ``path``, or ``default`` if missing or unreadable.

    Example
    -------
    >>> read_json("/no/such/file.json", default={})
    {}
    """
    try:
        with open(path, encoding="utf-8") as fin:
            return json.load(fin)
    except (OSError, ValueError):
        return default


def read_csv(path):
    """The rows of a CSV file with a header line, as dicts.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> _ = write_text(path, "ID,wav\\nx,x.wav\\n")
    >>> read_csv(path)
    [{'ID': 'x', 'wav': 'x.wav'}]
    """
    import csv

    with open(path, newline="", encoding="utf-8") as fin:
        return list(csv.DictReader(fin))


def save_torch(obj, path, what=None, fix=None):
    """``torch.save`` through :func:`write_bytes`.

    ``torch.save`` to a file reports a full disk as an opaque
    ``RuntimeError`` (``unexpected pos``); serialising to memory first
    makes it a :class:`seed_brain.utils.errors.DiskFullError` naming the
    folder and the size.

    Example
    -------
    >>> import tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "t.pt")
    >>> save_torch({"x": torch.ones(2)}, path)
    >>> torch.load(path, weights_only=True)["x"].tolist()
    [1.0, 1.0]
    """
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer(), what, fix)


def file_key(path, missing_ok=False):
    """Identifies one version of a file: full path, size, modification time.

    Arguments
    ---------
    path : str or os.PathLike
        The file.
    missing_ok : bool
        Return None for a file that does not exist (instead of raising
        ``FileNotFoundError``).

    Returns
    -------
    str or None
        ``"<absolute path>|<size>|<mtime in ns>"``: a cache entry keyed by it
        is stale once the file is replaced or edited.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> _ = write_bytes(path, b"RIFF")
    >>> file_key(path).split("|")[1], file_key(path + ".gone", missing_ok=True)
    ('4', None)
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
