"""What a cluster-wide ELAN slot costs per call, against the local semaphore.

    .venv/bin/python benchmarks/bench_slots.py [--calls 2000] [--hold 0.002]

Starts a throwaway PostgreSQL server on loopback (tests/_postgres.py, as the tests do)
and measures taking and giving back a slot, with nothing sent in between (wall time,
one run each):

1. one caller, one slot after another: `LocalSlotGate` (asyncio semaphore) and
   `ClusterSlotGate` (the semaphore, then `pg_try_advisory_lock` / `pg_advisory_unlock`
   on the gate's own connection: two round trips per call);
2. five callers at once on one gate (one instance using all its slots);
3. two instances (two gates, two sessions), five callers each, every call holding its
   slot `--hold` seconds: 10 want in, 5 may be in; the ceiling is 5 / hold calls/s, and
   the figure shows what waiting by polling (`cluster.slot_poll_seconds`, 0.01 s by
   default) costs against it.

Prints microseconds per call and calls per second; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import _postgres

from utlegg_gateway.cluster import (
    AdvisorySession,
    ClusterDatabase,
    ClusterSlotGate,
    LocalSlotGate,
    SlotGate,
)
from utlegg_gateway.config import JournalSettings

ORGANISATION = "312597772"


async def _callers(gate: SlotGate, callers: int, calls: int, hold: float) -> None:
    async def caller(n: int) -> None:
        for _ in range(n):
            slot = await gate.acquire()
            if hold:
                await asyncio.sleep(hold)
            await slot.release()

    await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))


async def _timed(run: Awaitable[None]) -> float:
    started = time.perf_counter()
    await run
    return time.perf_counter() - started


def _cluster_gate(session: AdvisorySession, poll: float) -> ClusterSlotGate:
    return ClusterSlotGate(
        session,
        organisation=ORGANISATION,
        scope="innsending",
        local=LocalSlotGate(5),
        poll_seconds=poll,
    )


async def _bench(journal: JournalSettings, calls: int, hold: float, poll: float) -> None:
    sessions = [
        AdvisorySession(
            ClusterDatabase(journal, purpose="bench", dead_peer_seconds=30), name=f"bench-{i}"
        )
        for i in range(2)
    ]
    gates = [_cluster_gate(session, poll) for session in sessions]
    try:
        # A first call opens the connection: not part of any figure.
        await (await gates[0].acquire()).release()
        await (await gates[1].acquire()).release()
        for callers in (1, 5):
            local = await _timed(_callers(LocalSlotGate(5), callers, calls, 0))
            cluster = await _timed(_callers(gates[0], callers, calls, 0))
            print(
                f"{callers} caller(s), {calls} calls: local {local / calls * 1e6:8.1f} µs/call,"
                f" cluster {cluster / calls * 1e6:8.1f} µs/call"
                f" (+{(cluster - local) / calls * 1e6:.1f} µs, {calls / cluster:,.0f} calls/s)"
            )
        n = max(calls // 4, 100)

        async def two_instances() -> None:
            await asyncio.gather(*(_callers(g, 5, n // 2, hold) for g in gates))

        both = await _timed(two_instances())
        ceiling = 5 / hold
        print(
            f"two instances x 5 callers, {n} calls holding {hold * 1000:.1f} ms each:"
            f" {n / both:,.0f} calls/s against a ceiling of {ceiling:,.0f}"
            f" ({n / both / ceiling:.0%}), slot_poll_seconds {poll}"
        )
    finally:
        for session in sessions:
            await session.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=0.002)
    parser.add_argument("--poll", type=float, default=0.01)
    args = parser.parse_args()
    with _postgres.running_server() as server, tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "password"
        secret.write_text(_postgres.PASSWORD)
        name = server.create_database()
        journal = JournalSettings.model_validate(
            {"url": server.url(name), "password": {"file": str(secret)}}
        )
        asyncio.run(_bench(journal, args.calls, args.hold, args.poll))


if __name__ == "__main__":
    main()
