"""Status på sak against the sandbox: one outbox file per change, nothing twice."""

from __future__ import annotations

import asyncio
import json

from tests.followup.conftest import Env, StallFirstWrite, elan_client, submit_case
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
            assert poller.last_status(b.id)["final"] is True  # type: ignore[index]  # Optional: the assert fails first if None
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


def test_status_files_in_csv_and_xml_when_the_inbox_asks_and_reentry_is_numbered(
    env: Env, credentials: object
) -> None:
    """The case's inbox wants csv+xml: three files per change; a re-entered status gets .2."""
    from tests.followup.conftest import settings_for

    env.settings = settings_for(
        env.sandbox,
        env.root,
        credentials,
        inboxes=[
            {
                "name": "test",
                "path": str(env.root / "in"),
                "receipt_formats": ["json", "csv", "xml"],
            }
        ],
    )

    async def scenario() -> None:
        async with elan_client(env) as elan:
            case = await submit_case(elan, env.journal, "IB-FORMAT-1")
            assert case.ekstern_saksreferanse is not None
            poller = StatusPoller(env.settings, env.journal, elan, clock=env.clock)
            for forced in ("sakUnderBehandling", "sakForelagt", "sakUnderBehandling"):
                env.sandbox.admin.set_case_status(case.ekstern_saksreferanse, forced)
                env.advance(3600)  # due again (the status itself is forced)
                (change,) = await poller.poll_once()
                assert change.saksstatus == forced

    asyncio.run(scenario())
    folder = env.outbox / "status"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"IB-FORMAT-1.{stem}.{ext}"
        for stem in ("sakUnderBehandling", "sakForelagt", "sakUnderBehandling.2")
        for ext in ("json", "csv", "xml")
    )
    csv_text = (folder / "IB-FORMAT-1.sakForelagt.csv").read_bytes().decode("utf-8-sig")
    header, first = csv_text.splitlines()[:2]
    assert header.startswith("innsenderReferanse;begjaeringsdato;eksternSaksreferanse;")
    assert first.startswith("IB-FORMAT-1;") and ";sakForelagt;" in first
    xml = (folder / "IB-FORMAT-1.sakUnderBehandling.2.xml").read_bytes()
    assert b"<forrigeSaksstatus>sakForelagt</forrigeSaksstatus>" in xml


def test_a_slow_status_write_does_not_hold_the_other_cases_calls(env: Env) -> None:
    """One case's outbox write stalls (a slow disk): the other cases are asked and written."""
    stall = StallFirstWrite(3)

    async def scenario() -> list[str]:
        async with elan_client(env) as elan:
            for n in (1, 2, 3):
                await submit_case(elan, env.journal, f"IB-SLOW-{n}")
            poller = StatusPoller(
                env.settings, env.journal, elan, clock=env.clock, after_write=stall
            )
            return sorted(c.innsender_referanse for c in await poller.poll_once())

    assert asyncio.run(scenario()) == ["IB-SLOW-1", "IB-SLOW-2", "IB-SLOW-3"]
    assert len(stall.written) == 3
    assert sorted(p.name for p in (env.outbox / "status").iterdir()) == [
        f"IB-SLOW-{n}.sakOpprettet.json" for n in (1, 2, 3)
    ]
