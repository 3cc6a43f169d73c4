"""A PostgreSQL session that holds advisory locks for one purpose (ELAN call slots, a
tenant's follow-up poller).

Session advisory locks live as long as the connection: the server releases them when
the process dies or its connection drops, with no heartbeat of ours. So each purpose has
a connection of its own, apart from the journal's pool (a pooled connection is handed
to whoever asks next, and would take its locks along).

Keys are the two-integer form `(namespace, number)`: PostgreSQL keeps it apart from the
one-bigint form the journal uses (its migration lock), so neither can take the other's.
The namespace is a hash of a text such as `elan-slots/<organisation>/<api>`; two texts
with the same hash would only share their locks (stricter, never looser).

Session locks are re-entrant: the same session asking for a lock it holds gets it
again. So the session remembers which numbers it holds and never asks for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.errors import ConfigError, JournalError

if TYPE_CHECKING:
    from typing import TypeAlias

    import psycopg

    from utlegg_gateway.config import JournalSettings

    _Conn: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]

__all__ = ["AdvisorySession", "ClusterDatabase", "Held", "lock_namespace"]

log = get_logger(__name__)


def lock_namespace(text: str) -> int:
    """A stable signed 32-bit key for `text` (the same in every instance and version)."""
    digest = hashlib.blake2b(f"utlegg-gateway/{text}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class ClusterDatabase:
    """How the cluster parts reach the journal's PostgreSQL server: the connection
    string and password of `journal.url` / `journal.password`, and psycopg errors as
    JournalError (both from `journal.postgres`, the one place for them).

    Every connection sets the server's TCP keepalives for its own session from
    `dead_peer_seconds` (the lease): the server then drops the connection of a dead or
    cut-off host, and so frees its locks (its name, its ELAN slots, its tenant's
    poller), within about a lease rather than after the kernel's two hours.
    """

    def __init__(self, journal: JournalSettings, *, purpose: str, dead_peer_seconds: float) -> None:
        if journal.url is None:
            raise ConfigError(
                "cluster.enabled needs a shared PostgreSQL journal (journal.url)",
                field="journal.url",
            )
        try:
            from utlegg_gateway.journal import postgres
        except ImportError as exc:
            raise ConfigError(
                "cluster.enabled needs the PostgreSQL driver, which is not installed",
                field="cluster.enabled",
                hint="pip install 'utlegg-gateway[postgres]' (psycopg and psycopg-pool)",
            ) from exc
        self._postgres = postgres
        self._conninfo = postgres.conninfo(journal.url, application_name=purpose)
        # Read now, as the journal does at open: a missing secret is a ConfigError at start.
        self._password = None if journal.password is None else journal.password.read()
        self.masked_url = postgres.mask_url(journal.url)
        self.dead_peer_seconds = dead_peer_seconds

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """psycopg errors inside become JournalError, the password masked."""
        with self._postgres.translated(self.masked_url, self._password or "", action):
            yield

    async def connect(self) -> _Conn:
        """A new autocommit connection (a session advisory lock needs no transaction)."""
        import psycopg

        extra: dict[str, Any] = {} if self._password is None else {"password": self._password}
        idle = max(1, int(self.dead_peer_seconds // 3))
        with self.errors("connect"):
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **extra)
            try:
                await conn.execute(
                    "SELECT set_config('tcp_keepalives_idle', %s, false),"
                    " set_config('tcp_keepalives_interval', %s, false),"
                    " set_config('tcp_keepalives_count', '3', false),"
                    " set_config('tcp_user_timeout', %s, false)",
                    (str(idle), str(max(1, idle // 3)), str(int(self.dead_peer_seconds * 1000))),
                )
            except BaseException:
                await conn.close()
                raise
            return conn


@dataclass(frozen=True)
class Held:
    """One advisory lock this session holds: `(namespace, number)` on connection
    `generation` (a lock of an earlier, lost connection is already released)."""

    namespace: int
    number: int
    generation: int


class AdvisorySession:
    """One dedicated connection and the advisory locks it holds; reconnects when lost.

    Statements run one at a time (an asyncio lock), so what it holds and what it asks
    the server never disagree. Taking and giving back are shielded from cancellation: a
    cancelled caller never leaves a lock taken that nobody will give back.
    """

    def __init__(self, database: ClusterDatabase, *, name: str) -> None:
        self._database = database
        self.name = name
        self._conn: _Conn | None = None
        self._generation = 0
        self._held: set[tuple[int, int]] = set()
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- taking and giving back ---------------------------------------------------

    async def try_first(self, namespace: int, numbers: Sequence[int]) -> Held | None:
        """Take the first free lock of `numbers` (in that order) in one round trip;
        None when all are taken (by other sessions, or held by this one)."""
        task = asyncio.ensure_future(self._try_first(namespace, numbers))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The statement still finishes; whatever it took is given back then.
            task.add_done_callback(self._give_back_result)
            raise

    async def release(self, held: Held) -> None:
        """Give `held` back (a no-op if its connection has been lost: already free)."""
        task = asyncio.ensure_future(self._release(held))
        self._keep(task)
        await asyncio.shield(task)

    def release_soon(self, held: Held) -> None:
        """Give `held` back in the background (from a timer callback)."""
        self._keep(asyncio.ensure_future(self._release(held)))

    async def holds(self, held: Held) -> bool:
        """Whether `held` is still ours: the connection it was taken on is alive."""
        async with self._lock:
            if held.generation != self._generation or self._conn is None:
                return False
            try:
                with self._database.errors("check"):
                    await self._conn.execute("SELECT 1")
            except JournalError as exc:
                self._lost(exc)
                return False
            return (held.namespace, held.number) in self._held

    async def aclose(self) -> None:
        """Close the connection: the server gives back every lock it held."""
        self._closed = True
        for task in list(self._background):
            await asyncio.shield(task)
        async with self._lock:
            conn, self._conn = self._conn, None
            self._held.clear()
            self._generation += 1
            if conn is not None:
                with self._database.errors("close"):
                    await conn.close()

    @property
    def database(self) -> ClusterDatabase:
        """Where the session connects to (and how: its keepalives)."""
        return self._database

    @property
    def connection_pid(self) -> int | None:
        """The server process of the current connection (for tests and logs)."""
        return None if self._conn is None else self._conn.info.backend_pid

    # --- inside -------------------------------------------------------------------

    async def _try_first(self, namespace: int, numbers: Sequence[int]) -> Held | None:
        async with self._lock:
            free = [n for n in numbers if (namespace, n) not in self._held]
            if not free:
                return None
            # CASE tries its branches in order and stops at the first true one
            # (a volatile function is never folded ahead), so at most one lock is taken.
            whens = " ".join(f"WHEN pg_try_advisory_lock(%s, {int(n)}) THEN {int(n)}" for n in free)
            sql = f"SELECT CASE {whens} ELSE -1 END"  # the numbers are ints, never text
            row = await self._with_connection(
                "lock", lambda conn: _fetch(conn, sql, [namespace] * len(free))
            )
            number = int(row[0]) if row is not None else -1
            if number < 0:
                return None
            self._held.add((namespace, number))
            return Held(namespace, number, self._generation)

    async def _release(self, held: Held) -> None:
        async with self._lock:
            if held.generation != self._generation or self._conn is None:
                return
            self._held.discard((held.namespace, held.number))
            conn = self._conn
            try:
                with self._database.errors("unlock"):
                    await conn.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", (held.namespace, held.number)
                    )
            except JournalError as exc:
                # A lost connection has given back every lock of this session already.
                self._lost(exc)

    async def _with_connection(
        self,
        action: str,
        run: Callable[[_Conn], Awaitable[tuple[Any, ...] | None]],
    ) -> tuple[Any, ...] | None:
        """Run on the connection, connecting first if needed; one reconnect when the
        connection turns out lost (a restarted server, a dropped link)."""
        if self._closed:
            raise JournalError(
                f"the {self.name} session is closed", value=self._database.masked_url
            )
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = await self._database.connect()
            try:
                with self._database.errors(action):
                    return await run(self._conn)
            except JournalError as exc:
                self._lost(exc)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _lost(self, exc: JournalError) -> None:
        """The connection is gone or broken: the server has given back (or will, once
        it notices) every lock it held; forget them all."""
        log.warning(
            "cluster lock session lost its connection",
            extra=fields(session=self.name, held=len(self._held), error=exc.message),
        )
        conn, self._conn = self._conn, None
        self._held.clear()
        self._generation += 1
        if conn is not None and not conn.closed:
            # Closing is what makes the server give the locks back if it still holds them.
            self._keep(asyncio.ensure_future(_close_quietly(conn)))

    def _give_back_result(self, task: asyncio.Future[Held | None]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        held = task.result()
        if held is not None:
            self.release_soon(held)

    def _keep(self, task: asyncio.Future[None]) -> None:
        # A task nobody references may be collected before it runs.
        assert isinstance(task, asyncio.Task)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _close_quietly(conn: _Conn) -> None:
    # The connection is already broken; closing it can only fail the same way.
    with contextlib.suppress(Exception):
        await conn.close()


async def _fetch(conn: _Conn, sql: str, args: Sequence[int]) -> tuple[Any, ...] | None:
    cursor = await conn.execute(sql, args)
    return await cursor.fetchone()
