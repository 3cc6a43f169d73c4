"""Crash test: the follow-up process killed between writing a letter and recording it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tests.followup.conftest import Env, elan_client, settings_data, submit_case
from tests.followup.test_letters import _letters, _poll
from utlegg_gateway.followup import StatusPoller

# Runs the real letters poller; `after_write` kills the process right after the first
# letter's files are written and before the journal records it.
DRIVER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from utlegg_gateway.config import load_settings
    from utlegg_gateway.elan import build_client
    from utlegg_gateway.followup import build_followup
    from utlegg_gateway.journal.sqlite import Journal

    config, offset, which = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

    def clock():
        return datetime.now(UTC) + timedelta(seconds=offset)

    def crash(path):
        os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        settings = load_settings(config)
        journal = Journal.open(settings.journal.path, clock=clock)
        async with build_client(settings) as elan:
            async with build_followup(
                settings, journal, elan, clock=clock, after_write=crash
            ) as followup:
                await getattr(followup, which).poll_once()

    asyncio.run(main())
    """
)


def test_killed_between_write_and_record_rewrites_the_same_letter(env: Env, tmp_path: Path) -> None:
    """SIGKILL after the write: the next cycle writes the same bytes under the same names."""

    async def submit() -> None:
        async with elan_client(env) as elan:
            await submit_case(elan, env.journal, "IB-CRASH-7")

    asyncio.run(submit())
    env.advance(3601)
    config = tmp_path / "gateway.yaml"
    data = settings_data(env.sandbox, env.root, env.credentials)
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(driver), str(config), str(env.clock.offset), "letters"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    folder = env.outbox / "meldinger"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (letter_id,) = _letters(folder)
    assert env.journal.get_cursor(f"dialogporten.letter.{letter_id}") is None, "not recorded"
    assert len(before) == 2  # the letter JSON and its PDF

    rewritten = asyncio.run(_poll(env))

    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == before, "same names, same bytes, no second copy"
    assert rewritten == [n for n in before if n.endswith(".json")]
    assert env.journal.get_cursor(f"dialogporten.letter.{letter_id}") is not None
    assert asyncio.run(_poll(env)) == []


def test_status_poller_killed_between_write_and_record_rewrites_the_same_file(
    env: Env, tmp_path: Path
) -> None:
    """SIGKILL after the status file is written: the next poll writes it again, same bytes."""

    async def submit() -> int:
        async with elan_client(env) as elan:
            return (await submit_case(elan, env.journal, "IB-CRASH-STATUS")).id

    case_id = asyncio.run(submit())
    config = tmp_path / "gateway.yaml"
    data = settings_data(env.sandbox, env.root, env.credentials)
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(driver), str(config), str(env.clock.offset), "status"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    folder = env.outbox / "status"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert list(before) == ["IB-CRASH-STATUS.sakOpprettet.json"]
    assert env.journal.get_cursor(f"followup.status.{case_id}") is None, "not recorded"

    async def poll() -> list[str]:
        async with elan_client(env) as elan:
            poller = StatusPoller(env.settings, env.journal, elan, clock=env.clock)
            return [c.saksstatus for c in await poller.poll_once()]

    assert asyncio.run(poll()) == ["sakOpprettet"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert env.journal.get_cursor(f"followup.status.{case_id}") is not None
