"""Status på sak against the sandbox: one outbox file per change, nothing twice."""

from __future__ import annotations

import asyncio
import json

from tests.followup.conftest import Env, elan_client, submit_case
from utlegg_gateway.followup import StatusPoller

LIFE = ["sakOpprettet", "sakUnderBehandling", "sakForelagt", "sakBesluttet", "sakAvsluttet"]


def test_cases_move_through_statuses_with_exactly_one_file_per_change(env: Env) -> None:
    """Advancing the sandbox clock moves two cases through every status; one file each."""

    async def scenario() -> list[str]:
        async with elan_client(env) as elan:
            a = await submit_case(elan, env.journal, "IB-STATUS-1")
            b = await submit_case(elan, env.journal, "IB-STATUS-2")
            poller = StatusPoller(env.settings, env.journal, elan, clock=env.clock)
            seen = [c.saksstatus for c in await poller.poll_once()]
            # Polled again at once: not due yet, and nothing changed anyway.
            assert await poller.poll_once() == []
            for step in (61, 600, 3600, 86400, 86400):
                env.advance(step)
                seen += [c.saksstatus for c in await poller.poll_once()]
            assert poller.last_status(a.id) == {
                "saksstatus": "sakAvsluttet",
                "history": LIFE,
                "final": True,
            }
            assert poller.last_status(b.id)["final"] is True  # type: ignore[index]
            assert poller.due_cases() == []  # final: no more polling
            return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == sorted(LIFE * 2)
    files = sorted(p.name for p in (env.outbox / "status").iterdir())
    assert files == sorted(f"IB-STATUS-{n}.{s}.json" for n in (1, 2) for s in LIFE)
    besluttet = json.loads((env.outbox / "status" / "IB-STATUS-1.sakBesluttet.json").read_bytes())
    assert besluttet["forrigeSaksstatus"] == "sakForelagt"
    assert besluttet["saksnummer"].startswith("UTLBGJ/")
    assert besluttet["krav"] and all(k["kravgrunnlagsidentifikator"] for k in besluttet["krav"])
    assert besluttet["beslutninger"], "a besluttet case lists its decisions"
    assert besluttet["endelig"] is False
    assert json.loads((env.outbox / "status" / "IB-STATUS-1.sakAvsluttet.json").read_bytes())[
        "endelig"
    ]
