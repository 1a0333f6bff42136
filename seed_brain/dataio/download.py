"""Resumable downloads and idempotent extraction of public corpora.

:func:`download` fetches one URL to a file:

* **Resume.** Bytes go to ``<dest>.part``; when a previous attempt left
  one, the transfer continues with an HTTP ``Range: bytes=<size>-``
  request (a server that ignores ranges answers 200 and the file is
  fetched again from the start). A connection that breaks mid-transfer is
  retried ``retries`` times, each retry resuming where the last one
  stopped.
* **Checksum** when one is published: ``"md5:<hex>"``, ``"sha256:<hex>"``
  (a bare 32-digit hex string is MD5, a 64-digit one SHA-256). A mismatch
  raises :class:`ChecksumError` and leaves nothing under ``dest`` (the bad
  bytes are removed), so the next run starts over.
* **Idempotent.** A finished download records its size, modification time
  and checksum in ``<dest>.done``; a later call with the same URL finds it
  and returns at once, without hashing a 30 GB archive again.

:func:`extract` unpacks a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip``
archive into a folder (refusing members that would land outside it) and
records it in a marker file, so that a second call does nothing.

Only the Python standard library is used (``urllib``), so the module works
wherever the recipe does.

Authors
 * seed-brain developers 2026
"""

import hashlib
import http.client
import logging
import os
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.request
import zipfile

from seed_brain.utils.errors import UserError
from seed_brain.utils.files import read_json, write_json

__all__ = [
    "ChecksumError",
    "DownloadError",
    "download",
    "extract",
    "file_checksum",
    "parse_checksum",
]

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "seed-brain-downloader/0.1"


class DownloadError(UserError, OSError):
    """A download failed (network, HTTP status, size); the message says
    what to do.

    Example
    -------
    >>> isinstance(DownloadError("x"), OSError)
    True
    """


class ChecksumError(ValueError):
    """A downloaded file does not have its published checksum.

    Example
    -------
    >>> isinstance(ChecksumError("x"), ValueError)
    True
    """


def parse_checksum(checksum):
    """Splits a checksum spec into ``(algorithm, lowercase hex)``.

    Arguments
    ---------
    checksum : str or None
        ``"md5:<hex>"``, ``"sha256:<hex>"``, ``"sha1:<hex>"`` or a bare hex
        digest (32 digits: MD5, 40: SHA-1, 64: SHA-256).

    Returns
    -------
    tuple or None
        ``(algorithm, hexdigest)``; None when ``checksum`` is None or empty.

    Example
    -------
    >>> parse_checksum("SHA256:" + "A" * 64)[0]
    'sha256'
    >>> parse_checksum("0" * 32)
    ('md5', '00000000000000000000000000000000')
    >>> parse_checksum(None) is None
    True
    """
    if not checksum:
        return None
    text = str(checksum).strip()
    if ":" in text:
        algo, digest = text.split(":", 1)
        algo = algo.strip().lower()
    else:
        algo, digest = None, text
    digest = digest.strip().lower()
    if algo is None:
        algo = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(digest))
        if algo is None:
            raise ValueError(
                f"Cannot tell the algorithm of checksum {checksum!r}: write "
                "it as 'md5:<hex>' or 'sha256:<hex>'."
            )
    if algo not in ("md5", "sha1", "sha256", "sha512"):
        raise ValueError(
            f"Unsupported checksum algorithm {algo!r} in {checksum!r} "
            "(md5, sha1, sha256 or sha512)."
        )
    try:
        int(digest, 16)
    except ValueError:
        raise ValueError(f"Checksum {checksum!r} is not hexadecimal.") from None
    return algo, digest


def file_checksum(path, algorithm="sha256"):
    """Hex digest of a file, read in 1 MiB blocks.

    Arguments
    ---------
    path : str or os.PathLike
        The file to hash.
    algorithm : str
        A ``hashlib`` algorithm name.

    Returns
    -------
    str
        Lowercase hex digest.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "f")
    >>> _ = open(path, "wb").write(b"abc")
    >>> file_checksum(path, "md5")
    '900150983cd24fb0d6963f7d28e17f72'
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fin:
        for block in iter(lambda: fin.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path):
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _content_range_total(value):
    """Total size from a ``Content-Range`` header (None if unknown)."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _open(url, start, timeout):
    """Opens the URL from byte ``start``; returns (response, offset, total).

    ``offset`` is where the response body starts in the file (``start`` for
    a 206 answer, 0 for a 200 answer); ``total`` the full size when known.
    A 416 answer (the range starts at or past the end) returns
    ``(None, start, total)``.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start > 0:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start > 0:
            total = _content_range_total(err.headers.get("Content-Range"))
            err.close()
            return None, start, total
        raise
    status = response.status
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if status == 206:
        total = _content_range_total(response.headers.get("Content-Range"))
        first = response.headers.get("Content-Range", "")
        first = first.split()[-1].split("-")[0] if first else ""
        if first.isdigit() and int(first) != start:
            response.close()
            raise DownloadError(
                f"{url}: asked for bytes from {start}, the server sent a "
                f"range starting at {first}."
            )
        if total is None and length is not None:
            total = start + length
        return response, start, total
    return response, 0, length


def download(
    url,
    dest,
    checksum=None,
    retries=5,
    timeout=60.0,
    retry_wait=2.0,
    progress=True,
):
    """Downloads ``url`` to ``dest``, resuming and verifying; idempotent.

    Arguments
    ---------
    url : str
        ``http://``, ``https://`` or ``file://`` URL.
    dest : str or os.PathLike
        Destination file (its folder is created).
    checksum : str or None
        Published checksum (see :func:`parse_checksum`); None skips the
        check (the size announced by the server is still checked).
    retries : int
        How many times a broken or timed-out transfer is resumed before
        giving up (the ``.part`` file stays, so a later call resumes too).
        A server that cannot be reached at all fails at once.
    timeout : float
        Socket timeout in seconds.
    retry_wait : float
        Seconds before the first retry (doubled each time, at most 60).
    progress : bool
        Log progress every 10 % (and at the end).

    Returns
    -------
    str
        ``dest``.

    Raises
    ------
    DownloadError
        The server could not be reached or kept failing, or answered with
        an HTTP error. The message names the URL and how to place the file
        by hand.
    ChecksumError
        The finished file does not have the published checksum.

    Example
    -------
    >>> import os, tempfile, pathlib
    >>> root = tempfile.mkdtemp()
    >>> source = os.path.join(root, "source.bin")
    >>> _ = open(source, "wb").write(b"hello")
    >>> url = pathlib.Path(source).as_uri()
    >>> dest = os.path.join(root, "copy.bin")
    >>> _ = download(url, dest, checksum="md5:5d41402abc4b2a76b9719d911017c592")
    >>> open(dest, "rb").read()
    b'hello'
    >>> download(url, dest) == dest  # recorded as done: nothing to do
    True
    """
    dest = os.fspath(dest)
    spec = parse_checksum(checksum)
    done_path = dest + ".done"
    part = dest + ".part"
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)

    record = read_json(done_path)
    if os.path.isfile(dest):
        if (
            record is not None
            and record.get("url") == url
            and record.get("stamp") == _stamp(dest)
            and (spec is None or record.get("checksum") == list(spec))
        ):
            logger.info("%s is already downloaded; nothing to do.", dest)
            return dest
        if spec is not None and file_checksum(dest, spec[0]) == spec[1]:
            write_json(
                done_path,
                {"url": url, "stamp": _stamp(dest), "checksum": list(spec)},
            )
            logger.info("%s is present with the right checksum.", dest)
            return dest
        if spec is None and record is None:
            # A file placed by hand (no record, nothing to check against).
            logger.info(
                "%s exists (placed by hand?); keeping it. Delete it to "
                "download again.",
                dest,
            )
            return dest
        logger.info("%s is out of date; downloading it again.", dest)
        os.remove(dest)

    attempt, wait = 0, retry_wait
    while True:
        start = os.path.getsize(part) if os.path.exists(part) else 0
        try:
            total = _fetch_into(url, part, start, timeout, progress)
            break
        except urllib.error.HTTPError as err:
            raise DownloadError(
                f"Downloading {url} failed: HTTP {err.code} {err.reason}. "
                f"Check the URL, or download the file by other means and "
                f"place it at {dest}."
            ) from err
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            ConnectionError,
            socket.timeout,
            TimeoutError,
            _ShortRead,
        ) as err:
            have = os.path.getsize(part) if os.path.exists(part) else 0
            # A server that cannot be reached at all (no route, refused,
            # unknown host) is not retried: offline, waiting cannot help.
            unreachable = isinstance(err, urllib.error.URLError) and not (
                isinstance(err.reason, (socket.timeout, TimeoutError))
            )
            if attempt >= retries or unreachable:
                raise DownloadError(
                    f"Downloading {url} failed after {attempt + 1} "
                    f"attempt(s): {err}. {have} bytes are kept in {part}; "
                    "run the same command again to resume, or download the "
                    f"file by other means and place it at {dest}. Offline? "
                    "Point the recipe at a local copy instead."
                ) from err
            attempt += 1
            logger.warning(
                "Download of %s interrupted at %d bytes (%s); resuming in "
                "%.0f s (retry %d of %d).",
                url,
                have,
                err,
                wait,
                attempt,
                retries,
            )
            time.sleep(wait)
            wait = min(2 * wait, 60.0)

    size = os.path.getsize(part)
    if total is not None and size != total:
        raise DownloadError(
            f"{url}: got {size} bytes, the server announced {total}. "
            f"Delete {part} and run again."
        )
    if spec is not None:
        got = file_checksum(part, spec[0])
        if got != spec[1]:
            os.remove(part)
            raise ChecksumError(
                f"{url}: {spec[0]} checksum of the downloaded file is {got}, "
                f"the published one is {spec[1]}. The corrupt download was "
                "deleted; run again to fetch it anew (or check the checksum "
                "in the configuration)."
            )
    os.replace(part, dest)
    write_json(
        done_path,
        {
            "url": url,
            "stamp": _stamp(dest),
            "checksum": list(spec) if spec else None,
        },
    )
    logger.info("Downloaded %s (%d bytes) to %s.", url, size, dest)
    return dest


class _ShortRead(OSError):
    """The connection closed before the announced end of the body."""


def _fetch_into(url, part, start, timeout, progress):
    """One transfer into ``part`` from byte ``start``; returns the total."""
    response, offset, total = _open(url, start, timeout)
    if response is None:  # 416: the part file already holds everything
        if total is not None and start != total:
            raise DownloadError(
                f"{url}: the server refuses a range from byte {start} but "
                f"the file has {total} bytes. Delete {part} and run again."
            )
        return total
    mode = "ab" if offset > 0 else "wb"
    if offset == 0 and start > 0:
        logger.info(
            "%s does not support resuming (no HTTP range); starting over.",
            url,
        )
    written = offset
    step = max(total // 10, 1) if total else None
    next_report = offset + step if step else None
    with response, open(part, mode) as fout:
        while True:
            try:
                block = response.read(CHUNK)
            except http.client.IncompleteRead as err:
                fout.write(err.partial)
                raise _ShortRead(
                    f"connection closed at byte {written + len(err.partial)}"
                ) from err
            if not block:
                break
            fout.write(block)
            written += len(block)
            if progress and next_report and written >= next_report:
                logger.info(
                    "%s: %.0f %% (%d of %d bytes)",
                    os.path.basename(part[: -len(".part")]),
                    100.0 * written / total,
                    written,
                    total,
                )
                next_report += step
    if total is not None and written < total:
        raise _ShortRead(f"connection closed at byte {written} of {total}")
    return total


def _safe_members_tar(archive, out_folder):
    root = os.path.realpath(out_folder)
    for member in archive.getmembers():
        target = os.path.realpath(os.path.join(out_folder, member.name))
        if os.path.commonpath([root, target]) != root:
            raise ValueError(
                f"Archive member {member.name!r} would be written outside "
                f"{out_folder}; refusing to extract this archive."
            )
    return archive.getmembers()


def extract(archive, out_folder, marker=None):
    """Unpacks a tar/tar.gz/zip archive into ``out_folder`` once.

    Members whose path would leave ``out_folder`` are refused. A marker
    file (default ``out_folder/.extracted_<archive name>``) records the
    archive's size and modification time; while it matches, a second call
    does nothing. Extraction happens in a temporary sibling folder that is
    merged into ``out_folder`` at the end, so an interrupted run leaves no
    half-extracted tree behind (the next run starts again).

    Arguments
    ---------
    archive : str or os.PathLike
        ``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz`` or
        ``.zip`` file.
    out_folder : str or os.PathLike
        Destination folder (created).
    marker : str or None
        Marker file path (see above).

    Returns
    -------
    bool
        True when something was extracted, False when it was already done.

    Example
    -------
    >>> import io, os, tarfile, tempfile
    >>> root = tempfile.mkdtemp()
    >>> path = os.path.join(root, "a.tar.gz")
    >>> with tarfile.open(path, "w:gz") as tar:
    ...     info = tarfile.TarInfo("corpus/x.txt"); info.size = 2
    ...     tar.addfile(info, io.BytesIO(b"hi"))
    >>> extract(path, os.path.join(root, "out"))
    True
    >>> open(os.path.join(root, "out", "corpus", "x.txt")).read()
    'hi'
    >>> extract(path, os.path.join(root, "out"))
    False
    """
    archive = os.fspath(archive)
    out_folder = os.fspath(out_folder)
    if marker is None:
        marker = os.path.join(
            out_folder, f".extracted_{os.path.basename(archive)}"
        )
    stamp = _stamp(archive)
    record = read_json(marker)
    if record is not None and record.get("stamp") == stamp:
        logger.info("%s is already extracted in %s.", archive, out_folder)
        return False
    os.makedirs(out_folder, exist_ok=True)
    tmp = os.path.join(out_folder, f".extracting_{os.path.basename(archive)}")
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    logger.info("Extracting %s into %s ...", archive, out_folder)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            root = os.path.realpath(tmp)
            for name in zf.namelist():
                target = os.path.realpath(os.path.join(tmp, name))
                if os.path.commonpath([root, target]) != root:
                    raise ValueError(
                        f"Archive member {name!r} would be written outside "
                        f"{out_folder}; refusing to extract this archive."
                    )
            zf.extractall(tmp)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            members = _safe_members_tar(tar, tmp)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(tmp, members=members)
    else:
        shutil.rmtree(tmp)
        raise ValueError(
            f"{archive} is neither a tar nor a zip archive (truncated "
            "download?). Delete it and its .done file and run again."
        )
    _merge_tree(tmp, out_folder)
    shutil.rmtree(tmp)
    write_json(marker, {"archive": os.path.abspath(archive), "stamp": stamp})
    return True


def _merge_tree(src, dst):
    """Moves the content of ``src`` into ``dst`` (replacing files)."""
    for name in os.listdir(src):
        source = os.path.join(src, name)
        target = os.path.join(dst, name)
        if os.path.isdir(source) and not os.path.islink(source):
            if os.path.isdir(target) and not os.path.islink(target):
                _merge_tree(source, target)
                continue
            if os.path.lexists(target):
                os.remove(target)
            os.replace(source, target)
        else:
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            os.replace(source, target)
