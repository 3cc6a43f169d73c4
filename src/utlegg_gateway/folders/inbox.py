"""Inbox: discovery, readiness and claiming of dropped files; archive, failed and retention.

The periodic listing in `InboxScanner.scan()` is the truth. `InboxWatcher` (watchdog) only
wakes the loop early; it may miss events, die with a network share, or storm, and
nothing depends on it. Readiness (docs/architecture.md "Inbox readiness"), in order:

1. the name is a data file (`include_patterns`) and not a temp/hidden name
   (`ignore_patterns`, case-insensitive);
2. a marker `NAME<suffix>` exists when `marker_suffixes` is set;
3. non-empty unless `allow_empty` (a file empty for `empty_file_max_age_seconds` is
   claimed and answered as failed; one over `max_file_bytes` at once);
4. size *and* mtime unchanged for `stable_seconds` of the injected clock, seen by at
   least two scans (one scan proves nothing about a writer still at work; with
   `stable_seconds: 0` the first sight is enough);
5. mtime at least `min_age_seconds` old.

A ready file is claimed by one atomic `rename` into the inbox's work folder, which must
be on the same file system (never copy + delete). Symbolic links are never followed: a
link is reported as a `ReadyFile` with `problem` set, so the caller can claim the link
itself (rename does not follow it) and answer it with an error report.

A vanished or unreadable inbox folder (unmounted share) is reported in `health` and
retried on the next scan; it never raises. The archive/failed moves and the retention
purge live in `archive.py` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from watchdog.observers.api import BaseObserver

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings, ReadinessSettings
from utlegg_gateway.errors import InboxError
from utlegg_gateway.folders.archive import archive_file, move_file, move_to_failed, purge_archive

__all__ = [
    "InboxHealth",
    "InboxScanner",
    "InboxWatcher",
    "ReadinessPolicy",
    "ReadyFile",
    "archive_file",
    "matches_any",
    "move_file",
    "move_to_failed",
    "purge_archive",
]

log = get_logger(__name__)

Clock = Callable[[], datetime]


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive glob match of a bare file name against any pattern."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


@dataclass(frozen=True, slots=True)
class ReadinessPolicy:
    """When a dropped file counts as finished; see the module docstring."""

    ignore_patterns: tuple[str, ...] = ReadinessSettings().ignore_patterns
    marker_suffixes: tuple[str, ...] = ()
    stable_seconds: float = 10.0
    min_age_seconds: float = 0.0
    allow_empty: bool = False
    empty_file_max_age_seconds: float = 3600.0
    max_file_bytes: int = 1024**3

    @classmethod
    def from_settings(cls, settings: ReadinessSettings) -> ReadinessPolicy:
        """The policy of an inbox's `readiness` settings."""
        return cls(
            ignore_patterns=tuple(settings.ignore_patterns),
            marker_suffixes=tuple(settings.marker_suffixes),
            stable_seconds=settings.stable_seconds,
            min_age_seconds=settings.min_age_seconds,
            allow_empty=settings.allow_empty,
            empty_file_max_age_seconds=settings.empty_file_max_age_seconds,
            max_file_bytes=settings.max_file_bytes,
        )

    def is_ignored(self, name: str) -> bool:
        """True for temp names, hidden files and marker files themselves."""
        if matches_any(name, self.ignore_patterns):
            return True
        return any(name.lower().endswith(s.lower()) for s in self.marker_suffixes)


@dataclass(frozen=True, slots=True)
class ReadyFile:
    """A file the scan found ready to claim (`problem` set: claim it, then report it)."""

    inbox: str
    path: Path
    size: int
    mtime_ns: int
    marker: Path | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        """The file's name in the inbox."""
        return self.path.name


@dataclass
class InboxHealth:
    """What the last scans saw, for /health and metrics."""

    folder_present: bool = True
    last_successful_scan: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    waiting: int = 0  # data files seen but not (yet) ready
    # Those files by name, each with what it waits for ("to stay unchanged for 10 s").
    waiting_for: dict[str, str] = field(default_factory=dict)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: datetime  # when this (size, mtime) was first observed


class InboxScanner:
    """Lists one inbox, decides readiness, claims by atomic rename into `work`.

    `work` is this inbox's own work folder (e.g. `<folders.work>/<inbox name>`). The
    scanner keeps (size, mtime, since) observations in memory only: after a restart a
    file simply has to be seen stable once more, which is safe.
    """

    def __init__(
        self,
        inbox: InboxSettings,
        *,
        work: Path,
        clock: Clock,
        policy: ReadinessPolicy | None = None,
    ) -> None:
        self.name = inbox.name
        self.path = inbox.path
        self.work = work
        self.include_patterns = tuple(inbox.include_patterns)
        self.policy = policy or ReadinessPolicy.from_settings(inbox.readiness)
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self.health = InboxHealth()

    def is_data_file(self, name: str) -> bool:
        """True when `name` is a data file of this inbox (not ignored, matches include)."""
        return not self.policy.is_ignored(name) and matches_any(name, self.include_patterns)

    def pending_count(self) -> int:
        """Data files the last scan saw that are not ready yet."""
        return self.health.waiting

    def scan(self) -> list[ReadyFile]:
        """Files ready to claim, oldest mtime first; never raises for folder trouble."""
        now = self._clock()
        try:
            entries = self._list()
        except OSError as exc:
            self._unhealthy(exc)
            return []
        ready: list[ReadyFile] = []
        waiting = 0
        waiting_for: dict[str, str] = {}
        present: set[str] = set()
        for entry_name, st in entries:
            present.add(entry_name)
            if self.policy.is_ignored(entry_name):
                continue
            data = matches_any(entry_name, self.include_patterns)
            if stat.S_ISLNK(st.st_mode):
                if data:
                    ready.append(
                        ReadyFile(
                            self.name,
                            self.path / entry_name,
                            0,
                            st.st_mtime_ns,
                            problem="a symbolic link is never followed; drop the file itself",
                        )
                    )
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            # Attachments are observed too, so `stable_file()` can answer for them later.
            stable = self._observe(entry_name, st, now)
            if not data:
                continue
            verdict = self._verdict(entry_name, st, stable=stable, now=now)
            if verdict is None:
                waiting += 1
                waiting_for[entry_name] = self._wait_reason(entry_name, st, stable=stable)
            else:
                ready.append(verdict)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        self.health.waiting = waiting
        self.health.waiting_for = waiting_for
        self._healthy(now)
        ready.sort(key=lambda r: (r.mtime_ns, r.name))
        return ready

    def _list(self) -> list[tuple[str, os.stat_result]]:
        out: list[tuple[str, os.stat_result]] = []
        with os.scandir(self.path) as it:
            for entry in it:
                try:
                    out.append((entry.name, entry.stat(follow_symlinks=False)))
                except OSError:
                    continue  # vanished or locked between listing and stat: not ready
        return out

    def _observe(self, name: str, st: os.stat_result, now: datetime) -> bool:
        seen = self._seen.get(name)
        if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
            self._seen[name] = _Seen(st.st_size, st.st_mtime_ns, now)
            # First sight of this (size, mtime) proves nothing, unless no window is asked.
            return self.policy.stable_seconds <= 0
        return (now - seen.since).total_seconds() >= self.policy.stable_seconds

    def _verdict(
        self, name: str, st: os.stat_result, *, stable: bool, now: datetime
    ) -> ReadyFile | None:
        if st.st_size > self.policy.max_file_bytes:
            # Refused before it is read, whatever its readiness: claimed and reported.
            return self._refused(
                name,
                st,
                f"the file has {st.st_size} bytes, more than inboxes[].readiness."
                f"max_file_bytes ({self.policy.max_file_bytes})",
            )
        if not stable:
            return None
        if st.st_size == 0 and not self.policy.allow_empty:
            seen = self._seen.get(name)
            age = 0.0 if seen is None else (now - seen.since).total_seconds()
            if age < self.policy.empty_file_max_age_seconds:
                return None  # may still be filled (a writer that creates first)
            return self._refused(
                name,
                st,
                f"the file has been empty (0 bytes) for {age:.0f} s; an export is never "
                "empty: drop it again with its content",
            )
        # Checked only when asked for: a share's clock running ahead gives negative ages.
        age = now.timestamp() - st.st_mtime_ns / 1e9
        if self.policy.min_age_seconds > 0 and age < self.policy.min_age_seconds:
            return None
        marker = None
        if self.policy.marker_suffixes:
            marker = next(
                (
                    self.path / f"{name}{suffix}"
                    for suffix in self.policy.marker_suffixes
                    if _is_file(self.path / f"{name}{suffix}")
                ),
                None,
            )
            if marker is None:
                return None
        return ReadyFile(self.name, self.path / name, st.st_size, st.st_mtime_ns, marker=marker)

    def _wait_reason(self, name: str, st: os.stat_result, *, stable: bool) -> str:
        """What a file `_verdict` held back waits for, in the order `_verdict` checks."""
        if not stable:
            return f"to stay unchanged for {self.policy.stable_seconds:g} s"
        if st.st_size == 0 and not self.policy.allow_empty:
            return "to get its content (it is empty)"
        if self.policy.min_age_seconds > 0:
            age = self._clock().timestamp() - st.st_mtime_ns / 1e9
            if age < self.policy.min_age_seconds:
                return f"to be {self.policy.min_age_seconds:g} s old"
        return "for its marker file (" + ", ".join(self.policy.marker_suffixes) + ")"

    def _refused(self, name: str, st: os.stat_result, problem: str) -> ReadyFile:
        return ReadyFile(self.name, self.path / name, st.st_size, st.st_mtime_ns, problem=problem)

    def stable_file(self, path: Path, st: os.stat_result) -> bool:
        """True when `path` (stat `st`) is in this inbox and unchanged since the scans saw it
        for `stable_seconds`; an attachment's readiness, by the data files' rule."""
        if path.parent != self.path:
            return False
        seen = self._seen.get(path.name)
        return (
            seen is not None
            and (seen.size, seen.mtime_ns) == (st.st_size, st.st_mtime_ns)
            and (self._clock() - seen.since).total_seconds() >= self.policy.stable_seconds
        )

    def claim(self, ready: ReadyFile) -> Path | None:
        """Move a ready file into `work` by one atomic rename; its marker goes along.

        Returns the new path, or None when the file vanished or changed since the scan
        (it is then looked at again by later scans) or a file of that name is still in
        work (it waits, so names in the outbox stay the legacy system's names).
        Raises InboxError when work is on another file system (never copies).
        """
        source = ready.path
        target = self.work / ready.name
        try:
            st = source.lstat()
        except FileNotFoundError:
            self._seen.pop(ready.name, None)
            return None
        except OSError as exc:
            log.warning("cannot stat a ready file", extra=fields(file=ready.name, error=str(exc)))
            return None
        if ready.problem is None and (st.st_size, st.st_mtime_ns) != (ready.size, ready.mtime_ns):
            self._seen.pop(ready.name, None)
            return None  # changed after the scan: a writer is still at work
        try:
            self.work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InboxError(
                f"cannot create the work folder: {exc.strerror}", file=str(self.work)
            ) from exc
        if target.exists() or target.is_symlink():
            log.info(
                "a file of this name is still in work; claiming later",
                extra=fields(file=ready.name, inbox=self.name),
            )
            return None
        try:
            source.rename(target)
        except FileNotFoundError:
            self._seen.pop(ready.name, None)
            return None
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise InboxError(
                    "the work folder is on another file system than the inbox",
                    file=str(source),
                    hint=f"set inboxes[{self.name}].work to a folder on the inbox's file system",
                ) from exc
            log.warning("claim failed", extra=fields(file=ready.name, error=str(exc)))
            return None
        self._seen.pop(ready.name, None)
        if ready.marker is not None:
            with contextlib.suppress(OSError):  # the data file is claimed; the marker is a hint
                ready.marker.rename(self.work / ready.marker.name)
        return target

    def _unhealthy(self, exc: OSError) -> None:
        try:
            present = self.path.is_dir()
        except OSError:  # a dead share (EIO, ESTALE) fails every call, this one too
            present = False
        message = (
            f"inbox folder {self.path} is missing (unmounted share?)"
            if not present
            else f"cannot list inbox folder {self.path}: {exc.strerror or exc}"
        )
        if self.health.last_error != message:
            log.warning("inbox unavailable", extra=fields(inbox=self.name, error=message))
        self.health.folder_present = present
        self.health.last_error = message
        self.health.consecutive_failures += 1
        self._seen.clear()

    def _healthy(self, now: datetime) -> None:
        if self.health.last_error is not None:
            log.info("inbox available again", extra=fields(inbox=self.name))
        self.health.folder_present = True
        self.health.last_error = None
        self.health.consecutive_failures = 0
        self.health.last_successful_scan = now


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # the share died mid-scan: not there (the next scan says more)
        return False


# -- watcher (an early wake-up, never the truth) ----------------------------------------


class InboxWatcher:
    """Calls `on_event` (from a watchdog thread) when something changes in `path`.

    `polling=True` uses watchdog's PollingObserver (network mounts: inotify does not see
    remote writes). If the folder is missing, or vanishes and comes back, `ensure()`
    (call it from the scan loop) starts a fresh observer; `start()` never raises for a
    missing folder. The scan loop must not rely on events: they are only a hint.
    """

    def __init__(
        self,
        path: Path,
        *,
        on_event: Callable[[], object],
        polling: bool = False,
        poll_interval_seconds: float = 1.0,
    ) -> None:
        self.path = path
        self._on_event = on_event
        self._polling = polling
        self._interval = poll_interval_seconds
        self._observer: BaseObserver | None = None
        self._watched: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """True while an observer thread is watching the folder."""
        return self._observer is not None and bool(self._observer.is_alive())

    def start(self) -> None:
        """Start watching if the folder exists; a missing folder is retried by `ensure()`."""
        self.ensure()

    def ensure(self) -> None:
        """(Re)start the observer if it is not running or the folder was replaced."""
        with self._lock:
            try:
                st = self.path.stat()
            except OSError:
                self._stop_locked()
                return
            identity = (st.st_dev, st.st_ino)
            if self.running and identity == self._watched:
                return
            self._stop_locked()
            self._observer = self._start_observer()
            self._watched = identity if self._observer is not None else None

    def _start_observer(self) -> BaseObserver | None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler

        on_event = self._on_event

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                on_event()

        if self._polling:
            from watchdog.observers.polling import PollingObserver

            observer: BaseObserver = PollingObserver(timeout=self._interval)
        else:
            from watchdog.observers import Observer

            observer = Observer()
        try:
            observer.schedule(_Wake(), str(self.path), recursive=False)
            observer.start()
        except OSError as exc:
            log.warning(
                "file watcher could not start; relying on the scan",
                extra=fields(folder=str(self.path), error=str(exc)),
            )
            return None
        return observer

    def stop(self) -> None:
        """Stop the observer thread (idempotent)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        observer, self._observer, self._watched = self._observer, None, None
        if observer is None:
            return
        with contextlib.suppress(Exception):  # a dead emitter may raise on stop; it is gone
            observer.stop()
            observer.join(timeout=5)
