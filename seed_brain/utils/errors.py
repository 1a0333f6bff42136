"""How errors reach the user: one line for a mistake, a traceback for a bug.

Every entry point (``train.py``, ``recipes/*.py``, ``seed-brain``) runs its
``main`` through :func:`run_main`. An exception of :data:`USER_ERRORS` (a
file that is missing, unreadable, of the wrong kind, a setting out of
range, a full disk, an output folder that another run holds) is printed as
one line, ``<program>: error: <what, which file or setting, the fix>``,
and the exit status is 1. Any other exception is a bug and keeps its
traceback. ``--debug`` on the command line, or ``SEED_BRAIN_DEBUG=1`` in
the environment, shows the traceback of user errors too.

:func:`disk_space` turns "no space left" (``ENOSPC``, ``EDQUOT``) and "file
too large" (``EFBIG``, ``ulimit -f``) into a :class:`DiskFullError` that
names the folder and the space needed.

Authors
 * seed-brain developers 2026
"""

import contextlib
import errno
import logging
import os
import shutil
import sys

__all__ = [
    "DEBUG_ENV",
    "DiskFullError",
    "ModelFileError",
    "RunLockedError",
    "TextFormatError",
    "USER_ERRORS",
    "UserError",
    "debug_requested",
    "disk_space",
    "error_line",
    "run_main",
]

logger = logging.getLogger(__name__)

#: Environment variable that shows the traceback of user errors.
DEBUG_ENV = "SEED_BRAIN_DEBUG"

#: ``errno`` values of a write that found no room.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class UserError(Exception):
    """A mistake the user can fix; the message says what, where and how.

    Example
    -------
    >>> issubclass(ModelFileError, UserError)
    True
    """


class ModelFileError(UserError, RuntimeError):
    """A model folder or checkpoint file that is missing, truncated,
    corrupted or from another model.

    Example
    -------
    >>> isinstance(ModelFileError("x"), RuntimeError)
    True
    """


class TextFormatError(UserError, ValueError):
    """A text list (trial list, manifest) that is not readable text.

    Example
    -------
    >>> isinstance(TextFormatError("x"), ValueError)
    True
    """


class RunLockedError(UserError):
    """An output folder that a live run holds (see
    :mod:`seed_brain.utils.lock`).

    Example
    -------
    >>> str(RunLockedError("held"))
    'held'
    """


class DiskFullError(UserError, OSError):
    """A write that found no room; names the folder and the space needed.

    Example
    -------
    >>> err = DiskFullError(errno.ENOSPC, "no room in /x")
    >>> err.errno == errno.ENOSPC, str(err)
    (True, 'no room in /x')
    """

    def __str__(self):
        return self.strerror or super().__str__()


#: What :func:`run_main` reports as one line: :class:`UserError` and the
#: built-in types that the validation raises (missing or misplaced files,
#: values out of range; :class:`seed_brain.dataio.audio.AudioError` is a
#: ``ValueError``).
USER_ERRORS = (
    UserError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    ValueError,
)


def human_bytes(size):
    """``size`` in bytes as a short text (powers of 1024).

    Example
    -------
    >>> human_bytes(512), human_bytes(3 * 1024**2), human_bytes(None)
    ('512 B', '3.0 MiB', 'unknown')
    """
    if size is None:
        return "unknown"
    size = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def _free_bytes(folder):
    path = os.path.abspath(os.fspath(folder))
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def no_space_error(folder, err, needed=None, what="files", fix=None):
    """The :class:`DiskFullError` for a write into ``folder`` that failed.

    Arguments
    ---------
    folder : str or os.PathLike
        Folder being written.
    err : OSError
        The failed write (``ENOSPC``, ``EDQUOT`` or ``EFBIG``).
    needed : int or callable or None
        Bytes the whole job needs (a callable is called now).
    what : str
        What was being written (``"the embedding cache"``).
    fix : str or None
        Extra advice (e.g. the setting that moves the folder).

    Returns
    -------
    DiskFullError
        The error (raise it ``from err``).

    Example
    -------
    >>> err = OSError(errno.ENOSPC, "No space left on device")
    >>> text = str(no_space_error("/data/c", err, 2048, "conditions"))
    >>> print(text.split(": about")[0])
    No space left to write conditions in /data/c (No space left on device)
    >>> "about 2.0 KiB needed" in text, "rerun" in text
    (True, True)
    """
    if callable(needed):
        try:
            needed = needed()
        except Exception:  # an estimate must never hide the real error
            needed = None
    reason = err.strerror or str(err)
    if err.errno == errno.EFBIG:
        reason += ": over the file-size limit (ulimit -f) or the file system's"
    message = (
        f"No space left to write {what} in {os.fspath(folder)} ({reason}): "
        f"about {human_bytes(needed)} needed, "
        f"{human_bytes(_free_bytes(folder))} free. Free space there"
        + (f" or {fix}" if fix else "")
        + ", then rerun: what was finished is kept, nothing half-written "
        "is reused."
    )
    return DiskFullError(err.errno, message)


@contextlib.contextmanager
def disk_space(folder, needed=None, what="files", fix=None):
    """Turns a full disk inside the block into a :class:`DiskFullError`.

    An inner :class:`DiskFullError` is re-raised with this block's folder
    and estimate, which describe the whole job.

    Arguments
    ---------
    folder, needed, what, fix
        See :func:`no_space_error`.

    Example
    -------
    >>> with disk_space("/tmp/x", 10, "a file"):
    ...     raise OSError(errno.ENOSPC, "No space left on device")
    Traceback (most recent call last):
    ...
    seed_brain.utils.errors.DiskFullError: No space left to write a file in ...
    """
    try:
        yield
    except OSError as err:
        if err.errno not in NO_SPACE:
            raise
        raise no_space_error(folder, err, needed, what, fix) from err


def debug_requested(argv=()):
    """Whether tracebacks of user errors are wanted.

    True with ``--debug`` in ``argv`` or ``SEED_BRAIN_DEBUG`` set to
    anything but ``""``, ``0``, ``false`` or ``no``.

    Example
    -------
    >>> debug_requested(["--debug"])
    True
    """
    if "--debug" in list(argv):
        return True
    value = os.environ.get(DEBUG_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no")


def error_line(prog, err):
    """The one line reporting ``err``: ``<prog>: error: <message>``.

    Example
    -------
    >>> error_line("train.py", ValueError("bad\\n  value."))
    'train.py: error: bad value.'
    """
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{prog}: error: {text}"


def _end_process_group():
    """Destroys the distributed process group ``main`` left, if any.

    A gloo process that exits with its process group alive can abort
    (SIGABRT) while the interpreter shuts down: gloo's worker threads
    still hold tensors whose release needs the GIL. Nothing is imported
    here (a program that never loaded ``torch.distributed`` has no group,
    and an import at exit would print SpeechBrain's start-up lines after
    the program's one-line error).
    """
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def run_main(main, argv=None, prog=None, debug=None, strip_debug=False):
    """Runs ``main(argv)`` as a program; returns its exit status.

    Arguments
    ---------
    main : callable
        The program's ``main``; takes ``argv``. Its return value is the
        exit status when it is an int (None or anything else: 0).
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).
    prog : str or None
        Program name in messages (default: the script's name).
    debug : bool or None
        Show tracebacks of user errors; None: :func:`debug_requested`.
    strip_debug : bool
        Remove ``--debug`` from ``argv`` before calling ``main`` (for
        programs whose own parser does not know it; SpeechBrain's does).

    Returns
    -------
    int
        The status of ``main``; 1 after a user error (one line on
        stderr); 130 when interrupted. Other exceptions propagate.
        On every way out, a distributed process group ``main`` left
        (``torchrun``) is destroyed.

    Example
    -------
    >>> def main(argv):
    ...     raise FileNotFoundError(f"'{argv[0]}' not found: fix the path.")
    >>> run_main(main, ["x.txt"], prog="demo", debug=False)
    1
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or os.path.basename(sys.argv[0] or "seed-brain")
    if debug is None:
        debug = debug_requested(argv)
    if strip_debug:
        argv = [arg for arg in argv if arg != "--debug"]
    try:
        status = main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if debug:
            raise
        # The traceback goes to the log files only (SpeechBrain's log.txt
        # takes DEBUG records; its console handler does not).
        logger.debug("User error", exc_info=True)
        print(error_line(prog, err), file=sys.stderr, flush=True)
        return 1
    finally:
        _end_process_group()
    return status if isinstance(status, int) else 0
