"""The run lock: one `once` or `run` at a time per journal (exit 3 when held)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.errors import LockHeldError

__all__ = ["RunLock"]

log = get_logger(__name__)


class RunLock:
    """One `once` or `run` at a time: `with RunLock(path):`, LockHeldError (exit 3) if held.

    Held with `fcntl.flock` on a file that also holds the owner's pid. The kernel drops a
    flock when its process dies, however it dies, so a lock file left by a SIGKILLed run
    is recognised as stale without trusting pids (they are reused); the pid is for the
    operator's message. A stale file is taken over, and the log says so. Keep the lock
    file on a local disk (flock over NFS/SMB is unreliable), next to the journal.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockHeldError naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                raise LockHeldError(
                    f"another run holds the lock (pid {holder or 'unknown'})",
                    file=str(self.path),
                    hint="wait for it to finish; the lock goes away with its process",
                ) from None
            try:
                same = os.fstat(fd).st_ino == self.path.stat().st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            # The holder released and removed it between our open and flock: the file we
            # locked is no longer in the folder. Try again on the current one.
            os.close(fd)
        previous = _read_pid(fd)
        if previous is not None and previous != os.getpid():
            log.warning(
                "taking over a stale run lock (its process is gone)",
                extra=fields(lock=str(self.path), stale_pid=previous),
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file, then drop the lock."""
        if self._fd is None:
            return
        # Unlink while still holding it, so no one locks a file we are about to delete.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    raw = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(raw) if raw.isdigit() else None
