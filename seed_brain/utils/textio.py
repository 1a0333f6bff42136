"""Reading text lists written by other systems (trial lists, file lists).

:func:`list_lines` is the one reader of the line-based lists seed-brain
reads. It accepts what editors and other toolkits write: UTF-8 with or
without a byte-order mark, LF or CRLF (or CR) line ends, tabs or several
spaces between fields, trailing blanks, blank lines and ``#`` comments
(a whole line, or the rest of a line after a blank). Anything else (bytes
that are not UTF-8, such as Latin-1, UTF-16, a binary file) is a
:class:`seed_brain.utils.errors.TextFormatError` naming the file and line.

Authors
 * seed-brain developers 2026
"""

import codecs
import os
import re

from seed_brain.utils.errors import TextFormatError

__all__ = ["list_lines"]

_COMMENT = re.compile(r"(^|\s)#.*$")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _bad_bytes(path, lineno, why):
    return TextFormatError(
        f"{path}, line {lineno}: {why}. Save the file as UTF-8 text (e.g. "
        "'iconv -f latin1 -t utf-8 in.txt > out.txt', or 'Save as UTF-8' "
        "in the editor)."
    )


def list_lines(path, what="List"):
    """The meaningful lines of a text list, as ``(line number, fields)``.

    Arguments
    ---------
    path : str or os.PathLike
        The file.
    what : str
        What the file is, for the not-found message (``"Trial list"``).

    Yields
    ------
    lineno : int
        1-based line number in the file.
    fields : list of str
        The line's whitespace-separated fields (never empty).

    Raises
    ------
    FileNotFoundError
        No such file.
    seed_brain.utils.errors.TextFormatError
        A line that is not UTF-8 text, or a binary file.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "list.txt")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"\\xef\\xbb\\xbf# a comment\\r\\n")
    ...     _ = f.write(b"1\\ta.wav  b.wav \\r\\n\\r\\n")
    ...     _ = f.write(b"0 a.wav c.wav  # noisy\\r\\n")
    >>> list(list_lines(path))
    [(2, ['1', 'a.wav', 'b.wav']), (4, ['0', 'a.wav', 'c.wav'])]
    >>> with open(path, "ab") as f:
    ...     _ = f.write(b"1 caf\\xe9.wav d.wav\\n")
    >>> list(list_lines(path))
    Traceback (most recent call last):
    ...
    seed_brain.utils.errors.TextFormatError: ...list.txt, line 5: not UTF-8 ...
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} '{path}' not found.")
    with open(path, "rb") as fin:
        data = fin.read()
    if data.startswith(_UTF16_BOMS):
        raise _bad_bytes(path, 1, "UTF-16 text (a Windows 'Unicode' file)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    for lineno, raw in enumerate(lines, start=1):
        if b"\x00" in raw:
            raise _bad_bytes(
                path, lineno, "NUL bytes: a binary file, or UTF-16 text"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            byte = raw[err.start : err.start + 1].hex()
            raise _bad_bytes(
                path,
                lineno,
                f"not UTF-8 (byte 0x{byte} at column {err.start + 1}; "
                "Latin-1 or another legacy encoding?)",
            ) from None
        fields = _COMMENT.sub("", text).split()
        if fields:
            yield lineno, fields
