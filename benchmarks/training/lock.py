"""One train_dir, one writer.  A training run holds a lock file in
--train_dir naming it (pid, host, the process's start time); a second run
training into the same folder refuses at start, naming the first.  A lock
whose process is gone (on this host) is stale: it is reported on one line
and taken over.  Only the chief of a multi-worker run takes the lock (the
other workers write nowhere in train_dir); evaluation-only runs take none.

The lock appears whole or not at all: its text is written to a private
temporary file first and then hard-linked to the lock's name, which, like
O_EXCL, fails when the name exists (where a file system has no hard links,
the lock is made with O_EXCL itself).
"""

import atexit
import json
import os
import socket
import time

from benchmarks.errors import UsageError

LOCK_FILE = "vggbench.lock"

_HELD = []  # this process's locks: released at exit, and by release_all()


def _process_start(pid):
    """The process's start time in clock ticks since boot (Linux), so a pid
    reused by another program is not taken for the run; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _me():
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "process_start": _process_start(os.getpid()),
            "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def _create(path, holder):
    """Makes the lock file holding ``holder``; False if it exists."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(holder, f)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: O_EXCL instead
        return _create_exclusive(path, holder)
    finally:
        os.remove(tmp)


def _create_exclusive(path, holder):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(holder, f)
    return True


def _read(path):
    """The lock's holder, or None when the file is unreadable or garbled."""
    try:
        with open(path) as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) and "pid" in holder else None
    except (OSError, ValueError):
        return None


def stale_reason(holder):
    """Why the lock of ``holder`` is stale, or None while its run may live."""
    if holder is None:
        return "it names no run (unreadable)"
    pid, host = holder.get("pid"), holder.get("host")
    if host != socket.gethostname():
        return None  # another host's process cannot be checked from here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return f"pid {pid} on {host} is gone"
    except PermissionError:
        pass  # alive, another user's
    start = holder.get("process_start")
    if start is not None and _process_start(pid) not in (None, start):
        return f"pid {pid} on {host} is now another process"
    return None


class TrainDirLock:
    """``with TrainDirLock(train_dir, note):`` holds train_dir's lock;
    UsageError (exit 2) when a live run holds it.  ``note`` gets the line
    about a stale lock taken over."""

    def __init__(self, train_dir, note=print):
        self.path = os.path.join(train_dir, LOCK_FILE)
        self.train_dir = train_dir
        self.note = note

    def __enter__(self):
        me = _me()
        for _ in range(2):  # a stale lock is removed once, then retried
            if _create(self.path, me):
                _HELD.append(self.path)
                return self
            holder = _read(self.path)
            reason = stale_reason(holder)
            if reason is None:
                raise UsageError(
                    f"--train_dir={self.train_dir} is being trained into by "
                    f"another run (pid {holder.get('pid')} on "
                    f"{holder.get('host')}, since {holder.get('since')}); "
                    "wait for it to end or give another --train_dir (if that "
                    f"run is gone, remove {self.path})")
            self.note(f"Taking over the stale lock {self.path}: {reason}")
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass  # another run removed it first; the retry decides
        raise UsageError(f"--train_dir={self.train_dir}: another run took its "
                         "lock at the same moment; give another --train_dir")

    def __exit__(self, *exc):
        release(self.path)
        return False


def release(path):
    """Removes the lock at ``path`` if this process holds it."""
    if path in _HELD:
        _HELD.remove(path)
        holder = _read(path)
        if holder and holder.get("pid") == os.getpid():
            os.remove(path)


@atexit.register
def release_all():
    """Every lock this process holds (also called before an os._exit)."""
    for path in list(_HELD):
        release(path)
