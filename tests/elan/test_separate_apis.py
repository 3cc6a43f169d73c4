"""Status på sak and Betjeningskartet as their own APIs: own base URL, own five slots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.elan.conftest import ORGNR, settings_for
from utlegg_gateway.elan import build_client
from utlegg_gateway.sandbox.elan import ELAN_BASE_PATH, SEPARATE_API_BASES


def test_each_api_is_called_at_its_configured_base(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """elan.apis.<api>.base_url moves that API's calls; the others stay at elan.base_url."""
    apis = {name: {"base_url": sandbox.url + base} for name, base in SEPARATE_API_BASES.items()}
    settings = settings_for(
        sandbox, tmp_path, credentials, elan={"base_url": sandbox.elan_base_url, "apis": apis}
    )

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with build_client(settings) as elan:
            status = await elan.status("TEST_SAK_OPPRETTET")
            kart = await elan.betjeningskartet(["44926701751"])
            return status, kart

    status, kart = asyncio.run(run())
    bases = sandbox.admin.stats()["bases"]
    assert status["saksstatus"] and kart["regelverk"] == "nyttRegelverk"
    assert bases == {SEPARATE_API_BASES["status"]: 1, SEPARATE_API_BASES["betjeningskartet"]: 1}
    assert ELAN_BASE_PATH not in bases


def test_five_held_status_calls_leave_betjeningskartet_its_own_slots(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """The limit is per API per organisation: with five Status på sak calls in flight the
    client still sends a Betjeningskartet call (the sandbox counts them apart too)."""
    settings = settings_for(sandbox, tmp_path, credentials)
    sandbox.admin.set_faults({"status": {"sequence": ["delay:60"] * 5}})

    async def run() -> tuple[dict[str, Any], dict[str, int]]:
        async with build_client(settings) as elan:
            held = [asyncio.create_task(elan.status("TEST_SAK_OPPRETTET")) for _ in range(5)]
            for _ in range(1000):  # readiness polling (bounded): until all five are held
                stats = await asyncio.to_thread(sandbox.admin.stats)
                if stats["in_flight"].get(f"{ORGNR}/status") == 5:
                    break
                await asyncio.sleep(0.01)
            kart = await elan.betjeningskartet(["44926701751"])
            seen = (await asyncio.to_thread(sandbox.admin.stats))["in_flight"]
            await asyncio.to_thread(sandbox.admin.release_delays)
            await asyncio.gather(*held)
            return kart, seen

    kart, seen = asyncio.run(run())
    assert kart["regelverk"] == "nyttRegelverk"
    assert seen == {f"{ORGNR}/status": 5}
    assert sandbox.admin.stats()["rejected_concurrency"] == 0
