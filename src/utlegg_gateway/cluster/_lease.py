"""This instance's lease on the shared journal, and the takeover of a dead instance's work.

Each running instance has a row in `gateway_instances` (its name, a generation, and a
lease that ends `cluster.lease_seconds` after its last renewal, all on the database's
clock, so the hosts' clocks never matter) and holds a session advisory lock on its name.

- Start: take the name lock (a second live process with the same name is refused, exit
  3), then insert the row or raise its generation.
- Every `cluster.heartbeat_seconds`: renew the lease, where `generation` is still ours.
  No row of ours (taken over) or no renewal for a whole lease is `LeaseLostError`: the
  instance stops at once, for its files are now another's.
- Takeover: an instance whose lease has ended *and* whose name lock is free (its
  connection is gone: the process died, or its host and the server dropped the link)
  is taken over by whoever gets its name lock first. Under that lock the taker moves
  the dead instance's claimed files into its own work folder (`Inbox.take_over`), then
  deletes the row; the journal tells it, as at a restart, where each file and case
  stands. Both conditions are needed: an ended lease alone may be a slow heartbeat
  from a live process, and a free lock alone a short network drop. A file it cannot
  move yet (one of that name is in its own work folder) stays, and so does the row,
  its generation raised: the next round tries again.
- A clean stop ends the lease at once, so a peer takes over what was left in work/
  at its next heartbeat instead of a whole lease later.

The lease connection, like every cluster session's (`ClusterDatabase.connect`), sets the
server's TCP keepalives for its own session, so the server drops the connection of a dead
host (and frees its locks) within about a lease, not after the kernel's two hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.cluster._session import ClusterDatabase, lock_namespace
from utlegg_gateway.errors import InstanceNameInUseError, JournalError, LeaseLostError

if TYPE_CHECKING:
    from typing import TypeAlias

    import psycopg

    from utlegg_gateway.config import Settings

    _Conn: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]

__all__ = ["InstanceLease", "TakeOver"]

log = get_logger(__name__)

# Moves a dead peer's claimed files here: (files moved, files that had to stay there).
TakeOver = Callable[[str], tuple[int, int]]

_TABLE = """
CREATE TABLE IF NOT EXISTS gateway_instances (
    name         TEXT PRIMARY KEY,
    generation   BIGINT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL
)"""

_UPSERT = """
INSERT INTO gateway_instances AS i
    (name, generation, lease_until, heartbeat_at, started_at, host, pid)
VALUES (%s, 1, now() + make_interval(secs => %s), now(), now(), %s, %s)
ON CONFLICT (name) DO UPDATE SET
    generation = i.generation + 1, lease_until = EXCLUDED.lease_until,
    heartbeat_at = now(), started_at = now(), host = EXCLUDED.host, pid = EXCLUDED.pid
RETURNING generation"""

_RENEW = """
UPDATE gateway_instances
SET lease_until = now() + make_interval(secs => %s), heartbeat_at = now()
WHERE name = %s AND generation = %s"""

# The instances table is cluster state, not journal data: it is created here, the first
# time an instance starts, under a transaction lock so two first starts do not collide.
_CREATE_LOCK = lock_namespace("instances/create")


def _name_key(name: str) -> int:
    return lock_namespace(f"instance/{name}")


class InstanceLease:
    """This instance's row and name lock; see the module docstring."""

    def __init__(
        self,
        database: ClusterDatabase,
        *,
        instance: str,
        lease_seconds: float,
        heartbeat_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self.instance = instance
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._monotonic = monotonic
        self._conn: _Conn | None = None
        self.generation: int | None = None
        self._renewed_at = 0.0
        # Peers seen with an ended lease but a live connection: warned about once each.
        self._hung: set[str] = set()

    @classmethod
    def for_settings(cls, settings: Settings) -> InstanceLease:
        """The lease of `settings.cluster`'s instance (not started yet)."""
        instance = settings.cluster.instance_name()
        return cls(
            ClusterDatabase(
                settings.journal,
                purpose=f"lease@{instance}",
                dead_peer_seconds=settings.cluster.lease_seconds,
            ),
            instance=instance,
            lease_seconds=settings.cluster.lease_seconds,
            heartbeat_seconds=settings.cluster.heartbeat_seconds,
        )

    @property
    def database(self) -> ClusterDatabase:
        """Where the lease connects to (and how: its keepalives)."""
        return self._database

    # --- start and stop ---------------------------------------------------------------

    async def start(self, *, wait_seconds: float | None = None) -> None:
        """Take the name lock and the lease, or raise InstanceNameInUseError.

        The name lock is waited for a little (`wait_seconds`, two heartbeats by default):
        a peer taking this instance's work over holds it for the moment of its moves."""
        conn = await self._connect()
        deadline = self._monotonic() + (
            2 * self.heartbeat_seconds if wait_seconds is None else wait_seconds
        )
        while not await self._try_lock(conn, self.instance):
            if self._monotonic() >= deadline:
                await self._close()
                raise InstanceNameInUseError(
                    f"another live gateway instance is named {self.instance!r}",
                    field="cluster.instance",
                    value=self.instance,
                    hint="give each instance its own cluster.instance (the host name by "
                    "default); a stopped one frees its name at once",
                )
            await asyncio.sleep(0.2)
        row = await self._one(
            conn, _UPSERT, (self.instance, self.lease_seconds, socket.gethostname(), os.getpid())
        )
        assert row is not None  # RETURNING always gives the row
        self.generation = int(row[0])
        self._renewed_at = self._monotonic()
        log.info(
            "cluster instance started",
            extra=fields(
                instance=self.instance,
                generation=self.generation,
                lease_seconds=self.lease_seconds,
            ),
        )

    async def release(self) -> None:
        """End the lease now (a peer takes over what is left) and drop the name lock."""
        if self._conn is not None and self.generation is not None:
            try:
                await self._run(
                    self._conn,
                    "UPDATE gateway_instances SET lease_until = now() - interval '1 second'"
                    " WHERE name = %s AND generation = %s",
                    (self.instance, self.generation),
                )
                # Given back here, not left to the server: a closed connection's backend
                # frees its locks a moment later, and a peer looking just then would wait
                # a whole heartbeat more.
                await self._run(
                    self._conn, "SELECT pg_advisory_unlock(%s, 0)", (_name_key(self.instance),)
                )
            except JournalError as exc:
                # The lease then ends by itself, a lease later.
                log.warning("could not end the lease at stop", extra=fields(**exc.details()))
        await self._close()

    # --- renewal and takeover -----------------------------------------------------------

    async def renew(self) -> str | None:
        """Renew the lease: None, or why it failed this time (tried again at the next
        heartbeat); LeaseLostError when it is no longer ours."""
        try:
            conn = self._conn
            if conn is None or conn.closed:
                # A new connection: our name lock went with the old one, take it again.
                conn = await self._connect()
                if not await self._try_lock(conn, self.instance):
                    raise self._lost("another process holds this instance's name now")
            updated = await self._rowcount(
                conn, _RENEW, (self.lease_seconds, self.instance, self.generation)
            )
        except JournalError as exc:
            await self._close()
            if self._monotonic() - self._renewed_at >= self.lease_seconds:
                raise self._lost("no renewal for a whole lease") from exc
            log.warning("lease renewal failed; trying again", extra=fields(**exc.details()))
            return exc.message
        if updated != 1:
            raise self._lost("another instance has taken this one's work over")
        self._renewed_at = self._monotonic()
        return None

    async def take_over_ended(self, take_over: TakeOver) -> int:
        """Take over every peer whose lease has ended and whose connection is gone:
        the number of files moved here."""
        conn = self._conn
        if conn is None or conn.closed:
            return 0
        try:
            peers = await self._all(
                conn,
                "SELECT name FROM gateway_instances WHERE name <> %s AND lease_until < now()"
                " ORDER BY name",
                (self.instance,),
            )
            moved = 0
            for (peer,) in peers:
                moved += await self._take_over(conn, str(peer), take_over)
            return moved
        except JournalError as exc:
            log.warning("takeover check failed", extra=fields(**exc.details()))
            return 0

    async def _take_over(self, conn: _Conn, peer: str, take_over: TakeOver) -> int:
        if not await self._try_lock(conn, peer):
            if peer not in self._hung:
                self._hung.add(peer)
                log.warning(
                    "an instance's lease has ended but its connection is alive; not taking"
                    " its work (a hung process, or a clock far off?)",
                    extra=fields(peer=peer),
                )
            return 0
        self._hung.discard(peer)
        try:
            # Under its name lock the peer cannot start again; is it still ended?
            row = await self._one(
                conn,
                "SELECT generation FROM gateway_instances WHERE name = %s AND lease_until < now()",
                (peer,),
            )
            if row is None:
                return 0
            moved, left = take_over(peer)
            if left:
                # Files it had to leave (a name already in our work folder) are tried again
                # at the next round, so the peer stays on the books, lease ended. Its
                # generation is raised all the same: should the old process come back, its
                # renewal finds the lease no longer its own and it stops, as when deleted.
                await self._run(
                    conn,
                    "UPDATE gateway_instances SET generation = generation + 1 WHERE name = %s",
                    (peer,),
                )
            else:
                await self._run(conn, "DELETE FROM gateway_instances WHERE name = %s", (peer,))
            if moved or not left:
                log.warning(
                    "took over a dead instance's work",
                    extra=fields(peer=peer, instance=self.instance, files=moved, left=left),
                )
            return moved
        finally:
            await self._run(conn, "SELECT pg_advisory_unlock(%s, 0)", (_name_key(peer),))

    # --- connection -----------------------------------------------------------------------

    async def _connect(self) -> _Conn:
        conn = await self._database.connect()
        self._conn = conn
        async with conn.transaction():
            await self._run(conn, "SELECT pg_advisory_xact_lock(%s, 0)", (_CREATE_LOCK,))
            await self._run(conn, _TABLE, ())
        return conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                with self._database.errors("close"):
                    await conn.close()
            except JournalError:  # the server frees the session's locks either way
                log.debug("lease connection close failed", extra=fields(instance=self.instance))

    async def _try_lock(self, conn: _Conn, name: str) -> bool:
        row = await self._one(conn, "SELECT pg_try_advisory_lock(%s, 0)", (_name_key(name),))
        return bool(row and row[0])

    def _lost(self, why: str) -> LeaseLostError:
        log.error("cluster lease lost; stopping", extra=fields(instance=self.instance, why=why))
        return LeaseLostError(
            f"instance {self.instance!r} lost its lease: {why}",
            field="cluster.lease_seconds",
            value=self.instance,
            hint="its files are resumed by another instance; start it again",
        )

    async def _run(self, conn: _Conn, sql: str, args: tuple[Any, ...]) -> None:
        with self._database.errors("lease"):
            await conn.execute(sql, args)

    async def _one(self, conn: _Conn, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._database.errors("lease"):
            cursor = await conn.execute(sql, args)
            return await cursor.fetchone()

    async def _all(self, conn: _Conn, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._database.errors("lease"):
            cursor = await conn.execute(sql, args)
            return list(await cursor.fetchall())

    async def _rowcount(self, conn: _Conn, sql: str, args: tuple[Any, ...]) -> int:
        with self._database.errors("lease"):
            cursor = await conn.execute(sql, args)
            return cursor.rowcount


async def keep_lease(
    lease: InstanceLease,
    stop: asyncio.Event,
    *,
    take_over: TakeOver | None = None,
    on_taken: Callable[[int], None] | None = None,
    on_renewal: Callable[[str | None], None] | None = None,
) -> None:
    """Renew every heartbeat until `stop`; with `take_over`, also take over ended peers.
    `on_renewal` hears each renewal's outcome (None: renewed; else why not).

    Raises LeaseLostError (the caller stops at once)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), lease.heartbeat_seconds)
        if stop.is_set():
            return
        failed = await lease.renew()
        if on_renewal is not None:
            on_renewal(failed)
        if take_over is not None:
            moved = await lease.take_over_ended(take_over)
            if moved and on_taken is not None:
                on_taken(moved)
