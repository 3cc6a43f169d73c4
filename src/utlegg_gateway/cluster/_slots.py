"""ELAN call slots: at most 5 calls in flight per API per organisation (Skatteetaten).

The ELAN client asks a `SlotGate` for a `Slot` before each call and gives it back when
the call is over. One process: `LocalSlotGate`, an asyncio semaphore. Several instances
(`cluster.enabled`): `ClusterSlotGate`, which keeps that semaphore in front (a process
never asks the cluster for more than its own limit) and then takes one of the
organisation's cluster-wide slots, a PostgreSQL session advisory lock
`(namespace of organisation + API scope, slot number 0..4)`, with `pg_try_advisory_lock`
on the gate's own connection (`AdvisorySession`). When all are taken it asks again every
`cluster.slot_poll_seconds` (plus up to half of that at random, so waiting instances do
not ask in step). A process that dies loses its connection, and the server gives its
slots back: no lease, no clean-up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from utlegg_gateway.cluster._session import AdvisorySession, ClusterDatabase, Held, lock_namespace

if TYPE_CHECKING:
    from utlegg_gateway.config import Settings

__all__ = [
    "ELAN_APIS",
    "ClusterSlotGate",
    "LocalSlotGate",
    "Slot",
    "SlotGate",
    "SlotGates",
    "cluster_slot_gates",
    "local_slot_gates",
]

# Skatteetaten: at most 5 concurrent calls per API per organisation; never more.
MAX_SLOTS = 5
# ELAN's separately published APIs, each with its own 5 (concurrency_scope "api").
ELAN_APIS = ("innsending", "status", "betjeningskartet")


class Slot(Protocol):
    """One call's place among the in-flight calls; give it back exactly once."""

    async def release(self) -> None:
        """Give the slot back now."""
        ...

    def release_after(self, seconds: float) -> None:
        """Give it back `seconds` from now (a call we stopped waiting for may still be
        running at ELAN: its slot stays taken)."""
        ...


class SlotGate(Protocol):
    """At most a fixed number of calls in flight through it; `acquire` waits for room."""

    async def acquire(self) -> Slot:
        """Wait for a free slot and take it."""
        ...


class _LocalSlot:
    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore

    def _give_back(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None

    async def release(self) -> None:
        self._give_back()

    def release_after(self, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self._give_back)


class LocalSlotGate:
    """This process's own limit: an asyncio semaphore (the default without a cluster)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)

    async def acquire(self) -> Slot:
        await self._semaphore.acquire()
        return _LocalSlot(self._semaphore)


class _ClusterSlot:
    def __init__(self, local: Slot, session: AdvisorySession, held: Held) -> None:
        self._local = local
        self._session = session
        self._held: Held | None = held

    async def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        try:
            await self._session.release(held)
        finally:
            await self._local.release()

    def release_after(self, seconds: float) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        session = self._session

        def give_back() -> None:
            session.release_soon(held)

        asyncio.get_running_loop().call_later(seconds, give_back)
        self._local.release_after(seconds)


class ClusterSlotGate:
    """One organisation's (and API scope's) slots across every instance of the cluster."""

    def __init__(
        self,
        session: AdvisorySession,
        *,
        organisation: str,
        scope: str,
        local: SlotGate,
        slots: int = MAX_SLOTS,
        poll_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self.namespace = lock_namespace(f"elan-slots/{organisation}/{scope}")
        self._local = local
        self._numbers = tuple(range(min(slots, MAX_SLOTS)))
        self._poll = poll_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not crypto

    @property
    def session(self) -> AdvisorySession:
        """The session that holds the slots (shared by the organisation's gates)."""
        return self._session

    async def acquire(self) -> Slot:
        local = await self._local.acquire()
        try:
            while True:
                # Start at a random slot: instances asking at once try different ones first.
                start = self._rng.randrange(len(self._numbers))
                order = self._numbers[start:] + self._numbers[:start]
                held = await self._session.try_first(self.namespace, order)
                if held is not None:
                    return _ClusterSlot(local, self._session, held)
                await self._sleep(self._poll * (1 + self._rng.random() / 2))
        except BaseException:
            await local.release()
            raise


class SlotGates:
    """The gates of one ELAN client (= one organisation), per API, and what closes them."""

    def __init__(
        self, gates: Mapping[str, SlotGate], session: AdvisorySession | None = None
    ) -> None:
        self.gates = dict(gates)
        self._session = session

    def __getitem__(self, api: str) -> SlotGate:
        return self.gates[api]

    async def aclose(self) -> None:
        """Close the cluster session, if any: the server gives back every slot it held."""
        if self._session is not None:
            await self._session.aclose()


def _per_api(scope: str, make: Callable[[str], SlotGate]) -> dict[str, SlotGate]:
    # The limit is per API per organisation; `organisation` scope shares one pool.
    if scope == "organisation":
        shared = make("organisation")
        return dict.fromkeys(ELAN_APIS, shared)
    return {api: make(api) for api in ELAN_APIS}


def local_slot_gates(limit: int, scope: str) -> SlotGates:
    """One process's gates: `limit` calls per API (or per organisation, by `scope`)."""
    return SlotGates(_per_api(scope, lambda _api: LocalSlotGate(limit)))


def cluster_slot_gates(settings: Settings, limit: int) -> SlotGates:
    """The gates for `settings`' organisation across the cluster (`cluster.enabled`).

    The organisation is `organisation` (each tenant has its own; the configuration
    refuses two tenants of one), else the one the token acts for, else the tenant name.
    """
    organisation = settings.organisation or settings.acting_organisation or settings.tenant
    session = AdvisorySession(
        # The instance in application_name: pg_stat_activity shows who holds what.
        ClusterDatabase(
            settings.journal,
            purpose=f"slots@{settings.cluster.instance_name()}",
            dead_peer_seconds=settings.cluster.lease_seconds,
        ),
        name=f"elan-slots/{organisation}",
    )
    scope = settings.elan.concurrency_scope
    gates = _per_api(
        scope,
        lambda api: ClusterSlotGate(
            session,
            organisation=organisation,
            scope=api,
            local=LocalSlotGate(limit),
            slots=limit,
            poll_seconds=settings.cluster.slot_poll_seconds,
        ),
    )
    return SlotGates(gates, session)
