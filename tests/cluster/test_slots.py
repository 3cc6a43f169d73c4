"""The organisation's 5 ELAN slots hold across instances (`cluster.enabled`).

Real parts: a throwaway PostgreSQL server (tests/_postgres.py), the sandbox over HTTP on
127.0.0.1 (a free port), two ELAN clients that are two instances (each its own
database session), and a separate process killed with SIGKILL while holding slots.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cluster.conftest import instance_data, instance_settings
from utlegg_gateway.cluster import (
    AdvisorySession,
    ClusterDatabase,
    ClusterSlotGate,
    LocalSlotGate,
    cluster_slot_gates,
)
from utlegg_gateway.config import JournalSettings
from utlegg_gateway.elan import build_client
from utlegg_gateway.sandbox import SandboxOptions

pytestmark = pytest.mark.postgres

CALLS_PER_INSTANCE = 12  # 24 at once for one organisation: far more than 5


@pytest.mark.parametrize(
    "gate_and_server_limit",
    [(True, 5), (True, 10), (False, 5), (False, 10)],
    ids=["cluster-gate", "cluster-gate-lenient-server", "local-only", "local-only-lenient-server"],
)
def test_two_instances_never_have_more_than_five_calls_in_flight(
    make_sandbox: Callable[..., AbstractContextManager[Any]],
    sandbox_credentials: Any,
    cluster_journal: JournalSettings,
    tmp_path: Path,
    gate_and_server_limit: tuple[bool, int],
) -> None:
    """24 status calls at once from two instances of one organisation, each call held
    0.1 s by the sandbox. With the cluster gate the sandbox sees 5 in flight and refuses
    none; a sandbox that would take 10 (`lenient-server`) still sees only 5.

    Without the gate (`local-only`: each instance only its own 5) the same load goes
    over: Skatteetaten's limit of 5 refuses calls, and a server that takes 10 sees more
    than 5 in flight. So these tests would catch a gate that does not hold."""
    cluster, sandbox_limit = gate_and_server_limit
    options = SandboxOptions(scanning_seconds=0.0, max_concurrency=sandbox_limit)
    with make_sandbox(options) as sandbox:
        sandbox.admin.set_faults({"status": {"sequence": ["delay:0.1"] * (2 * CALLS_PER_INSTANCE)}})
        instances = [
            instance_settings(
                tmp_path / name,
                cluster_journal,
                instance=name,
                cluster=cluster,
                sandbox=sandbox,
                credentials=sandbox_credentials,
            )
            for name in ("gw-a", "gw-b")
        ]

        async def run() -> list[Any]:
            async with (
                build_client(instances[0]) as gw_a,
                build_client(instances[1]) as gw_b,
            ):
                calls = [
                    elan.status("TEST_SAK_FORELAGT")
                    for elan in (gw_a, gw_b)
                    for _ in range(CALLS_PER_INSTANCE)
                ]
                return list(await asyncio.gather(*calls, return_exceptions=True))

        results = asyncio.run(run())
        stats = sandbox.admin.stats()
    if cluster:
        assert [r["saksstatus"] for r in results] == ["sakForelagt"] * 2 * CALLS_PER_INSTANCE
        assert stats["max_concurrency_seen"] == 5
        assert stats["rejected_concurrency"] == 0
    elif sandbox_limit == 5:
        assert stats["rejected_concurrency"] > 0
    else:
        assert stats["max_concurrency_seen"] > 5


def _gate(settings: Any, api: str = "status") -> tuple[Any, ClusterSlotGate]:
    gates = cluster_slot_gates(settings, 5)
    gate = gates[api]
    assert isinstance(gate, ClusterSlotGate)
    return gates, gate


def _own_gate(
    journal: JournalSettings, settings: Any, sleep: Any = asyncio.sleep
) -> tuple[AdvisorySession, ClusterSlotGate]:
    """A status gate of `settings`' organisation on a session the test holds."""
    session = AdvisorySession(
        ClusterDatabase(journal, purpose="test", dead_peer_seconds=30), name="test"
    )
    gate = ClusterSlotGate(
        session,
        organisation=settings.organisation,
        scope="status",
        local=LocalSlotGate(5),
        poll_seconds=0.01,
        sleep=sleep,
    )
    return session, gate


async def _free_slots(journal: JournalSettings, namespace: int) -> int:
    """How many of the 5 slots another session can take now (given straight back)."""
    probe = AdvisorySession(
        ClusterDatabase(journal, purpose="probe", dead_peer_seconds=30), name="probe"
    )
    try:
        taken = []
        while (held := await probe.try_first(namespace, range(5))) is not None:
            taken.append(held)
        return len(taken)
    finally:
        await probe.aclose()


async def _holders(journal: JournalSettings) -> dict[str, int]:
    """Advisory locks held per application_name: what docs/operations.md tells to query."""
    assert journal.url is not None and journal.password is not None
    async with await psycopg.AsyncConnection.connect(
        journal.url, password=journal.password.read(), autocommit=True
    ) as conn:
        cursor = await conn.execute(
            "SELECT a.application_name, count(*) FROM pg_locks l"
            " JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' GROUP BY 1"
        )
        return {str(name): int(n) for name, n in await cursor.fetchall()}


def test_slots_are_shared_and_given_back(cluster_journal: JournalSettings, tmp_path: Path) -> None:
    """Two gates of one organisation share 5 slots; a given-back slot is free again; the
    other API (scope "api") has 5 of its own; closing a gate frees what it still held."""
    a = instance_settings(tmp_path / "a", cluster_journal, instance="gw-a")
    b = instance_settings(tmp_path / "b", cluster_journal, instance="gw-b")

    async def run() -> None:
        gates_a, gate_a = _gate(a)
        gates_b, gate_b = _gate(b)
        try:
            held = [await gate_a.acquire() for _ in range(3)]
            held += [await gate_b.acquire() for _ in range(2)]
            assert await _free_slots(cluster_journal, gate_a.namespace) == 0
            assert await _holders(cluster_journal) == {
                "utlegg-gateway-slots@gw-a": 3,
                "utlegg-gateway-slots@gw-b": 2,
            }
            # Betjeningskartet is another API: its own 5.
            other = gates_b["betjeningskartet"]
            assert isinstance(other, ClusterSlotGate)
            assert await _free_slots(cluster_journal, other.namespace) == 5
            waiting = asyncio.ensure_future(gate_b.acquire())
            await held.pop(0).release()
            slot = await asyncio.wait_for(waiting, timeout=10)
            await slot.release()
            await held.pop(0).release()
            assert await _free_slots(cluster_journal, gate_a.namespace) == 2
        finally:
            await gates_a.aclose()
        # gw-a held one more; its connection closed, so the server freed it.
        assert await _free_slots(cluster_journal, gate_a.namespace) == 3
        await gates_b.aclose()
        assert await _free_slots(cluster_journal, gate_a.namespace) == 5

    asyncio.run(run())


def test_a_cancelled_wait_leaves_no_slot_taken(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """Callers cancelled while they wait for a slot (all taken) neither take one nor
    keep their local place."""
    a = instance_settings(tmp_path / "a", cluster_journal, instance="gw-a")
    waiting = 0
    all_waiting = asyncio.Event()

    async def counting_sleep(seconds: float) -> None:
        # Called only when every slot was taken: the waiter is in its poll loop.
        nonlocal waiting
        waiting += 1
        if waiting >= 5:
            all_waiting.set()
        await asyncio.sleep(seconds)

    async def run() -> None:
        gates_a, gate_a = _gate(a)
        session_b, gate_b = _own_gate(cluster_journal, a, sleep=counting_sleep)
        try:
            held = [await gate_a.acquire() for _ in range(5)]
            waiters = [asyncio.ensure_future(gate_b.acquire()) for _ in range(5)]
            await asyncio.wait_for(all_waiting.wait(), timeout=10)
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            assert all(w.cancelled() for w in waiters)
            for slot in held:
                await slot.release()
            assert await _free_slots(cluster_journal, gate_a.namespace) == 5
            # gw-b's local places were given back too: it can take all 5.
            mine = [await asyncio.wait_for(gate_b.acquire(), timeout=10) for _ in range(5)]
            assert len(mine) == 5
        finally:
            await gates_a.aclose()
            await session_b.aclose()

    asyncio.run(run())


_HOLDER = """
import asyncio, json, sys
from pathlib import Path
from utlegg_gateway.cluster import cluster_slot_gates
from utlegg_gateway.config import Settings

root = Path(sys.argv[2])
settings = Settings.model_validate(
    json.loads(Path(sys.argv[1]).read_text()) | {"base_dir": root}, context={"base_dir": root}
)

async def main():
    gate = cluster_slot_gates(settings, 5)["status"]
    held = [await gate.acquire() for _ in range(5)]
    print("held", len(held), flush=True)
    await asyncio.Event().wait()  # until killed

asyncio.run(main())
"""


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The child's next stdout line, or AssertionError after `timeout` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line from the child within {timeout} s")
    return process.stdout.readline().strip()


def test_a_killed_process_gives_its_slots_back(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """A process holding all 5 slots is killed with SIGKILL (no clean-up of ours runs):
    the server frees its slots when its connection closes, and another instance takes
    all 5 within a bounded wait."""
    config = tmp_path / "holder.json"
    config.write_text(json.dumps(instance_data(tmp_path, cluster_journal, instance="gw-a")))
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(config), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert _read_line(child, timeout=60) == "held 5"
        b = instance_settings(tmp_path / "b", cluster_journal, instance="gw-b")

        async def run() -> float:
            gates_b, gate_b = _gate(b)
            try:
                assert await _free_slots(cluster_journal, gate_b.namespace) == 0
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=30)
                started = time.monotonic()
                mine = [await asyncio.wait_for(gate_b.acquire(), timeout=15) for _ in range(5)]
                assert len(mine) == 5
                return time.monotonic() - started
            finally:
                await gates_b.aclose()

        asyncio.run(run())
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        assert child.stdout is not None
        child.stdout.close()


def test_a_lost_connection_is_made_again_and_its_slots_count_as_freed(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """The gate's connection ends under it (a restarted server, a dropped link): the
    server freed its slots; the next call connects again and takes one; giving back a
    slot of the lost connection does nothing (it cannot free another call's slot)."""
    a = instance_settings(tmp_path / "a", cluster_journal, instance="gw-a")

    async def run() -> None:
        session, gate = _own_gate(cluster_journal, a)
        try:
            old = [await gate.acquire() for _ in range(2)]
            pid = session.connection_pid
            assert pid is not None
            async with await psycopg.AsyncConnection.connect(
                str(cluster_journal.url), password=_password(cluster_journal), autocommit=True
            ) as admin:
                # Wait for the backend to go, so its slots are freed before they are counted.
                await admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            new = await asyncio.wait_for(gate.acquire(), timeout=10)
            assert session.connection_pid not in (None, pid)
            # Only the new connection's slot is held now.
            assert await _free_slots(cluster_journal, gate.namespace) == 4
            for slot in old:
                await slot.release()
            assert await _free_slots(cluster_journal, gate.namespace) == 4
            await new.release()
            assert await _free_slots(cluster_journal, gate.namespace) == 5
        finally:
            await session.aclose()

    asyncio.run(run())


def _password(journal: JournalSettings) -> str:
    assert journal.password is not None
    return journal.password.read()
