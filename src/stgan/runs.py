"""Run folders of ``stgan train``: one writer at a time, what a resume may change, which
checkpoint a resume starts from, and the loss curves.

A run folder holds ``config.toml``, ``checkpoints/``, ``samples/``, ``log.jsonl`` and, while a
process trains into it, ``run.lock``: a small JSON file with the PID, the host and the start
time of that process. :class:`RunLock` creates it (and, on POSIX, keeps an advisory ``flock``
on it, which the kernel drops when the process dies), refuses a second writer, takes over the
lock of a dead process on this host and deletes the file when the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from stgan.errors import UserError

try:  # POSIX advisory locks; elsewhere the PID in the file is the only evidence
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

LOCK_NAME = "run.lock"
# fields a resumed run may change: how data is fed, not what is learned
RESUMABLE_DATA_FIELDS = ("num_workers", "cache", "cache_dir")


def check_same_run(cfg, saved, path: str | Path) -> None:
    """A resumed run must keep the model and the data of its checkpoint.

    Raises:
        UserError: naming the first ``model.*`` or ``data.*`` field that differs (the data
            fields of :data:`RESUMABLE_DATA_FIELDS` may change).
    """
    for section in ("model", "data"):
        a, b = getattr(saved, section), getattr(cfg, section)
        for key in a.__dataclass_fields__:
            if section == "data" and key in RESUMABLE_DATA_FIELDS:
                continue
            if getattr(a, key) != getattr(b, key):
                raise UserError(
                    f"checkpoint {path} was trained with {section}.{key}="
                    f"{getattr(a, key)!r}, this run asks for {getattr(b, key)!r}; resume with "
                    "the run's own config or start a new --out"
                )


def plot_losses(run_dir: str | Path) -> bool:
    """Write ``RUN/losses.png`` from ``RUN/log.jsonl``; False without a log or matplotlib."""
    from stgan.plots import loss_curves
    from stgan.scalars import read_log

    log = Path(run_dir) / "log.jsonl"
    return log.is_file() and loss_curves(Path(run_dir) / "losses.png", read_log(log))


# --------------------------------------------------------------------------------------------
# one writer per run folder
def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (a zombie counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:  # pragma: no cover - e.g. Windows without the process
        return False
    return True


def read_lock(path: str | Path) -> dict[str, Any] | None:
    """The holder recorded in a lock file, or None if it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process"
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
    return f"process {holder.get('pid')} on {holder.get('host')} (since {when})"


class RunLock:
    """The lock file of a run folder, held from :meth:`acquire` to :meth:`release`.

    Use as a context manager::

        with RunLock(run_dir) as lock:
            ...  # lock.took_over: the holder of a stale lock this replaced, or None

    Raises (on acquire):
        UserError: a live process holds the lock (this host, or another host: its PID cannot
            be checked from here, so the message says how to remove the file if it is stale).
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.took_over: dict[str, Any] | None = None
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # the file may be replaced under us by a releasing holder
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not self._flock(fd):
                    raise self._refusal(read_lock(self.path))
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # released and unlinked between our open and our flock
                    os.close(fd)
                    continue
                holder = read_lock(self.path)
                if holder and holder.get("pid") != os.getpid():
                    if holder.get("host") != socket.gethostname() or pid_alive(
                        int(holder.get("pid", -1))
                    ):
                        raise self._refusal(holder)
                    self.took_over = holder  # its process is gone: a stale lock
                self._write(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return
        raise UserError(f"could not lock {self.path}: it keeps changing; try again")

    def release(self) -> None:
        """Delete the lock file (while still holding it) and close it."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if read_lock(self.path) == self._record:
                self.path.unlink()
        os.close(self._fd)  # also drops the flock
        self._fd = None

    @staticmethod
    def _flock(fd: int) -> bool:
        if fcntl is None:  # pragma: no cover
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _write(self, fd: int) -> None:
        self._record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        data = (json.dumps(self._record) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _refusal(self, holder: dict[str, Any] | None) -> UserError:
        remote = holder and holder.get("host") != socket.gethostname()
        return UserError(
            f"run folder {self.path.parent} is in use by {_describe(holder)}; wait for it to "
            "finish or choose another --out"
            + (f" (if that process is gone, delete {self.path})" if remote else "")
        )
