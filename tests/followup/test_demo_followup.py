"""The demo's follow-up act: status changes and a rettebrev after the clock moves."""

from __future__ import annotations

import asyncio

from rich.console import Console

from tests.followup.conftest import Env, elan_client, submit_case
from utlegg_gateway.followup.demo import show_followup


def test_demo_followup_shows_status_changes_and_a_rettebrev(env: Env) -> None:
    """Two accepted cases: each gets sakOpprettet then sakBesluttet; the first a rettebrev."""

    async def submit() -> None:
        async with elan_client(env) as elan:
            await submit_case(elan, env.journal, "EX-DEMO-1")
            await submit_case(elan, env.journal, "EX-DEMO-2")

    asyncio.run(submit())
    console = Console(record=True, width=200)
    report = show_followup(console, env.settings, env.sandbox)
    assert report.errors == []
    assert sorted((c.innsender_referanse, c.saksstatus) for c in report.status_changes) == [
        ("EX-DEMO-1", "sakBesluttet"),
        ("EX-DEMO-1", "sakOpprettet"),
        ("EX-DEMO-2", "sakBesluttet"),
        ("EX-DEMO-2", "sakOpprettet"),
    ]
    (letter,) = report.letters
    assert (letter.innsender_referanse, letter.kind) == ("EX-DEMO-1", "rettebrev")
    assert letter.json_file.exists() and letter.attachments[0].read_bytes().startswith(b"%PDF")
    text = console.export_text()
    assert "sakOpprettet → sakBesluttet" in text and "EX-DEMO-1.rettebrev." in text
