"""Instance leases on a real PostgreSQL server: a name held once, a lease renewed, a dead
instance's work taken over only when its lease has ended *and* its connection is gone,
and the files moved into the taker's work folder with the journal following."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.cluster.conftest import instance_settings
from utlegg_gateway.cluster import ClusterSlotGate, PollerLock, cluster_slot_gates
from utlegg_gateway.cluster._lease import InstanceLease
from utlegg_gateway.cluster._session import ClusterDatabase
from utlegg_gateway.config import JournalSettings
from utlegg_gateway.errors import InstanceNameInUseError, LeaseLostError
from utlegg_gateway.folders.work import Inbox, Takeover
from utlegg_gateway.journal import JournalStore, open_journal
from utlegg_gateway.journal.sqlite import FileState

pytestmark = pytest.mark.postgres

LEASE = 0.6  # seconds: short, so a test waits for an ending lease in under a second


def _lease(journal: JournalSettings, name: str) -> InstanceLease:
    return InstanceLease(
        ClusterDatabase(journal, purpose=f"test-{name}", dead_peer_seconds=LEASE),
        instance=name,
        lease_seconds=LEASE,
        heartbeat_seconds=LEASE / 4,
    )


class _Taker:
    """A takeover callback that records whom it took over and says it moved `moves` and
    had to leave `left`."""

    def __init__(self, *, moves: int, left: int = 0) -> None:
        self.moves = moves
        self.left = left
        self.peers: list[str] = []

    def __call__(self, peer: str) -> tuple[int, int]:
        self.peers.append(peer)
        return self.moves, self.left


def _rows(journal: JournalSettings) -> dict[str, int]:
    assert journal.url is not None and journal.password is not None
    with psycopg.connect(journal.url, password=journal.password.read()) as conn:
        return dict(conn.execute("SELECT name, generation FROM gateway_instances").fetchall())


async def _terminate(journal: JournalSettings, lease: InstanceLease) -> None:
    """End a lease's session from the server side: what the server does when its host
    dies (or the process is killed and the kernel closes the socket)."""
    assert lease._conn is not None and journal.url is not None and journal.password is not None
    pid = lease._conn.info.backend_pid
    async with await psycopg.AsyncConnection.connect(
        journal.url, password=journal.password.read(), autocommit=True
    ) as admin:
        # With a timeout the call returns only once the backend has gone and its advisory
        # locks with it; without one it returns at the signal, and a takeover at once
        # could still find the name lock held (seen once in CI).
        ended = await (
            await admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        ).fetchone()
        assert ended == (True,)


def test_a_live_name_is_refused_and_a_restart_raises_the_generation(
    cluster_journal: JournalSettings,
) -> None:
    async def run() -> None:
        a = _lease(cluster_journal, "gw-a")
        await a.start()
        assert a.generation == 1
        twin = _lease(cluster_journal, "gw-a")
        with pytest.raises(InstanceNameInUseError) as refused:
            await twin.start(wait_seconds=0.3)
        assert refused.value.exit_code == 3
        assert refused.value.value == "gw-a"
        await a.release()
        again = _lease(cluster_journal, "gw-a")
        await again.start()
        assert again.generation == 2
        await again.release()

    asyncio.run(run())
    assert _rows(cluster_journal) == {"gw-a": 2}


def test_takeover_needs_an_ended_lease_and_a_gone_connection(
    cluster_journal: JournalSettings, caplog: pytest.LogCaptureFixture
) -> None:
    take_over = _Taker(moves=3)
    taken = take_over.peers

    async def run() -> None:
        a, b = _lease(cluster_journal, "gw-a"), _lease(cluster_journal, "gw-b")
        await a.start()
        await b.start()
        try:
            # Alive and renewing: nothing to take.
            assert await b.take_over_ended(take_over) == 0
            # Its lease ended (no renewal) but its connection is alive: a hung process
            # is not taken over, for it might still be sending.
            await asyncio.sleep(LEASE + 0.2)
            await b.renew()
            assert await b.take_over_ended(take_over) == 0
            assert taken == []
            # The connection gone too: taken over, and its row is gone.
            await _terminate(cluster_journal, a)
            assert await b.take_over_ended(take_over) == 3
            assert taken == ["gw-a"]
            assert set(_rows(cluster_journal)) == {"gw-b"}
            # The old instance, back from its pause, learns it lost its work and stops.
            with pytest.raises(LeaseLostError):
                await a.renew()
        finally:
            await a.release()
            await b.release()

    with caplog.at_level(logging.WARNING, logger="utlegg_gateway.cluster._lease"):
        asyncio.run(run())
    messages = [r.getMessage() for r in caplog.records]
    assert any("connection is alive; not taking" in m for m in messages)
    assert "took over a dead instance's work" in messages


def test_a_clean_stop_is_taken_over_at_once_and_a_live_lease_is_renewed(
    cluster_journal: JournalSettings,
) -> None:
    take_over = _Taker(moves=1)
    taken = take_over.peers

    async def run() -> None:
        a, b = _lease(cluster_journal, "gw-a"), _lease(cluster_journal, "gw-b")
        await a.start()
        await b.start()
        # Renewed well past its first lease: never taken.
        deadline = time.monotonic() + 2 * LEASE
        while time.monotonic() < deadline:
            await a.renew()
            assert await b.take_over_ended(take_over) == 0
            await asyncio.sleep(LEASE / 4)
        await a.release()  # SIGTERM: the lease ends now, not a lease later
        assert await b.take_over_ended(take_over) == 1
        await b.release()

    asyncio.run(run())
    assert taken == ["gw-a"]


def _clock() -> datetime:
    return datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def _dead_and_taker(
    cluster_journal: JournalSettings, tmp_path: Path, journal: JournalStore
) -> tuple[Inbox, Inbox]:
    """One inbox as the dead instance gw-a and the taker gw-b see it (work/in/<name>/)."""
    settings = instance_settings(
        tmp_path,
        cluster_journal,
        instance="gw-b",
        inboxes=[{"name": "in", "path": str(tmp_path / "drop")}],
    )
    root = tmp_path / "work" / "in"
    dead, taker = (
        Inbox(settings.inboxes[0], work=root / name, journal=journal, clock=_clock, root=root)
        for name in ("gw-a", "gw-b")
    )
    return dead, taker


def test_a_taken_over_file_moves_with_its_journal_row_and_a_half_done_move_is_adopted(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    root = tmp_path / "work" / "in"
    with open_journal(cluster_journal, clock=_clock) as journal:
        dead, taker = _dead_and_taker(cluster_journal, tmp_path, journal)
        dead.work.mkdir(parents=True)
        moved_file = dead.work / "krav-1.csv"
        moved_file.write_bytes(b"one\n")
        half_done = dead.work / "krav-2.csv"
        half_done.write_bytes(b"two\n")
        first = dead.register(moved_file)
        second = dead.register(half_done)
        journal.set_file_state(first.id, FileState.MAPPING)

        # A taker killed between its rename and the journal update left this one:
        taker.work.mkdir(parents=True)
        half_done.rename(taker.work / "krav-2.csv")
        assert taker.take_over("gw-a") == Takeover(moved=1, left=0)
        assert not moved_file.exists()
        assert journal.file(first.id).path == str(taker.work / "krav-1.csv")
        assert journal.file(first.id).state is FileState.MAPPING
        # Its restart (or the next takeover round) finds both as journal records, none new.
        taken = {r.id: r for r in taker.recover()}
        assert set(taken) == {first.id, second.id}
        assert taken[second.id].path == str(taker.work / "krav-2.csv")
        assert len(journal.files_in_states(*FileState)) == 2
        # The dead instance, started again, finds nothing of its own left.
        assert dead.recover() == []
        # A file claimed before `cluster.enabled` was switched on (in the inbox's own
        # work folder) is taken up by the first instance to start.
        legacy = root / "krav-3.csv"
        legacy.write_bytes(b"three\n")
        third = dead.register(legacy)
        assert taker.take_over("") == Takeover(moved=1, left=0)
        assert journal.file(third.id).path == str(taker.work / "krav-3.csv")
        assert dead.take_over("") == Takeover(moved=0, left=0)


def test_a_file_whose_name_the_taker_holds_waits_and_is_taken_over_once_that_one_is_done(
    cluster_journal: JournalSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An export that always has the same name, claimed by two instances: the dead one's
    is never moved over the taker's (nor lost); it is moved at a round after the taker's
    own is archived, with its journal row, and the error is logged once, not per round."""
    with open_journal(cluster_journal, clock=_clock) as journal:
        dead, taker = _dead_and_taker(cluster_journal, tmp_path, journal)
        for inbox, night in ((dead, b"monday\n"), (taker, b"tuesday\n")):
            inbox.work.mkdir(parents=True)
            (inbox.work / "utlegg.csv").write_bytes(night)
        theirs = dead.register(dead.work / "utlegg.csv")
        ours = taker.register(taker.work / "utlegg.csv")

        with caplog.at_level(logging.ERROR, logger="utlegg_gateway.folders.work"):
            assert taker.take_over("gw-a") == Takeover(moved=0, left=1)
            assert taker.take_over("gw-a") == Takeover(moved=0, left=1)
        assert [r.getMessage() for r in caplog.records].count(
            "cannot take over a file yet: one of that name is in this work folder; it is"
            " moved once that one is done"
        ) == 1
        assert (dead.work / "utlegg.csv").read_bytes() == b"monday\n"
        assert (taker.work / "utlegg.csv").read_bytes() == b"tuesday\n"
        assert journal.file(theirs.id).path == str(dead.work / "utlegg.csv")

        # Ours answered and archived: the next round moves theirs in, its row following.
        archive = tmp_path / "archive"
        archive.mkdir()
        (taker.work / "utlegg.csv").rename(archive / "utlegg.csv")
        journal.set_file_path(ours.id, archive / "utlegg.csv")
        assert taker.take_over("gw-a") == Takeover(moved=1, left=0)
        assert (taker.work / "utlegg.csv").read_bytes() == b"monday\n"
        assert journal.file(theirs.id).path == str(taker.work / "utlegg.csv")
        assert [r.id for r in taker.recover()] == [theirs.id]


def test_a_takeover_never_renames_over_a_dangling_link_of_that_name(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """A refused symlink is kept in work/ unfollowed and may dangle: `exists()` is false
    for it, and a rename would have replaced it (and its journal row's file)."""
    with open_journal(cluster_journal, clock=_clock) as journal:
        dead, taker = _dead_and_taker(cluster_journal, tmp_path, journal)
        dead.work.mkdir(parents=True)
        taker.work.mkdir(parents=True)
        (dead.work / "krav.csv").write_bytes(b"theirs\n")
        (taker.work / "krav.csv").symlink_to(tmp_path / "gone")
        assert taker.take_over("gw-a") == Takeover(moved=0, left=1)
        assert (taker.work / "krav.csv").is_symlink()
        assert (dead.work / "krav.csv").read_bytes() == b"theirs\n"


def test_a_peer_with_files_left_stays_on_the_books_until_a_round_moves_them(
    cluster_journal: JournalSettings,
) -> None:
    """A takeover that had to leave files keeps the dead peer's row (lease ended, so the
    next round tries again) but raises its generation, so the old process, were it to
    come back, stops; once nothing is left, the row goes."""

    async def run() -> None:
        a, b = _lease(cluster_journal, "gw-a"), _lease(cluster_journal, "gw-b")
        await a.start()
        await b.start()
        try:
            generation = _rows(cluster_journal)["gw-a"]
            await _terminate(cluster_journal, a)
            await asyncio.sleep(LEASE + 0.2)
            await b.renew()
            stuck = _Taker(moves=0, left=1)
            assert await b.take_over_ended(stuck) == 0
            assert await b.take_over_ended(stuck) == 0
            assert stuck.peers == ["gw-a", "gw-a"]  # tried again at the next round
            assert _rows(cluster_journal)["gw-a"] == generation + 2
            with pytest.raises(LeaseLostError):
                await a.renew()  # back from the dead: its lease is not its own any more
            done = _Taker(moves=1)
            assert await b.take_over_ended(done) == 1
            assert set(_rows(cluster_journal)) == {"gw-b"}
            assert await b.take_over_ended(done) == 0
            assert done.peers == ["gw-a"]
        finally:
            await a.release()
            await b.release()

    asyncio.run(run())


def test_every_cluster_session_asks_the_server_for_keepalives_within_a_lease(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """The lease, the ELAN slots and the tenant's poller each hold locks on a connection
    of their own. Each sets the server's TCP keepalives from `cluster.lease_seconds`, so
    the server drops a dead host's connection, and frees its locks, within about a lease
    (30 s: idle 10 s, then 3 probes 3 s apart; 30 s unacknowledged), not after the
    kernel's two hours. The slot and poller sessions once connected without them."""
    settings = instance_settings(tmp_path, cluster_journal, instance="gw-k")
    assert settings.cluster.lease_seconds == 30
    gate = cluster_slot_gates(settings, 5)["status"]
    assert isinstance(gate, ClusterSlotGate)
    databases = {
        "lease": InstanceLease.for_settings(settings).database,
        "slots": gate.session.database,
        "poller": PollerLock.for_settings(settings).session.database,
    }

    async def keepalives(database: ClusterDatabase) -> dict[str, str]:
        conn = await database.connect()
        try:
            cursor = await conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('tcp_keepalives_idle',"
                " 'tcp_keepalives_interval', 'tcp_keepalives_count', 'tcp_user_timeout')"
            )
            return {str(name): str(value) for name, value in await cursor.fetchall()}
        finally:
            await conn.close()

    async def run() -> dict[str, dict[str, str]]:
        return {purpose: await keepalives(db) for purpose, db in databases.items()}

    expected = {
        "tcp_keepalives_idle": "10",
        "tcp_keepalives_interval": "3",
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": "30000",
    }
    assert asyncio.run(run()) == dict.fromkeys(databases, expected)
