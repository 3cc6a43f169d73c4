"""The `once` and `run` lifecycles: start → main loop → shutdown.

    start     take the run lock; open the journal; build the ELAN client; load every
              mapping (a broken one is a configuration error: exit 2 before anything moves);
              recover: every file in work/ is looked up in the journal — unknown (crashed
              between claim and record) → registered; unfinished → resumed; finished but
              not yet moved → moved.
    loop      scan each inbox (listing is the truth; watchdog events only wake the scan
              early), claim ready files, process each as its own task.
    tenants   vendor mode: one Gateway per tenant (its own ELAN client, so its own
              call slots and token cache; its own pipeline and mapping thread; its
              view of the one journal), all in one loop and under one lock.
              `once`: until nothing is left that is waiting to become ready, then wait for
              every case to end.  `run`: until SIGTERM/SIGINT.
    shutdown  stop claiming; let calls in flight finish (`runner.shutdown_grace_seconds`);
              cancel the rest (their journal state is resumable); release the lock.

SIGHUP reloads the mappings (`run`); a broken edit is logged and the old ones stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.cluster._lease import InstanceLease, keep_lease
from utlegg_gateway.config import Settings
from utlegg_gateway.elan.client import ElanClient, build_client
from utlegg_gateway.errors import (
    EXIT_CANNOT_RUN,
    EXIT_CASE_ERRORS,
    EXIT_OK,
    GatewayError,
    LeaseLostError,
    MappingSpecError,
)
from utlegg_gateway.folders.archive import purge_archive
from utlegg_gateway.folders.attachments import Sightings
from utlegg_gateway.folders.inbox import InboxWatcher
from utlegg_gateway.folders.outbox import sweep_temp_files
from utlegg_gateway.folders.work import Inbox, Takeover
from utlegg_gateway.followup import FollowupReport, followup_once, start_followup
from utlegg_gateway.gateway.pipeline import FileOutcome, NullProgress, Pipeline, ProgressSink
from utlegg_gateway.gateway.runlock import RunLock
from utlegg_gateway.health import HealthServer, HealthState
from utlegg_gateway.journal import JournalStore, open_journal
from utlegg_gateway.journal.sqlite import FILE_END_STATES, FILE_RESUMABLE, FileRecord

__all__ = ["Daemon", "Gateway", "RunLock", "RunReport", "run_daemon", "run_once"]

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
    # Inboxes whose folder was not there at the scan (an unmounted share, a typo).
    missing_inboxes: list[str] = field(default_factory=list)
    # Every inbox folder was missing: nothing could be read, so the run did not run.
    no_inbox: bool = False
    # `once --followup`: the status and letters round after the submissions.
    followup: FollowupReport | None = None

    @property
    def exit_code(self) -> int:
        """0 when every file ended well and every case was accepted (or already in), 1 when
        some did not, 2 when not one inbox folder was there (a cron alert must fire)."""
        if self.no_inbox:
            return EXIT_CANNOT_RUN
        if self.interrupted or not all(o.ok for o in self.outcomes):
            return EXIT_CASE_ERRORS
        if self.followup is not None and self.followup.errors:
            return EXIT_CASE_ERRORS  # a status or letter could not be fetched or written
        return EXIT_OK


class Gateway:
    """The parts of one gateway process wired together: inboxes, pipeline, health."""

    def __init__(
        self,
        settings: Settings,
        journal: JournalStore,
        client: ElanClient,
        *,
        clock: Clock = _utcnow,
        health: HealthState | None = None,
        progress: ProgressSink | None = None,
        attachment_wait_cap: float | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.client = client
        self.clock = clock
        self.health = health
        # In a cluster each instance claims into a folder of its own under the inbox's.
        instance = settings.cluster.instance_name() if settings.cluster.enabled else None
        self.inboxes = {
            inbox.name: Inbox(
                inbox,
                work=_work_root(settings, inbox.name, inbox.work) / (instance or ""),
                journal=journal,
                clock=clock,
                root=None if instance is None else _work_root(settings, inbox.name, inbox.work),
            )
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
            sightings=Sightings(clock, scanned=self._attachment_stable),
        )

    @property
    def tenant(self) -> str:
        """The tenant this gateway works for ("" for a plain configuration)."""
        return self.settings.tenant

    def _attachment_stable(self, path: Path, st: os.stat_result) -> bool:
        """Whether an inbox's scans saw this attachment unchanged for its stable window."""
        return any(i.scanner.stable_file(path, st) for i in self.inboxes.values())

    def unmoved(self) -> list[FileRecord]:
        """Answered files whose move out of work/ did not finish, in every inbox."""
        return [record for inbox in self.inboxes.values() for record in inbox.unmoved()]

    def recover(self) -> list[FileRecord]:
        """Files to take up again after a stop or crash (see the module docstring)."""
        # Under the run lock no write of ours is in flight: any temp file of write_atomic
        # in the outbox is the remains of a killed write, and its final file is rewritten
        # (same bytes) when the file or case is taken up again below.
        # In a cluster the outbox is shared and a peer may be writing there right now:
        # only a temp file older than any write is a killed one's.
        cluster = self.settings.cluster.enabled
        for leftover in sweep_temp_files(
            self.settings.folders.outbox, min_age_seconds=_PEER_WRITE_SECONDS if cluster else 0
        ):
            log.warning("removed a half-written outbox temp file", extra=fields(file=str(leftover)))
        if cluster:
            for inbox in self.inboxes.values():
                inbox.take_over("")  # files claimed before the cluster was switched on
        records: dict[int, FileRecord] = {
            r.id: r
            for r in self.journal.files_in_states(*FILE_RESUMABLE)
            # A peer's unfinished files are its own (or its taker's), not ours to resume.
            if not cluster or self._in_own_work(r)
        }
        for inbox in self.inboxes.values():
            for known in inbox.recover():
                if known.state in FILE_END_STATES or known.id not in records:
                    records[known.id] = known
        if records:
            log.info(
                "resuming unfinished files", extra=fields(files=[r.name for r in records.values()])
            )
        return [records[k] for k in sorted(records)]

    def _in_own_work(self, record: FileRecord) -> bool:
        if record.path is None:
            return False
        parent = Path(record.path).parent
        return any(parent == inbox.work for inbox in self.inboxes.values())

    def take_over(self, peer: str) -> Takeover:
        """Move a dead cluster instance's claimed files here (see Inbox.take_over)."""
        done = Takeover()
        for inbox in self.inboxes.values():
            done = done.plus(inbox.take_over(peer))
        return done

    def taken_up(self) -> list[FileRecord]:
        """Every file in this instance's work folders as a journal record: after a
        takeover, what was moved here (and, as at a restart, what is already ours)."""
        return [record for inbox in self.inboxes.values() for record in inbox.recover()]

    def scan(self) -> tuple[list[FileRecord], int]:
        """Scan every inbox and claim what is ready: (registered records, files not ready yet)."""
        claimed: list[FileRecord] = []
        pending = 0
        budget = self.settings.runner.max_files_per_scan
        for inbox in self.inboxes.values():
            records, waiting = inbox.claim_ready(budget - len(claimed))
            claimed += records
            pending += waiting
            if self.health is not None:
                h = inbox.scanner.health
                self.health.set_inbox(
                    inbox.name,
                    last_successful_scan=h.last_successful_scan,
                    folder_present=h.folder_present,
                    error=h.last_error,
                    tenant=self.tenant,
                )
                self.health.metrics.scanned(
                    inbox.name, "ok" if h.last_error is None else "error", self.tenant
                )
        return claimed, pending

    def refresh_health(self) -> None:
        """Push the journal's view into the health state (a write proves it is writable)."""
        if self.health is None:
            return
        try:
            self.journal.set_cursor("health.probe", self.clock().isoformat())
            self.health.set_summary(
                _summary_for_metrics(self.journal.summary()), tenant=self.tenant
            )
            self.health.set_check("journal", True)
        except GatewayError as exc:
            self.health.set_check("journal", False, error=exc.message)

    async def check_token(self) -> None:
        """Can a token still be had? (health) — and when does the certificate expire."""
        if self.health is None:
            return
        tokens = self.client.tokens
        self.health.set_certificate_expiry(tokens.certificate_expiry, tenant=self.tenant)
        try:
            token = await tokens.get()
            self.health.set_check(
                "token", True, tenant=self.tenant, expires_at=token.expires_at.isoformat()
            )
        except GatewayError as exc:
            self.health.set_check("token", False, error=exc.message, tenant=self.tenant)

    def purge(self) -> None:
        """Apply the archive retention."""
        try:
            purge_archive(
                self.settings.folders.archive,
                retention_days=self.settings.folders.archive_retention_days,
                now=self.clock(),
            )
        except GatewayError as exc:
            log.warning("archive purge failed", extra=fields(error=exc.details()))


# A write_atomic takes milliseconds; a temp file this old in a shared outbox is a
# killed writer's, never a live peer's.
_PEER_WRITE_SECONDS = 3600.0


def _work_root(settings: Settings, inbox: str, work: Path | None) -> Path:
    return (work or settings.folders.work) / inbox


def _summary_for_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    out = dict(summary)
    out["oldest_waiting_seconds"] = summary.get("oldest_open_file_age_seconds")
    return out


@contextlib.asynccontextmanager
async def _started(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    health: HealthState | None = None,
    progress: ProgressSink | None = None,
    attachment_wait_cap: float | None = None,
) -> AsyncIterator[list[Gateway]]:
    """The set-up `once` and `run` share: journal, one ELAN client and gateway per tenant,
    every mapping loaded (a broken one raises MappingSpecError before anything moves);
    closed in reverse.

    The clients (so the credentials: a missing certificate is a ConfigError) come before
    the journal, so a run that cannot start leaves no new journal behind."""
    tenants = settings.tenant_settings()
    clients: list[ElanClient] = []
    try:
        for tenant in tenants:
            clients.append(build_client(tenant, transport=transport))
        journal = open_journal(settings.journal, clock=clock)
    except BaseException:
        for client in clients:
            await client.aclose()
        raise
    gateways: list[Gateway] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for tenant, client in zip(tenants, clients, strict=True):
                await stack.enter_async_context(client)
                gateways.append(
                    Gateway(
                        tenant,
                        journal.for_tenant(tenant.tenant) if settings.tenants else journal,
                        client,
                        clock=clock,
                        health=health,
                        progress=progress,
                        attachment_wait_cap=attachment_wait_cap,
                    )
                )
                gateways[-1].pipeline.reload_mappings()
            yield gateways
    finally:
        for gateway in gateways:
            gateway.pipeline.close()
        journal.close()


@contextlib.asynccontextmanager
async def _leased(settings: Settings) -> AsyncIterator[InstanceLease | None]:
    """In a cluster: this instance's name and lease, taken before anything is recovered
    (so no peer takes over what we resume) and ended after everything is closed."""
    if not settings.cluster.enabled:
        yield None
        return
    lease = InstanceLease.for_settings(settings)
    await lease.start()
    try:
        yield lease
    finally:
        await lease.release()


def _raise_if_failed(task: asyncio.Task[None] | None) -> None:
    """A lost lease (or a broken keeper) ends the run at once."""
    if task is not None and task.done() and not task.cancelled():
        exc = task.exception()
        if exc is not None:
            raise exc


# --- once -------------------------------------------------------------------------------


# How long a thread holding the GIL (the mapping thread building a batch, a journal write)
# keeps the event loop waiting for it: CPython's default is 5 ms, and every wait holds back
# the next ELAN call (5 -> 1 ms: 44.0 -> 45.8 cases/s at 50 ms per call). Each turn of the
# loop waits again, so at 1 ms an answer crossing several turns while mapping built a
# batch waited 10-40 ms; at 0.1 ms the mean time a call held its slot beyond the server's
# went from 4.3 to 2.5 ms in a traced run, though cases/s stayed within the spread of
# four runs each (benchmarks/README.md, goal 1, run 6).
LOOP_SWITCH_SECONDS = 0.0001


@contextlib.contextmanager
def _loop_first() -> Iterator[None]:
    """While the pipeline runs, other threads hand the GIL to the event loop sooner, and
    the objects alive at its start are kept out of the garbage collector's scans.

    A full collection stops every thread: over the start-up heap (the libraries, the
    mapping specs) they took 22-54 ms each, every ~5 s of a run, and 1-13 ms with that heap
    frozen (`gc.freeze`). The caller's interval comes back afterwards, and its heap goes
    back to the collector unless the caller had frozen objects itself (they cannot be told
    apart).
    """
    before = sys.getswitchinterval()
    frozen_before = gc.get_freeze_count()
    sys.setswitchinterval(min(before, LOOP_SWITCH_SECONDS))
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()
        sys.setswitchinterval(before)


def run_once(
    settings: Settings,
    *,
    progress: ProgressSink | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = _utcnow,
    max_wait_seconds: float | None = None,
    followup: bool = False,
) -> RunReport:
    """Process what is in the inboxes now and wait for every case to end (cron mode).

    With `followup`, one status and letters round (as `utlegg-gateway followup`) follows
    the submissions, under the same lock, with the same journal and client; its errors
    make the exit code 1.
    """
    with RunLock(settings.runner.lock_file), _loop_first():
        return asyncio.run(
            _once(
                settings,
                progress=progress,
                transport=transport,
                clock=clock,
                max_wait=max_wait_seconds,
                followup=followup,
            )
        )


async def _once(
    settings: Settings,
    *,
    progress: ProgressSink | None,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    max_wait: float | None,
    followup: bool = False,
) -> RunReport:
    stop = asyncio.Event()
    report = RunReport()
    # Files seen but not ready yet (still being written), and attachments not there yet,
    # are waited for within the longest readiness window plus a margin: `once` is not a
    # daemon; the next run goes on from the journal.
    inboxes = [i for t in settings.tenant_settings() for i in t.inboxes]
    windows = [i.readiness.stable_seconds + i.readiness.min_age_seconds for i in inboxes]
    limit = max_wait if max_wait is not None else 2 * max(windows, default=0) + 5
    sink = progress or NullProgress()
    async with (
        _leased(settings) as lease,
        _started(
            settings,
            transport=transport,
            clock=clock,
            progress=sink,
            attachment_wait_cap=limit,
        ) as gateways,
    ):
        # `once` renews its lease while it runs but takes no peer's work: that is the
        # daemons' job, and a cron run should end.
        keeper = None if lease is None else asyncio.create_task(keep_lease(lease, stop))
        if keeper is not None:
            keeper.add_done_callback(lambda _: stop.set())
        with _signals(stop, on_hup=None):
            tasks = [
                asyncio.create_task(g.pipeline.process(r)) for g in gateways for r in g.recover()
            ]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + limit
            first_seen: dict[tuple[str, str], float] = {}
            while not stop.is_set():
                claimed_any = False
                pending = 0
                for gateway in gateways:
                    claimed, waiting = gateway.scan()
                    tasks += [asyncio.create_task(gateway.pipeline.process(r)) for r in claimed]
                    claimed_any |= bool(claimed)
                    pending += waiting
                    _report_waiting(gateway, sink, first_seen, loop.time())
                if not pending and not claimed_any:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    log.warning(
                        "files still not ready; left for the next run",
                        extra=fields(pending=pending),
                    )
                    break
                await _wait(stop, 0.2 if pending else 0.0)
            report.outcomes, report.interrupted = await _finish(tasks, stop, settings)
        _raise_if_failed(keeper)
        every = {name: inbox for g in gateways for name, inbox in g.inboxes.items()}
        report.missing_inboxes = [
            name for name, inbox in every.items() if not inbox.scanner.health.folder_present
        ]
        report.no_inbox = bool(every) and len(report.missing_inboxes) == len(every)
        if report.missing_inboxes:
            log.error(
                "inbox folder missing" + ("; nothing could be read" if report.no_inbox else ""),
                extra=fields(inboxes=report.missing_inboxes),
            )
        if followup and not report.interrupted and not stop.is_set():
            rounds = [
                await followup_once(g.settings, g.journal, g.client, clock=clock) for g in gateways
            ]
            report.followup = FollowupReport(
                status_changes=[c for r in rounds for c in r.status_changes],
                letters=[letter for r in rounds for letter in r.letters],
                errors=[e for r in rounds for e in r.errors],
            )
        for gateway in gateways:
            gateway.purge()
    return report


def _report_waiting(
    gateway: Gateway, sink: ProgressSink, first_seen: dict[tuple[str, str], float], now: float
) -> None:
    """Tell the sink (and, once per file, the log) what `once` is waiting for: without it
    the readiness window was silence on the terminal."""
    for inbox in gateway.inboxes.values():
        for name, reason in inbox.scanner.health.waiting_for.items():
            key = (inbox.name, name)
            first = key not in first_seen
            first_seen.setdefault(key, now)
            # The sink first: the log line's print redraws a live display, with this in it.
            sink.waiting(name, reason, now - first_seen[key])
            if first:
                log.info(
                    "waiting for a file to be ready",
                    extra=fields(file=name, inbox=inbox.name, waiting_for=reason),
                )


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
def _signals(stop: asyncio.Event, *, on_hup: Callable[[], None] | None) -> Iterator[None]:
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
    with RunLock(settings.runner.lock_file), _loop_first():
        return asyncio.run(_daemon(settings, transport=transport, clock=clock, ready=ready))


async def _daemon(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    ready: Callable[[HealthServer | None], None] | None,
) -> int:
    health = HealthState(clock=clock, tenants=bool(settings.tenants))
    async with (
        _leased(settings) as lease,
        _started(settings, transport=transport, clock=clock, health=health) as gateways,
    ):
        await Daemon(gateways, health, ready=ready, lease=lease).run()
    log.info("stopped")
    return EXIT_OK


class Daemon:
    """`run`: scan, claim and process until SIGTERM/SIGINT, with the housekeeping between.

    Each loop round scans every inbox of every tenant (an OS event only wakes it early),
    reaps finished file tasks, refreshes /healthz, checks the tokens, purges the archive
    once a day, and re-takes answered files whose move out of work/ failed.
    """

    # Archive retention is counted in days: looking once a day is enough.
    PURGE_EVERY_SECONDS = 86_400.0

    def __init__(
        self,
        gateways: list[Gateway],
        health: HealthState,
        *,
        ready: Callable[[HealthServer | None], None] | None = None,
        lease: InstanceLease | None = None,
    ) -> None:
        self.gateways = gateways
        self.lease = lease
        self._keeper: asyncio.Task[None] | None = None
        # Set when a takeover moved a dead peer's files into our work folders.
        self._taken = False
        # Process-wide settings (health, runner): every tenant has the same ones.
        self.settings = gateways[0].settings
        self.health = health
        self._ready = ready
        self.stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[FileOutcome]] = set()
        # Which tenant's file each task works on: ids are the journal's, shared by tenants.
        self._working: dict[asyncio.Task[FileOutcome], tuple[str, int]] = {}
        self._watchers: list[InboxWatcher] = []
        self._server: HealthServer | None = None

    async def run(self) -> None:
        """Run until a stop signal; then let calls in flight finish (the grace) and return."""
        loop = asyncio.get_running_loop()
        try:
            if self.settings.health.enabled:
                self._server = HealthServer(
                    self.health, host=self.settings.health.host, port=self.settings.health.port
                ).start()
            self._start_watchers(loop)
            with _signals(self.stop, on_hup=self.reload):
                # Status på sak + Dialogporten polling until `stop` (docs/followup.md),
                # one loop per tenant with its own journal view and client.
                follows = [
                    start_followup(g.settings, g.journal, g.client, clock=g.clock, stop=self.stop)
                    for g in self.gateways
                ]
                for gateway in self.gateways:
                    for record in gateway.recover():
                        self._spawn(gateway, record)
                if self.lease is not None:
                    self._lease_health(None)
                    self._keeper = asyncio.create_task(
                        keep_lease(
                            self.lease,
                            self.stop,
                            take_over=self._take_over,
                            on_taken=self._woken,
                            on_renewal=self._lease_health,
                        )
                    )
                    self._keeper.add_done_callback(lambda _: self._wake.set())
                for gateway in self.gateways:
                    gateway.refresh_health()
                    await gateway.check_token()
                if self._ready is not None:
                    self._ready(self._server)
                try:
                    await self._loop(loop)
                except LeaseLostError:
                    # Fenced: another instance owns these files now; stop sending at once.
                    for task in self._tasks:
                        task.cancel()
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                    raise
                self.stop.set()
                if self._keeper is not None:
                    await asyncio.gather(self._keeper, return_exceptions=True)
                await _finish(list(self._tasks), self.stop, self.settings)
                for follow in follows:
                    if follow is not None:
                        await follow
                for gateway in self.gateways:
                    gateway.refresh_health()
        finally:
            for watcher in self._watchers:
                watcher.stop()
            if self._server is not None:
                self._server.stop()

    def reload(self) -> None:
        """SIGHUP: load the mappings again; a broken edit is logged and the old ones stay."""
        for gateway in self.gateways:
            try:
                gateway.pipeline.reload_mappings()
                log.info("mappings reloaded (SIGHUP)", extra=fields(tenant=gateway.tenant))
            except MappingSpecError as exc:
                log.error(
                    "mapping reload failed; keeping the old ones",
                    extra=fields(tenant=gateway.tenant, error=exc.details()),
                )

    def _start_watchers(self, loop: asyncio.AbstractEventLoop) -> None:
        for gateway in self.gateways:
            for inbox in gateway.settings.inboxes:
                if inbox.observer != "none":
                    watcher = InboxWatcher(
                        inbox.path,
                        on_event=lambda: loop.call_soon_threadsafe(self._wake.set),
                        polling=inbox.observer == "polling",
                    )
                    watcher.start()
                    self._watchers.append(watcher)

    def _lease_health(self, failed: str | None) -> None:
        """/healthz `lease`: failing while renewals fail (before the lease is lost)."""
        assert self.lease is not None
        self.health.set_check(
            "lease",
            failed is None,
            failed,
            instance=self.lease.instance,
            generation=self.lease.generation,
        )

    def _take_over(self, peer: str) -> Takeover:
        done = Takeover()
        for gateway in self.gateways:
            done = done.plus(gateway.take_over(peer))
        return done

    def _woken(self, moved: int) -> None:
        self._taken = True
        self._wake.set()

    def _take_up(self) -> None:
        """Start on the files a takeover moved here (those not already being worked)."""
        self._taken = False
        busy = set(self._working.values())
        for gateway in self.gateways:
            for record in gateway.taken_up():
                if (gateway.tenant, record.id) not in busy:
                    self._spawn(gateway, record)

    def _spawn(self, gateway: Gateway, record: FileRecord) -> None:
        task = asyncio.create_task(gateway.pipeline.process(record))
        self._tasks.add(task)
        self._working[task] = (gateway.tenant, record.id)

    async def _loop(self, loop: asyncio.AbstractEventLoop) -> None:
        intervals = [i.scan_interval_seconds for g in self.gateways for i in g.settings.inboxes]
        interval = min(intervals, default=30.0)
        next_token = loop.time() + self.settings.health.token_check_seconds
        next_purge = loop.time()
        next_sweep = loop.time() + self.settings.runner.move_retry_seconds
        while not self.stop.is_set():
            self._wake.clear()
            # A lost lease stops this instance at once, without the grace: its files
            # are another instance's now.
            _raise_if_failed(self._keeper)
            if self._taken:
                self._take_up()
            for watcher in self._watchers:
                # A share that vanished and came back needs a fresh observer.
                watcher.ensure()
            pending = 0
            for gateway in self.gateways:
                claimed, waiting = gateway.scan()
                pending += waiting
                for record in claimed:
                    self._spawn(gateway, record)
            _reap(self._tasks)
            for task in [t for t in self._working if t not in self._tasks]:
                del self._working[task]
            for gateway in self.gateways:
                gateway.refresh_health()
            if loop.time() >= next_token:
                for gateway in self.gateways:
                    await gateway.check_token()
                next_token = loop.time() + self.settings.health.token_check_seconds
            if loop.time() >= next_purge:
                for gateway in self.gateways:
                    gateway.purge()
                next_purge = loop.time() + self.PURGE_EVERY_SECONDS
            if loop.time() >= next_sweep:
                self._sweep_unmoved()
                next_sweep = loop.time() + self.settings.runner.move_retry_seconds
            # A file seen but not yet stable is looked at again soon, not after a full
            # interval; an OS event wakes the scan at once.
            timeout = min(interval, 1.0) if pending else interval
            await self._sleep(min(timeout, self.settings.runner.refresh_seconds))

    def _sweep_unmoved(self) -> None:
        """Answered files whose move out of work/ failed (disk full, a read-only share)
        are moved again, without waiting for a restart."""
        busy = set(self._working.values())
        for gateway in self.gateways:
            for record in gateway.unmoved():
                if (gateway.tenant, record.id) not in busy:
                    self._spawn(gateway, record)

    async def _sleep(self, timeout: float) -> None:
        """Until the timeout, an inbox event or a stop signal, whichever comes first."""
        waiter = asyncio.create_task(self._wake.wait())
        stopper = asyncio.create_task(self.stop.wait())
        await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stopper.cancel()


def _reap(tasks: set[asyncio.Task[FileOutcome]]) -> None:
    """Drop finished file tasks; a journal failure in one of them stops the daemon."""
    for task in [t for t in tasks if t.done()]:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # not None: checked just above
