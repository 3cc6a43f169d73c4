"""Follow-up after acceptance: case status (Status på sak) and letters (Dialogporten).

    async with build_followup(settings, journal, elan, clock=now) as followup:
        report = await followup.tick()          # what is due now; call it on a timer
        await followup.run(stop_event)          # or: loop until stopped

`tick()` polls the statuses that are due (`followup.status_schedule`) and, every
`dialogporten.poll_interval_seconds`, one Dialogporten cycle. A failing cycle is logged
and retried on a later tick; nothing is lost because cursors move only after success.
See docs/followup.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType

import httpx

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.cluster import PollerLock
from utlegg_gateway.config import Settings
from utlegg_gateway.elan.client import ElanClient
from utlegg_gateway.elan.dialogporten import DialogportenClient
from utlegg_gateway.errors import ConfigError, GatewayError
from utlegg_gateway.followup.letters import LetterFiles, LettersPoller
from utlegg_gateway.followup.status import StatusChange, StatusPoller
from utlegg_gateway.journal import JournalStore, open_journal

__all__ = [
    "Followup",
    "FollowupReport",
    "LetterFiles",
    "LettersPoller",
    "StatusChange",
    "StatusPoller",
    "build_followup",
    "followup_once",
    "run_followup_once",
    "start_followup",
]

log = get_logger(__name__)


@dataclass
class FollowupReport:
    """What one tick did."""

    status_changes: list[StatusChange] = field(default_factory=list)
    letters: list[LetterFiles] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Followup:
    """Status and letter polling on one schedule; shares the ELAN client's call slots."""

    def __init__(
        self,
        settings: Settings,
        *,
        status: StatusPoller | None,
        letters: LettersPoller | None,
        dialogporten: DialogportenClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self.status = status
        self.letters = letters
        self._dialogporten = dialogporten
        self._monotonic = monotonic
        self._next_letters_at: float | None = None

    async def __aenter__(self) -> Followup:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._dialogporten is not None:
            await self._dialogporten.aclose()

    async def tick(self, *, force_letters: bool = False) -> FollowupReport:
        """Do what is due now: statuses by schedule, a Dialogporten cycle by interval."""
        report = FollowupReport()
        if self.status is not None:
            try:
                report.status_changes = await self.status.poll_once()
            except GatewayError as exc:
                log.error("status follow-up failed", extra=fields(**exc.details()))
                report.errors.append(str(exc))
            report.errors += [
                f"status of {ref}: {why}" for ref, why in self.status.last_failures.items()
            ]
        now = self._monotonic()
        due = self._next_letters_at is None or now >= self._next_letters_at
        if self.letters is not None and (due or force_letters):
            self._next_letters_at = now + self._settings.dialogporten.poll_interval_seconds
            try:
                report.letters = await self.letters.poll_once()
            except GatewayError as exc:
                log.error("letters follow-up failed", extra=fields(**exc.details()))
                report.errors.append(str(exc))
        return report

    async def run(
        self, stop: asyncio.Event, *, turn: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        """Tick every `followup.tick_seconds` until `stop` is set; with `turn` (a
        cluster's poller lock) only the rounds it says are this instance's."""
        while not stop.is_set():
            if turn is None or await turn():
                await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.followup.tick_seconds)


def build_followup(
    settings: Settings,
    journal: JournalStore,
    elan: ElanClient,
    *,
    clock: Callable[[], datetime],
    transport: httpx.AsyncBaseTransport | None = None,
    after_write: Callable[[Path], None] | None = None,
) -> Followup:
    """The follow-up for these settings, sharing the ELAN client's token provider."""
    status = (
        StatusPoller(settings, journal, elan, clock=clock, after_write=after_write)
        if settings.followup.status_enabled
        else None
    )
    dp_client = None
    letters = None
    if settings.dialogporten.enabled:
        if settings.maskinporten.systembruker is None:
            # The end-user API takes Maskinporten tokens only for system users.
            raise ConfigError(
                "dialogporten.enabled needs maskinporten.systembruker (an Altinn system user)",
                field="maskinporten.systembruker",
            )
        dp = settings.dialogporten
        dp_client = DialogportenClient(
            base_url=dp.base_url_for(settings.environment),
            tokens=elan.tokens,
            http=httpx.AsyncClient(transport=transport, timeout=dp.timeout_seconds),
            scope=dp.scope,
            attachment_scope=dp.attachment_scope,
            owned=True,
        )
        letters = LettersPoller(settings, journal, dp_client, clock=clock, after_write=after_write)
    return Followup(settings, status=status, letters=letters, dialogporten=dp_client)


def start_followup(
    settings: Settings,
    journal: JournalStore,
    elan: ElanClient,
    *,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
) -> asyncio.Task[None] | None:
    """The daemon's follow-up loop as a task that ends when `stop` is set; None when off.

    Its own failures are logged and never stop the daemon (the next tick retries).
    """
    if not settings.followup.status_enabled and not settings.dialogporten.enabled:
        return None

    # Several instances: one poller per tenant at a time (the others stand by).
    lock = PollerLock.for_settings(settings) if settings.cluster.enabled else None

    async def loop() -> None:
        try:
            async with build_followup(settings, journal, elan, clock=clock) as followup:
                await followup.run(stop, turn=None if lock is None else lock.turn)
        except GatewayError as exc:
            log.error("follow-up stopped", extra=fields(**exc.details()))
        finally:
            if lock is not None:
                try:
                    await lock.aclose()
                except GatewayError as exc:
                    # The server frees the lock with the connection either way.
                    log.warning("follow-up poller lock not closed", extra=fields(**exc.details()))

    return asyncio.create_task(loop(), name="followup")


async def followup_once(
    settings: Settings,
    journal: JournalStore,
    elan: ElanClient,
    *,
    clock: Callable[[], datetime],
) -> FollowupReport:
    """One tick with the letters forced: what `utlegg-gateway followup` (cron) runs.

    With `cluster.enabled` only while no other instance is the tenant's poller (an
    empty report otherwise: that instance polls)."""
    lock = PollerLock.for_settings(settings) if settings.cluster.enabled else None
    try:
        if lock is not None and not await lock.turn():
            return FollowupReport()
        async with build_followup(settings, journal, elan, clock=clock) as followup:
            return await followup.tick(force_letters=True)
    finally:
        if lock is not None:
            await lock.aclose()


def run_followup_once(settings: Settings) -> FollowupReport:
    """Open the journal and the ELAN client, do one follow-up tick, close (blocking)."""
    from datetime import UTC

    from utlegg_gateway.elan import build_client

    def clock() -> datetime:
        return datetime.now(UTC)

    async def main() -> FollowupReport:
        journal = open_journal(settings.journal, clock=clock)
        try:
            async with build_client(settings) as elan:
                return await followup_once(settings, journal, elan, clock=clock)
        finally:
            journal.close()

    from utlegg_gateway.gateway.runlock import RunLock

    # The same lock as once/run: two pollers would fetch and write the same changes,
    # and the outbox sweep at start relies on being the only writer.
    with RunLock(settings.runner.lock_file):
        return asyncio.run(main())
