"""Follow-up throughput against the sandbox: one status tick and one letters cycle for N cases.

    .venv/bin/python benchmarks/bench_followup.py [N]

Submits N cases (the official model 1.1 example under new references) to a sandbox on
loopback, makes every case get a rettebrev, then measures (wall time) one status tick
over all N (≤ 5 calls in flight) and one Dialogporten cycle (search pages of 100,
transmissions, PDF downloads, files written and recorded).
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from utlegg_gateway.config import Settings
from utlegg_gateway.elan import Accepted, build_client
from utlegg_gateway.followup import build_followup
from utlegg_gateway.journal.sqlite import CaseState, Journal
from utlegg_gateway.sandbox import SandboxOptions, running_sandbox, write_credentials

REFERENCE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "model"
    / "data"
    / "model-1.1-begjaering-v1.json"
)
ORGNR = "312597772"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if "uuid" in node and "filnavn" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def _submit(elan: Any, journal: Journal, ref: str) -> None:
    payload = copy.deepcopy(json.loads(REFERENCE.read_text(encoding="utf-8")))
    payload["innsenderReferanse"] = ref
    for att in _refs(payload):
        att["uuid"] = (await elan.upload_attachment(PDF, f"{att['filnavn']}.pdf", ref)).uuid
    result = await elan.submit(payload)
    assert isinstance(result, Accepted), result
    file = journal.register_file(inbox="bench", name=ref, sha256=ref, size=1)
    case = journal.add_case(
        file.id,
        key="1",
        innsender_referanse=ref,
        begjaeringsdato=str(payload["begjaeringsdato"]),
        payload=payload,
        source={},
    )
    journal.set_case_state(case.id, CaseState.UPLOADING)
    journal.set_case_state(case.id, CaseState.SUBMITTING, meldingsid=ref)
    journal.set_case_state(
        case.id, CaseState.ACCEPTED, ekstern_saksreferanse=result.ekstern_saksreferanse
    )


async def main(n: int, root: Path) -> None:
    creds = write_credentials(root / "creds", orgnr=ORGNR, systemuser_orgs=(ORGNR,))
    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0)
    with running_sandbox(options, credentials=[creds]) as sb:
        httpx.put(
            sb.url + "/_sandbox/dialogporten/options",
            json={"rettebrev_suffixes": list("0123456789")},
        ).raise_for_status()
        data = {
            "environment": "test",
            "organisation": ORGNR,
            "maskinporten": {
                "client_id": creds.client_id,
                "issuer": sb.issuer,
                "token_endpoint": sb.token_endpoint,
                "pkcs12_file": str(creds.pkcs12_file),
                "pkcs12_password": {"file": str(creds.password_file)},
                "systembruker": {"org": ORGNR},
            },
            "elan": {"base_url": sb.elan_base_url},
            "journal": {"path": str(root / "journal.sqlite3")},
            "folders": {"outbox": str(root / "outbox")},
            "dialogporten": {"enabled": True, "base_url": sb.url + "/dialogporten"},
        }
        settings = Settings.model_validate(data | {"base_dir": root}, context={"base_dir": root})
        offset = 0.0

        def clock() -> datetime:
            return datetime.now(UTC) + timedelta(seconds=offset)

        journal = Journal.open(settings.journal.path, clock=clock)
        async with build_client(settings) as elan:
            started = time.perf_counter()
            await asyncio.gather(*(_submit(elan, journal, f"BENCH-{i:05d}") for i in range(n)))
            print(f"submitted {n} cases in {time.perf_counter() - started:.2f} s (setup)")
            sb.admin.advance_clock(3700)
            offset = 3700.0
            async with build_followup(settings, journal, elan, clock=clock) as followup:
                assert followup.status is not None and followup.letters is not None
                started = time.perf_counter()
                changes = await followup.status.poll_once()
                took = time.perf_counter() - started
                print(
                    f"status tick: {len(changes)} changes in {took:.2f} s ({n / took:.0f} cases/s)"
                )
                started = time.perf_counter()
                letters = await followup.letters.poll_once()
                took = time.perf_counter() - started
                print(
                    f"letters cycle: {len(letters)} letters (+PDF) in {took:.2f} s "
                    f"({len(letters) / took:.0f} letters/s)"
                )
                started = time.perf_counter()
                again = await followup.letters.poll_once()
                took = time.perf_counter() - started
                print(f"letters cycle, nothing new: {len(again)} letters in {took:.2f} s")
        stats = sb.admin.stats()
        print(f"sandbox max concurrency seen: {stats.get('max_concurrency_seen', stats)}")
        journal.close()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(count, Path(tmp)))
