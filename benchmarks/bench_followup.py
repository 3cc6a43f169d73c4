"""Follow-up at scale against the sandbox: one status round over N open cases and one letters round.

    .venv/bin/python benchmarks/bench_followup.py [--cases 10000] [--letters 1000]
        [--latency 0.05] [--submissions 500]

Submits N cases (the official model 1.1 example under new references) to a sandbox on
loopback (its own process, httptools and uvloop: the `bench` extra), with `--letters` of
them getting a rettebrev in Dialogporten, then measures (wall time, one run):

The client and the sandbox count one pool of 5 calls in flight for all ELAN APIs of the
organisation (`concurrency_scope: organisation`, the stricter reading), so status polling
and submission share the 5 slots:

1. one status round over all N, every Status på sak call answered `--latency` s after it
   arrived (`latency:`, the sandbox's work inside that time);
2. the same round again while `--submissions` cases are uploaded and submitted at the same
   time (the same latency on every upload and submit);
3. the ideal status client over the same N cases, at the same latency: one token, one
   semaphore of 5, one GET per case with the poller's headers, the answer's JSON read, and
   nothing else (no journal, no outbox, no logging, no schedule), so the round's share of
   the ceiling is set against what a client that only waits for answers gets here;
4. one Dialogporten round fetching every letter (dialog, transmissions, PDF, files written
   and recorded), then a round with nothing new.

For each it prints cases/s, the calls per case the sandbox counted, the ceiling
(5 in flight / (calls per case × latency)) and the share of it, the sandbox's highest
in-flight count and the calls it refused for concurrency (must be 0), and how the round
compares with the status schedule's steps.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._data import REFERENCE
from tests.followup.conftest import ORGNR, settings_data

from utlegg_gateway.config import Settings
from utlegg_gateway.elan import Accepted, build_client
from utlegg_gateway.elan.maskinporten import TokenProvider
from utlegg_gateway.followup import build_followup
from utlegg_gateway.journal.sqlite import CaseState, Journal, NewCase

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gateway import _admin, _start_sandbox

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEMPLATE: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))


def _refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if "uuid" in node and "filnavn" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _reference(i: int, letters: int, cases: int) -> str:
    # The sandbox writes a rettebrev for a reference ending in 7: the first `letters`
    # cases end in 7, the others never do.
    return f"BENCH-{i:06d}7" if i < letters else f"BENCH-{i:06d}{i % 7}"


async def _send(elan: Any, ref: str) -> tuple[dict[str, Any], str]:
    payload = copy.deepcopy(TEMPLATE)
    payload["innsenderReferanse"] = ref
    for att in _refs(payload):
        att["uuid"] = (await elan.upload_attachment(PDF, f"{att['filnavn']}.pdf", ref)).uuid
    result = await elan.submit(payload)
    assert isinstance(result, Accepted) and result.ekstern_saksreferanse, result
    return payload, result.ekstern_saksreferanse


def _record(journal: Journal, sent: list[tuple[dict[str, Any], str]]) -> None:
    file = journal.register_file(inbox="bench", name="setup", sha256="setup", size=1)
    new = [
        NewCase(
            key=str(i),
            innsender_referanse=p["innsenderReferanse"],
            begjaeringsdato=str(p["begjaeringsdato"]),
            payload=p,
            source={},
        )
        for i, (p, _) in enumerate(sent)
    ]
    for (_, saksref), case in zip(sent, journal.add_cases(file.id, new), strict=True):
        journal.set_case_state(case.id, CaseState.UPLOADING)
        journal.set_case_state(case.id, CaseState.SUBMITTING, meldingsid=case.innsender_referanse)
        journal.set_case_state(case.id, CaseState.ACCEPTED, ekstern_saksreferanse=saksref)


def _settings(root: Path, sb: Any, creds: Any) -> Settings:
    """The follow-up tests' settings, with the shipped retry policy and page size: measured
    as an operator would run it, one pool of 5 slots for the organisation."""
    data = settings_data(
        sb,
        root,
        creds,
        elan={"concurrency_scope": "organisation"},
        dialogporten={"page_limit": 100},
    )
    del data["elan"]["retry"]
    return Settings.model_validate(data | {"base_dir": root}, context={"base_dir": root})


def _delta(after: Mapping[str, int], before: Mapping[str, int], *keys: str) -> int:
    return sum(after.get(k, 0) - before.get(k, 0) for k in keys)


async def _round(  # noqa: PLR0917 -- a benchmark's one call site, read top to bottom
    label: str,
    followup: Any,
    elan: Any,
    sb: Any,
    cases: int,
    latency: float,
    submissions: int,
    offset: int,
) -> None:
    admin = sb.admin
    # `latency:` answers `latency` after the call arrived, the sandbox's work inside it
    # (what the ceiling assumes); `delay:` put that work after the wait.
    delay = {"probability": 1.0, "actions": [f"latency:{latency}"]}
    admin.set_faults({"status": delay, "upload": delay, "submit": delay})
    before = admin.stats()
    started = time.perf_counter()
    sending = [_send(elan, f"EXTRA-{offset}-{i:06d}") for i in range(submissions)]
    polled, *sent = await asyncio.gather(followup.status.poll_once(), *sending)
    took = time.perf_counter() - started
    after = admin.stats()
    admin.clear_faults()
    status_calls = _delta(after["calls"], before["calls"], "status")
    other_calls = _delta(after["calls"], before["calls"], "upload", "submit")
    delayed = status_calls + other_calls
    ceiling_s = delayed * latency / 5  # the shortest wall time 5 slots allow for these calls
    print(f"{label}:")
    print(
        f"  {cases} cases polled in {took:.1f} s ({cases / took:.0f} cases/s), "
        f"{status_calls / cases:.2f} status calls/case, {len(polled)} status changes"
    )
    if submissions:
        print(
            f"  {len(sent)} cases submitted meanwhile "
            f"({other_calls / max(len(sent), 1):.2f} upload+submit calls/case)"
        )
    print(
        f"  ceiling: {delayed} delayed calls × {latency * 1000:.0f} ms / 5 in flight = "
        f"{ceiling_s:.1f} s; measured {ceiling_s / took:.0%} of it"
    )
    print(
        f"  sandbox: max in flight {after['max_concurrency_seen']}, refused for concurrency "
        f"{after['rejected_concurrency'] - before['rejected_concurrency']}"
    )


async def _ideal_status(settings: Settings, sb: Any, saksrefs: list[str], latency: float) -> None:
    """Every case's Status på sak once, 5 in flight, nothing done with the answer but read it."""
    elan = settings.elan
    url = elan.api_base_urls(settings.environment)["status"].rstrip("/") + elan.paths.status
    names = elan.headers
    delay = {"probability": 1.0, "actions": [f"latency:{latency}"]}
    sb.admin.set_faults({"status": delay})
    before = sb.admin.stats()
    async with httpx.AsyncClient(timeout=30) as token_http, httpx.AsyncClient(timeout=30) as http:
        token = await TokenProvider.from_settings(settings, http=token_http).get()
        fixed = {
            "Authorization": f"Bearer {token.value}",
            names.klientid: elan.klientid,
            "Accept": "application/json",
        }
        slots = asyncio.Semaphore(5)
        held = [0.0]

        async def one(ref: str) -> None:
            headers = fixed | {
                names.korrelasjonsid: str(uuid.uuid4()),
                names.meldingsid: str(uuid.uuid4()),
            }
            async with slots:
                began = time.perf_counter()
                response = await http.get(
                    url.replace("{eksternSaksreferanse}", ref), headers=headers
                )
                response.json()
                held[0] += time.perf_counter() - began
            response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(r) for r in saksrefs))
        took = time.perf_counter() - started
    after = sb.admin.stats()
    sb.admin.clear_faults()
    calls = _delta(after["calls"], before["calls"], "status")
    ceiling_s = calls * latency / 5
    handler = _delta(after["handler_seconds"], before["handler_seconds"], "status")
    print("ideal status client, same cases:")
    print(
        f"  {len(saksrefs)} cases in {took:.1f} s ({len(saksrefs) / took:.0f} cases/s), "
        f"{calls / len(saksrefs):.2f} status calls/case"
    )
    print(f"  ceiling {ceiling_s:.1f} s; measured {ceiling_s / took:.0%} of it")
    print(
        f"  a slot held {held[0] / calls * 1000:.1f} ms per call on average; the sandbox's "
        f"handler took {handler / calls * 1000:.1f} ms"
    )


async def main(args: argparse.Namespace, root: Path) -> None:
    n, letters = args.cases, min(args.letters, args.cases)
    # The sandbox in a process of its own (httptools, uvloop), as in bench_gateway: sharing
    # the client's process, its work and the client's took turns on one GIL.
    options = {"model_version": "1.1", "concurrency_scope": "organisation"}
    proc, sb, creds = _start_sandbox(root, options, {"orgnr": ORGNR, "systemuser_orgs": [ORGNR]})
    sb.admin = _admin(sb.url)
    try:
        httpx.put(
            sb.url + "/_sandbox/dialogporten/options", json={"rettebrev_suffixes": ["7"]}
        ).raise_for_status()
        settings = _settings(root, sb, creds)
        offset = 0.0

        def clock() -> datetime:
            return datetime.now(UTC) + timedelta(seconds=offset)

        journal = Journal.open(settings.journal.path, clock=clock)
        async with build_client(settings) as elan:
            started = time.perf_counter()
            sent = await asyncio.gather(*(_send(elan, _reference(i, letters, n)) for i in range(n)))
            _record(journal, list(sent))
            print(
                f"setup: {n} cases submitted and recorded in {time.perf_counter() - started:.1f} s"
            )
            schedule = ", ".join(
                f"every {s.every_seconds:.0f} s"
                + (f" until {s.until_seconds} s" if s.until_seconds else "")
                for s in settings.followup.status_schedule
            )
            print(f"status schedule: {schedule}")
            async with build_followup(settings, journal, elan, clock=clock) as followup:
                assert followup.status is not None and followup.letters is not None
                for i, (label, extra) in enumerate(
                    (("status round alone", 0), ("status round while submitting", args.submissions))
                ):
                    step = 3700 + 1000 * i  # past the first hour: every case is due again
                    sb.admin.advance_clock(step - offset)
                    offset = float(step)
                    await _round(label, followup, elan, sb, n, args.latency, extra, i)
                await _ideal_status(settings, sb, [saksref for _, saksref in sent], args.latency)
                started = time.perf_counter()
                written = await followup.letters.poll_once()
                took = time.perf_counter() - started
                print(
                    f"letters round: {len(written)} letters (+PDF) from {letters} dialogs in "
                    f"{took:.1f} s ({len(written) / took:.0f} letters/s)"
                )
                started = time.perf_counter()
                again = await followup.letters.poll_once()
                print(
                    f"letters round, nothing new: {len(again)} letters in "
                    f"{time.perf_counter() - started:.2f} s"
                )
        journal.close()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--letters", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--submissions", type=int, default=500)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(parser.parse_args(), Path(tmp)))
