"""One run per output folder: a lock file holding the process id.

``train.py`` takes ``<output_folder>/.lock`` before it writes anything
there. A second run started on the same folder while the first is alive
stops at once with a :class:`seed_brain.utils.errors.RunLockedError` naming the
holder (process id, host, command, start time). A lock left by a run that
was killed (its process is gone, or the id now belongs to another
process) is stale: it is taken over with a warning. The lock is released
when the run ends.

Under ``torchrun`` the processes of one run share the output folder: only
the main process (rank 0) takes the lock, before the others can write
anything (they wait for it at the first barrier).

Authors
 * seed-brain developers 2026
"""

import atexit
import json
import logging
import os
import socket
import sys
import time

from seed_brain.utils.errors import RunLockedError

__all__ = ["LOCK_NAME", "RunLock", "lock_output_folder"]

logger = logging.getLogger(__name__)

#: Name of the lock file inside the output folder.
LOCK_NAME = ".lock"


def _start_time(pid):
    """Start time of process ``pid`` (Linux ``/proc``), else None.

    Tells a live holder from a new process that reuses a dead one's id.
    """
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fin:
            stat = fin.read()
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid):
    """Whether a process ``pid`` exists on this machine."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except (OSError, ValueError, OverflowError):
        return False
    return True


class RunLock:
    """A lock file that one live process holds.

    Arguments
    ---------
    folder : str or os.PathLike
        Folder to lock (created if needed).
    name : str
        Lock file name.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder) as lock:
    ...     print(lock.read()["pid"] == os.getpid())
    True
    >>> os.path.exists(lock.path)  # released
    False
    >>> with open(lock.path, "w") as f:  # a live process (init) holds it
    ...     json.dump({"pid": 1, "host": socket.gethostname()}, f)
    >>> RunLock(folder).acquire()
    Traceback (most recent call last):
    ...
    seed_brain.utils.errors.RunLockedError: Output folder ... is in use by ...
    """

    def __init__(self, folder, name=LOCK_NAME):
        self.folder = os.path.abspath(os.fspath(folder))
        self.path = os.path.join(self.folder, name)
        self.held = False
        self.record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start_time": _start_time(os.getpid()),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(sys.argv),
        }

    def read(self):
        """The holder's record, or None (no lock, or unreadable)."""
        try:
            with open(self.path, encoding="utf-8") as fin:
                record = json.load(fin)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def is_live(self, record):
        """Whether the process of ``record`` still runs.

        A record from another host counts as live (its process cannot be
        checked from here); an unreadable record (a lock cut while it was
        written) as stale.
        """
        if not record or "pid" not in record:
            return False
        if record.get("host") != self.record["host"]:
            return True
        if not _alive(record["pid"]):
            return False
        recorded = record.get("start_time")
        now = _start_time(record["pid"])
        return recorded is None or now is None or recorded == now

    def _write(self, exclusive):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0)
        if not exclusive:
            tmp = f"{self.path}.tmp{os.getpid()}"
            fd = os.open(tmp, flags | os.O_TRUNC, 0o644)
        else:
            fd = os.open(self.path, flags, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fout:
                json.dump(self.record, fout)
        except BaseException:
            os.remove(self.path if exclusive else tmp)
            raise
        if not exclusive:
            os.replace(tmp, self.path)

    def _refuse(self, record):
        who = f"process {record.get('pid', '?')}"
        if record.get("host") != self.record["host"]:
            who += f" on host {record.get('host', '?')}"
        detail = ", ".join(
            f"{key} {record[key]!r}"
            for key in ("command", "started")
            if record.get(key)
        )
        raise RunLockedError(
            f"Output folder {self.folder} is in use by {who}"
            + (f" ({detail})" if detail else "")
            + f": lock file {self.path}. Wait for that run to finish, stop "
            f"it (kill {record.get('pid', 'PID')}), or choose another "
            "--output_folder. If no such run exists any more (e.g. on "
            "another machine), delete the lock file."
        )

    def acquire(self):
        """Takes the lock; raises :class:`RunLockedError` if a live run
        holds it. A stale lock is taken over with a warning.

        Returns
        -------
        RunLock
            ``self``.
        """
        os.makedirs(self.folder, exist_ok=True)
        for _ in range(3):
            try:
                self._write(exclusive=True)
            except FileExistsError:
                record = self.read()
                if record is None:
                    continue  # released meanwhile: try again
                if record.get("pid") == os.getpid() and (
                    record.get("host") == self.record["host"]
                ):
                    break  # ours already
                if self.is_live(record):
                    self._refuse(record)
                logger.warning(
                    "Taking over the stale lock %s of process %s (%s), "
                    "which no longer runs.",
                    self.path,
                    record.get("pid", "?"),
                    record.get("command", "unknown command"),
                )
                self._write(exclusive=False)
                # Two runs taking over at once: the last rename wins.
                if (self.read() or {}).get("pid") != os.getpid():
                    self._refuse(self.read() or {})
            break
        else:  # pragma: no cover - the file keeps appearing and vanishing
            raise RunLockedError(f"Cannot take the lock {self.path}.")
        self.held = True
        atexit.register(self.release)
        return self

    def release(self):
        """Removes the lock file if this process holds it."""
        if not self.held:
            return
        self.held = False
        record = self.read() or {}
        if record.get("pid") == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def lock_output_folder(folder):
    """Locks a run's output folder in the main process (rank 0).

    Arguments
    ---------
    folder : str or os.PathLike
        The run's ``output_folder``; the lock is the file ``.lock`` in it
        (pid, host, start time and command of the holder).

    Returns
    -------
    RunLock or None
        The held lock (released at exit); None in the other processes of
        a ``torchrun`` run, which share the main process's lock.

    Example
    -------
    >>> import tempfile
    >>> lock = lock_output_folder(tempfile.mkdtemp())
    >>> os.path.isfile(lock.path)
    True
    >>> lock.release()
    """
    rank = os.environ.get("RANK", "0") or "0"
    if rank != "0":
        return None
    return RunLock(folder).acquire()
