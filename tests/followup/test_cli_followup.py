"""`utlegg-gateway followup`: one tick from the command line, against the sandbox."""

from __future__ import annotations

import asyncio

import yaml
from click.testing import CliRunner

from tests.followup.conftest import Env, elan_client, settings_data, submit_case
from utlegg_gateway.cli import main


def test_followup_command_writes_status_files_and_exits_0(env: Env) -> None:
    """One accepted case: the command reports and writes its first status; again: nothing."""

    async def submit() -> None:
        async with elan_client(env) as elan:
            await submit_case(elan, env.journal, "IB-CLI-1")

    asyncio.run(submit())
    config = env.root / "gateway.yaml"
    config.write_text(yaml.safe_dump(settings_data(env.sandbox, env.root, env.credentials)))
    runner = CliRunner()
    first = runner.invoke(main, ["followup", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "status  IB-CLI-1: sakOpprettet" in first.output
    assert (env.outbox / "status" / "IB-CLI-1.sakOpprettet.json").exists()
    again = runner.invoke(main, ["followup", "--config", str(config)])
    assert again.exit_code == 0 and "0 status change(s), 0 letter(s), 0 error(s)" in again.output
