"""The stripped-down ideal ELAN client of issue 15 goal 1: the minimal calls, nothing else.

`prepare(config, data_file)` maps the file with the product's own mapping code (the same
spec, prøving context and attachment files the gateway uses) before anything is timed.
`run_ideal(settings, cases)` then, with one Maskinporten token fetched once through the
product's `TokenProvider` and one semaphore of 5 calls in flight, does per case only:

- upload each attachment the case names, once (the state taken from the upload reply;
  the attachment-status call only when the reply carries no final state);
- Betjeningskartet, when routing is on that day, once per debtor (shared between cases);
- submit.

No journal, no logging, no mapping, no retries: a call that does not succeed raises. The
same endpoints, headers (Authorization, Korrelasjonsid, Meldingsid, Klientid, Accept) and
bodies as `elan/client.py` (a multipart upload, a JSON submit). Timed from the first call
leaving to the last answer read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from utlegg_gateway._shipped import mapping_search_dirs
from utlegg_gateway.config import Settings, load_settings
from utlegg_gateway.elan.client import ATTACHMENT_FINAL_STATES, MAX_CONCURRENCY
from utlegg_gateway.elan.maskinporten import TokenProvider
from utlegg_gateway.folders import attachments
from utlegg_gateway.gateway.casework import fill_attachment_uuids
from utlegg_gateway.gateway.submission.routing import debtor_identifiers
from utlegg_gateway.mapping import map_file, resolve_mapping
from utlegg_gateway.provning import ProvingContext

__all__ = ["IdealCase", "IdealRun", "prepare", "run_ideal"]


@dataclass
class IdealUpload:
    """One distinct attachment of a case: its name, its bytes, the Vedlegg objects to fill."""

    filnavn: str
    content: bytes
    nodes: list[dict[str, Any]]


@dataclass
class IdealCase:
    """One mapped case, ready to send: the begjæring (uuids filled in place) and uploads."""

    innsender_referanse: str
    payload: dict[str, Any]
    uploads: list[IdealUpload]
    debtors: list[str]


@dataclass
class IdealRun:
    """What the ideal client did: span from first call to last answer, and its calls."""

    cases: int
    accepted: int
    span_seconds: float
    calls: Counter[str] = field(default_factory=Counter)
    # Seconds the client held a slot, summed over calls (request out → answer read).
    in_slot_seconds: float = 0.0


def _nodes_marked(node: Any, marks: set[str], out: list[dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if node.get("uuid") in marks:
            out.append(node)
        for value in node.values():
            _nodes_marked(value, marks, out)
    elif isinstance(node, list):
        for value in node:
            _nodes_marked(value, marks, out)


def prepare(config: Path, data_file: Path, inbox_name: str) -> tuple[Settings, list[IdealCase]]:
    """The gateway's settings and the file's cases, mapped as the pipeline maps them
    for inbox `inbox_name`; attachments are read from the data file's folder."""
    settings = load_settings(config)
    inbox = next(i for i in settings.inboxes if i.name == inbox_name)
    dirs = mapping_search_dirs(settings.runner.mapping_dirs)
    spec = resolve_mapping(inbox.mappings[0], data_file, dirs, version=settings.model_version)
    ctx = ProvingContext(
        today=datetime.now(UTC).date(),
        version=settings.model_version,
        environment=settings.environment,
        authenticated_orgnr=settings.acting_organisation,
    )
    contents: dict[str, bytes] = {}
    cases: list[IdealCase] = []
    for result in map_file(data_file, spec, ctx):
        if not result.ok or result.begjaering is None or result.innsender_referanse is None:
            raise RuntimeError(f"case {result.key} does not map: {result.errors}")
        marks = {
            pointer: f"\0{n}"
            for n, att in enumerate(result.attachments)
            for pointer in att.pointers
        }
        payload = fill_attachment_uuids(result.begjaering, marks)
        uploads = []
        for n, att in enumerate(result.attachments):
            if att.filnavn not in contents:
                hit = attachments.locate(att.filnavn, [data_file.parent])
                if hit is None:
                    raise RuntimeError(f"attachment {att.filnavn} is not in {data_file.parent}")
                contents[att.filnavn] = hit[0].read_bytes()
            nodes: list[dict[str, Any]] = []
            _nodes_marked(payload, {f"\0{n}"}, nodes)
            uploads.append(IdealUpload(att.filnavn, contents[att.filnavn], nodes))
        cases.append(
            IdealCase(result.innsender_referanse, payload, uploads, debtor_identifiers(payload))
        )
    return settings, cases


async def run_ideal(settings: Settings, cases: list[IdealCase]) -> IdealRun:
    """Send every case with the minimal calls; see the module docstring."""
    elan = settings.elan
    bases = {k: v.rstrip("/") for k, v in elan.api_base_urls(settings.environment).items()}
    paths, names = elan.paths, elan.headers
    upload_url = bases["innsending"] + paths.upload
    status_url = bases["innsending"] + (paths.attachment or "")
    submit_url = bases["innsending"] + paths.submit
    lookup_url = bases["betjeningskartet"] + paths.betjeningskartet
    routing = settings.routing.betjeningskartet_on(datetime.now(UTC).date())
    timeout = httpx.Timeout(elan.timeout_seconds, connect=elan.connect_timeout_seconds)
    async with (
        httpx.AsyncClient(timeout=settings.maskinporten.timeout_seconds) as token_http,
        httpx.AsyncClient(timeout=timeout) as http,
    ):
        token = await TokenProvider.from_settings(settings, http=token_http).get()
        fixed = {
            "Authorization": f"Bearer {token.value}",
            names.klientid: elan.klientid,
            "Accept": "application/json",
        }
        slots = asyncio.Semaphore(min(elan.max_concurrency, MAX_CONCURRENCY))
        calls: Counter[str] = Counter()
        first: list[float] = []
        held = [0.0]
        lookups: dict[str, asyncio.Task[dict[str, Any]]] = {}

        async def call(operation: str, method: str, url: str, **kw: Any) -> dict[str, Any]:
            headers = fixed | {
                names.korrelasjonsid: str(uuid.uuid4()),
                names.meldingsid: str(uuid.uuid4()),
            }
            async with slots:
                began = time.perf_counter()
                if not first:
                    first.append(began)
                response = await http.request(method, url, headers=headers, **kw)
                held[0] += time.perf_counter() - began
            calls[operation] += 1
            if not 200 <= response.status_code < 300:
                raise RuntimeError(f"{operation}: HTTP {response.status_code} {response.text}")
            body: dict[str, Any] = response.json()
            return body

        async def one(case: IdealCase) -> None:
            for up in case.uploads:
                reply = await call(
                    "upload",
                    "POST",
                    upload_url,
                    files={"fil": (up.filnavn, up.content, "application/octet-stream")},
                    data={"innsenderReferanse": case.innsender_referanse},
                )
                uid, state = reply["uuid"], reply.get("status")
                while state not in ATTACHMENT_FINAL_STATES:
                    url = status_url.replace("{uuid}", uid)
                    state = (await call("attachment_status", "GET", url))["status"]
                if state != "ready":
                    raise RuntimeError(f"{case.innsender_referanse}: attachment {state}")
                for node in up.nodes:
                    node["uuid"] = uid
            if routing:
                missing = [i for i in case.debtors if i not in lookups]
                if missing:
                    body = {
                        "skyldner": [
                            {"taxIdentificationNumber": i, "landkodeIdentifikator": "NO"}
                            for i in missing
                        ]
                    }
                    task = asyncio.ensure_future(
                        call("betjeningskartet", "POST", lookup_url, json=body)
                    )
                    lookups.update(dict.fromkeys(missing, task))
                for ident in case.debtors:
                    await lookups[ident]
            await call("submit", "POST", submit_url, json=case.payload)

        await asyncio.gather(*(one(case) for case in cases))
        last = time.perf_counter()
    return IdealRun(
        cases=len(cases),
        accepted=calls["submit"],
        span_seconds=last - first[0],
        calls=calls,
        in_slot_seconds=held[0],
    )


def main() -> None:
    """Map the file (untimed), send it ideally, print the run as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("data_file", type=Path)
    parser.add_argument("--inbox", required=True)
    args = parser.parse_args()
    settings, cases = prepare(args.config, args.data_file, args.inbox)
    run = asyncio.run(run_ideal(settings, cases))
    print(
        json.dumps(
            {
                "cases": run.cases,
                "accepted": run.accepted,
                "span_seconds": run.span_seconds,
                "calls": dict(run.calls),
                "in_slot_seconds": run.in_slot_seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
