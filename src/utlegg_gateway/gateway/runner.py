"""The `once` and `run` lifecycles: start → main loop → shutdown.

    start     take the run lock; open the journal; build the ELAN client; load every
              mapping (a broken one is a configuration error: exit 2 before anything moves);
              recover: every file in work/ is looked up in the journal — unknown (crashed
              between claim and record) → registered; unfinished → resumed; finished but
              not yet moved → moved.
    loop      scan each inbox (listing is the truth; watchdog events only wake the scan
              early), claim ready files, process each as its own task.
              `once`: until nothing is left that is waiting to become ready, then wait for
              every case to end.  `run`: until SIGTERM/SIGINT.
    shutdown  stop claiming; let calls in flight finish (`runner.shutdown_grace_seconds`);
              cancel the rest (their journal state is resumable); release the lock.

SIGHUP reloads the mappings (`run`); a broken edit is logged and the old ones stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings, Settings
from utlegg_gateway.errors import (
    EXIT_CASE_ERRORS,
    EXIT_OK,
    GatewayError,
    MappingSpecError,
)
from utlegg_gateway.folders.outbox import sweep_temp_files
from utlegg_gateway.gateway.pipeline import FileOutcome, NullProgress, Pipeline, ProgressSink
from utlegg_gateway.gateway.progress import RichProgress
from utlegg_gateway.gateway.runlock import RunLock
from utlegg_gateway.health import HealthServer, HealthState
from utlegg_gateway.journal.sqlite import FILE_END_STATES, FILE_RESUMABLE, FileRecord, Journal

__all__ = ["RichProgress", "RunLock", "RunReport", "run_daemon", "run_once"]

log = get_logger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- one gateway process ---------------------------------------------------------------


@dataclass
class RunReport:
    """What a run did: one outcome per file it finished, and whether it was interrupted."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every file ended well and every case was accepted (or already in), else 1."""
        if self.interrupted or not all(o.ok for o in self.outcomes):
            return EXIT_CASE_ERRORS
        return EXIT_OK


class Gateway:
    """The parts of one gateway process wired together: scanners, pipeline, health."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        client: Any,
        *,
        clock: Clock = _utcnow,
        health: HealthState | None = None,
        progress: ProgressSink | None = None,
        attachment_wait_cap: float | None = None,
    ) -> None:
        from utlegg_gateway.folders.inbox import InboxScanner

        self.settings = settings
        self.journal = journal
        self.client = client
        self.clock = clock
        self.health = health
        self.scanners = {
            inbox.name: InboxScanner(inbox, work=self.work_dir(inbox), clock=clock)
            for inbox in settings.inboxes
        }
        self.pipeline = Pipeline(
            settings,
            journal,
            client,
            clock=clock,
            health=health,
            progress=progress,
            attachment_wait_cap=attachment_wait_cap,
            attachment_stable=self._attachment_stable,
        )

    def _attachment_stable(self, path: Path, st: os.stat_result) -> bool:
        """Whether an inbox's scans saw this attachment unchanged for its stable window."""
        return any(s.stable_file(path, st) for s in self.scanners.values())

    def work_dir(self, inbox: InboxSettings) -> Path:
        """Where claimed files of this inbox wait (same file system as the inbox)."""
        return (inbox.work or self.settings.folders.work) / inbox.name

    def unmoved(self) -> list[FileRecord]:
        """Files in work/ the journal knows that no task may be finishing: ended but not
        moved (archive/ or failed/ refused), or not answered (the outbox refused). The
        daemon resumes those it is not working on."""
        out: list[FileRecord] = []
        for inbox in self.settings.inboxes:
            for path in self._work_files(inbox):
                known = self.journal.file_by_path(path)
                if known is not None:
                    out.append(known)
        return out

    def _work_files(self, inbox: InboxSettings) -> list[Path]:
        """The data files in an inbox's work folder; none while the folder is unreachable."""
        folder = self.work_dir(inbox)
        scanner = self.scanners[inbox.name]
        try:
            if not folder.is_dir():
                return []
            return sorted(
                path
                for path in folder.iterdir()
                if scanner.is_data_file(path.name) and not path.is_dir()
            )
        except OSError as exc:
            # work/ lives on the inbox's share: a dead share must not stop the gateway.
            log.warning(
                "cannot list the work folder; its files wait",
                extra=fields(inbox=inbox.name, error=str(exc)),
            )
            return []

    def recover(self) -> list[FileRecord]:
        """Files to take up again after a stop or crash (see the module docstring)."""
        # Under the run lock no write of ours is in flight: any temp file of write_atomic
        # in the outbox is the remains of a killed write, and its final file is rewritten
        # (same bytes) when the file or case is taken up again below.
        for leftover in sweep_temp_files(self.settings.folders.outbox):
            log.warning("removed a half-written outbox temp file", extra=fields(file=str(leftover)))
        records: dict[int, FileRecord] = {
            r.id: r for r in self.journal.files_in_states(*FILE_RESUMABLE)
        }
        for inbox in self.settings.inboxes:
            for path in self._work_files(inbox):
                known = self.journal.file_by_path(path)
                if (
                    known is not None
                    and known.state in FILE_END_STATES
                    and not _holds_content_of(path, known)
                ):
                    # Two crashes: an ended file's row kept its work/ path (killed after the
                    # archive move), then a new file of that name was claimed and not yet
                    # registered. It is new: register it, never archive it unread.
                    known = None
                if known is None:
                    log.warning(
                        "claimed file unknown to the journal (crash after claim); registering",
                        extra=fields(file=path.name, inbox=inbox.name),
                    )
                    known = self.pipeline.register(inbox, path)
                if known.state in FILE_END_STATES or known.id not in records:
                    records[known.id] = known
        if records:
            log.info(
                "resuming unfinished files", extra=fields(files=[r.name for r in records.values()])
            )
        return [records[k] for k in sorted(records)]

    def scan(self) -> tuple[list[FileRecord], int]:
        """Scan every inbox and claim what is ready: (registered records, files not ready yet)."""
        claimed: list[FileRecord] = []
        pending = 0
        budget = self.settings.runner.max_files_per_scan
        for inbox in self.settings.inboxes:
            scanner = self.scanners[inbox.name]
            ready = scanner.scan()
            pending += scanner.pending_count()
            if self.health is not None:
                h = scanner.health
                self.health.set_inbox(
                    inbox.name,
                    last_successful_scan=h.last_successful_scan,
                    folder_present=h.folder_present,
                    error=h.last_error,
                )
                self.health.metrics.scans.labels(
                    inbox.name, "ok" if h.last_error is None else "error"
                ).inc()
            for item in ready:
                if budget <= 0:
                    pending += 1
                    continue
                path = scanner.claim(item)
                if path is None:
                    continue
                budget -= 1
                claimed.append(self.pipeline.register(inbox, path, problem=item.problem))
                log.info("file claimed", extra=fields(file=path.name, inbox=inbox.name))
        return claimed, pending

    def refresh_health(self) -> None:
        """Push the journal's view into the health state (a write proves it is writable)."""
        if self.health is None:
            return
        try:
            self.journal.set_cursor("health.probe", self.clock().isoformat())
            self.health.set_summary(_summary_for_metrics(self.journal.summary()))
            self.health.set_check("journal", True)
        except GatewayError as exc:
            self.health.set_check("journal", False, error=exc.message)

    async def check_token(self) -> None:
        """Can a token still be had? (health) — and when does the certificate expire."""
        if self.health is None:
            return
        tokens = getattr(self.client, "tokens", None)
        if tokens is None:
            return
        self.health.set_certificate_expiry(getattr(tokens, "certificate_expiry", None))
        try:
            token = await tokens.get()
            self.health.set_check("token", True, expires_at=token.expires_at.isoformat())
        except GatewayError as exc:
            self.health.set_check("token", False, error=exc.message)

    def purge(self) -> None:
        """Apply the archive retention."""
        from utlegg_gateway.folders.inbox import purge_archive

        try:
            purge_archive(
                self.settings.folders.archive,
                retention_days=self.settings.folders.archive_retention_days,
                now=self.clock(),
            )
        except GatewayError as exc:
            log.warning("archive purge failed", extra=fields(error=exc.details()))


def _holds_content_of(path: Path, known: FileRecord) -> bool:
    """Whether `path` still holds the bytes `known` was registered with."""
    if path.is_symlink():
        return True  # registered by name and target, never read
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == known.sha256
    except OSError:
        return True  # cannot tell: treat it as the file the journal knows, as before


def _summary_for_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    out = dict(summary)
    out["oldest_waiting_seconds"] = summary.get("oldest_open_file_age_seconds")
    return out


# --- once -------------------------------------------------------------------------------


def run_once(
    settings: Settings,
    *,
    progress: ProgressSink | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = _utcnow,
    max_wait_seconds: float | None = None,
) -> RunReport:
    """Process what is in the inboxes now and wait for every case to end (cron mode)."""
    with RunLock(settings.runner.lock_file):
        return asyncio.run(
            _once(
                settings,
                progress=progress,
                transport=transport,
                clock=clock,
                max_wait=max_wait_seconds,
            )
        )


async def _once(
    settings: Settings,
    *,
    progress: ProgressSink | None,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    max_wait: float | None,
) -> RunReport:
    from utlegg_gateway.elan import build_client

    stop = asyncio.Event()
    report = RunReport()
    journal = Journal.open(
        settings.journal.path, clock=clock, busy_timeout_ms=settings.journal.busy_timeout_ms
    )
    gateway: Gateway | None = None
    try:
        async with build_client(settings, transport=transport) as client:
            # Files seen but not ready yet (still being written), and attachments not
            # there yet, are waited for within the longest readiness window plus a
            # margin: `once` is not a daemon; the next run goes on from the journal.
            windows = [
                i.readiness.stable_seconds + i.readiness.min_age_seconds for i in settings.inboxes
            ]
            limit = max_wait if max_wait is not None else 2 * max(windows, default=0) + 5
            gateway = Gateway(
                settings,
                journal,
                client,
                clock=clock,
                progress=progress or NullProgress(),
                attachment_wait_cap=limit,
            )
            gateway.pipeline.reload_mappings()
            with _signals(stop, on_hup=None):
                tasks = [
                    asyncio.create_task(gateway.pipeline.process(r)) for r in gateway.recover()
                ]
                deadline = asyncio.get_running_loop().time() + limit
                while not stop.is_set():
                    claimed, pending = gateway.scan()
                    tasks += [asyncio.create_task(gateway.pipeline.process(r)) for r in claimed]
                    if not pending and not claimed:
                        break
                    if asyncio.get_running_loop().time() > deadline:
                        log.warning(
                            "files still not ready; left for the next run",
                            extra=fields(pending=pending),
                        )
                        break
                    await _wait(stop, 0.2 if pending else 0.0)
                report.outcomes, report.interrupted = await _finish(tasks, stop, settings)
            gateway.purge()
    finally:
        if gateway is not None:
            gateway.pipeline.close()
        journal.close()
    return report


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


async def _finish(
    tasks: list[asyncio.Task[FileOutcome]], stop: asyncio.Event, settings: Settings
) -> tuple[list[FileOutcome], bool]:
    """Wait for the file tasks; after a stop signal give them the grace period, then cancel."""
    if not tasks:
        return [], stop.is_set()
    stopper = asyncio.create_task(stop.wait())
    pending: set[asyncio.Task[Any]] = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
        pending.discard(stopper)
        if stopper in done:
            break
    interrupted = False
    if pending:
        log.info("stopping: letting calls in flight finish", extra=fields(files=len(pending)))
        _, pending = await asyncio.wait(pending, timeout=settings.runner.shutdown_grace_seconds)
        interrupted = True
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    stopper.cancel()
    outcomes: list[FileOutcome] = []
    for task in tasks:
        if task.cancelled():
            interrupted = True
            continue
        exc = task.exception()
        if exc is not None:
            raise exc
        outcomes.append(task.result())
    return outcomes, interrupted or (stop.is_set() and bool(pending))


@contextlib.contextmanager
def _signals(stop: asyncio.Event, *, on_hup: Callable[[], None] | None) -> Any:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def _stop(signum: signal.Signals) -> None:
        log.info("signal received; stopping", extra=fields(signal=signum.name))
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop, sig)
        installed.append(sig)
    if on_hup is not None:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
        installed.append(signal.SIGHUP)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


# --- run (daemon) -----------------------------------------------------------------------


def run_daemon(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = _utcnow,
    ready: Callable[[HealthServer | None], None] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0 after a clean stop)."""
    with RunLock(settings.runner.lock_file):
        return asyncio.run(_daemon(settings, transport=transport, clock=clock, ready=ready))


async def _daemon(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    ready: Callable[[HealthServer | None], None] | None,
) -> int:
    from utlegg_gateway.elan import build_client
    from utlegg_gateway.folders.inbox import InboxWatcher
    from utlegg_gateway.followup import start_followup

    stop = asyncio.Event()
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    health = HealthState(clock=clock)
    server: HealthServer | None = None
    watchers: list[Any] = []
    journal = Journal.open(
        settings.journal.path, clock=clock, busy_timeout_ms=settings.journal.busy_timeout_ms
    )
    gateway: Gateway | None = None
    try:
        async with build_client(settings, transport=transport) as client:
            gateway = Gateway(settings, journal, client, clock=clock, health=health)
            gateway.pipeline.reload_mappings()

            def reload() -> None:
                try:
                    gateway.pipeline.reload_mappings()
                    log.info("mappings reloaded (SIGHUP)")
                except MappingSpecError as exc:
                    log.error(
                        "mapping reload failed; keeping the old ones",
                        extra=fields(error=exc.details()),
                    )

            if settings.health.enabled:
                server = HealthServer(
                    health, host=settings.health.host, port=settings.health.port
                ).start()
            for inbox in settings.inboxes:
                if inbox.observer != "none":
                    watcher = InboxWatcher(
                        inbox.path,
                        on_event=lambda: loop.call_soon_threadsafe(wake.set),
                        polling=inbox.observer == "polling",
                    )
                    watcher.start()
                    watchers.append(watcher)
            with _signals(stop, on_hup=reload):
                # Status på sak + Dialogporten polling until `stop` (docs/followup.md)
                follow = start_followup(settings, journal, client, clock=clock, stop=stop)
                tasks: set[asyncio.Task[FileOutcome]] = set()
                working: dict[asyncio.Task[FileOutcome], int] = {}

                def spawn(record: FileRecord) -> None:
                    task = asyncio.create_task(gateway.pipeline.process(record))
                    tasks.add(task)
                    working[task] = record.id

                for record in gateway.recover():
                    spawn(record)
                gateway.refresh_health()
                await gateway.check_token()
                if ready is not None:
                    ready(server)
                interval = min((i.scan_interval_seconds for i in settings.inboxes), default=30.0)
                next_token = loop.time() + settings.health.token_check_seconds
                next_purge = loop.time()
                next_sweep = loop.time() + settings.runner.move_retry_seconds
                while not stop.is_set():
                    wake.clear()
                    for watcher in watchers:
                        # A share that vanished and came back needs a fresh observer.
                        watcher.ensure()
                    claimed, pending = gateway.scan()
                    for record in claimed:
                        spawn(record)
                    _reap(tasks)
                    for task in [t for t in working if t not in tasks]:
                        del working[task]
                    gateway.refresh_health()
                    if loop.time() >= next_token:
                        await gateway.check_token()
                        next_token = loop.time() + settings.health.token_check_seconds
                    if loop.time() >= next_purge:
                        gateway.purge()
                        next_purge = loop.time() + 86400
                    if loop.time() >= next_sweep:
                        # Answered files whose move out of work/ failed (disk full, a
                        # read-only share) are moved again, without waiting for a restart.
                        busy = set(working.values())
                        for record in gateway.unmoved():
                            if record.id not in busy:
                                spawn(record)
                        next_sweep = loop.time() + settings.runner.move_retry_seconds
                    # A file seen but not yet stable is looked at again soon, not after
                    # a full interval; an OS event wakes the scan at once.
                    timeout = min(interval, 1.0) if pending else interval
                    waiter = asyncio.create_task(wake.wait())
                    stopper = asyncio.create_task(stop.wait())
                    await asyncio.wait(
                        {waiter, stopper},
                        timeout=min(timeout, settings.runner.refresh_seconds),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    waiter.cancel()
                    stopper.cancel()
                stop.set()
                await _finish(list(tasks), stop, settings)
                if follow is not None:
                    await follow
                gateway.refresh_health()
    finally:
        for watcher in watchers:
            watcher.stop()
        if server is not None:
            server.stop()
        if gateway is not None:
            gateway.pipeline.close()
        journal.close()
    log.info("stopped")
    return EXIT_OK


def _reap(tasks: set[asyncio.Task[FileOutcome]]) -> None:
    """Drop finished file tasks; a journal failure in one of them stops the daemon."""
    for task in [t for t in tasks if t.done()]:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # not None: checked just above
