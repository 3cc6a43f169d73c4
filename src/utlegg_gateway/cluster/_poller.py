"""One follow-up poller per tenant across the cluster.

Every instance runs the follow-up loop; before each round it asks `PollerLock.turn()`.
The first to ask takes the tenant's lock (a session advisory lock on a connection of its
own, `pg_try_advisory_lock`) and keeps it while it runs: its rounds check only that the
connection is still alive (the lock lives as long as it). The others get False and ask
again on their next round, so when the holder dies (its connection closes and the
server frees the lock) one of them takes over within one follow-up step.

A holder that is alive but finds its connection lost stands by for a few turns before
it asks again. Asking at once would race the peers that have been asking all along,
and it usually wins that race (it notices first), so a host with a failing link would
keep the tenant; this way a peer takes over, and a lone instance resumes a step later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.cluster._session import AdvisorySession, ClusterDatabase, Held, lock_namespace
from utlegg_gateway.errors import JournalError

if TYPE_CHECKING:
    from utlegg_gateway.config import Settings

__all__ = ["PollerLock"]

log = get_logger(__name__)

# Turns a holder that lost its connection waits before asking again: two, so every peer
# polling at the same tick has asked at least once after the lock was freed.
STANDBY_TURNS_AFTER_LOSS = 2


class PollerLock:
    """Whether this instance is the tenant's follow-up poller now; see the module doc."""

    def __init__(self, session: AdvisorySession, *, tenant: str, instance: str) -> None:
        self._session = session
        self.tenant = tenant
        self.instance = instance
        self.namespace = lock_namespace(f"followup/{tenant}")
        self._held: Held | None = None
        # What the last turn said, so the log says each change once, not every round.
        self._polling: bool | None = None
        self._standby_turns = 0

    @classmethod
    def for_settings(cls, settings: Settings) -> PollerLock:
        """The lock of `settings`' tenant, on a connection of its own (made at first use)."""
        tenant = settings.tenant
        instance = settings.cluster.instance_name()
        session = AdvisorySession(
            ClusterDatabase(
                settings.journal,
                purpose=f"followup@{instance}",
                dead_peer_seconds=settings.cluster.lease_seconds,
            ),
            name=f"followup/{tenant}",
        )
        return cls(session, tenant=tenant, instance=instance)

    @property
    def session(self) -> AdvisorySession:
        """The lock's own session (tests end its connection to play a dead holder)."""
        return self._session

    async def turn(self) -> bool:
        """True when this instance holds (or has just taken) the lock: poll this round."""
        try:
            if self._held is not None and not await self._session.holds(self._held):
                self._held = None
                self._standby_turns = STANDBY_TURNS_AFTER_LOSS
            if self._standby_turns:
                self._standby_turns -= 1
            elif self._held is None:
                self._held = await self._session.try_first(self.namespace, (0,))
        except JournalError as exc:
            # The database is unreachable: nobody can tell who polls, so this one does
            # not (the journal writes of a round would fail as well).
            log.error("follow-up poller lock unavailable", extra=fields(**exc.details()))
            self._held = None
        polling = self._held is not None
        if polling != self._polling:
            self._polling = polling
            log.info(
                "follow-up poller: this instance polls"
                if polling
                else "follow-up poller: another instance polls",
                extra=fields(tenant=self.tenant, instance=self.instance, polling=polling),
            )
        return polling

    async def aclose(self) -> None:
        """Give the lock up (closing its connection): another instance takes over."""
        self._held = None
        await self._session.aclose()
