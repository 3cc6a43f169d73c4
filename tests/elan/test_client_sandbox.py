"""The ELAN client against the sandbox on loopback: headers, verdicts, faults, duplicates."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.elan.conftest import PDF, reference_begjaering, settings_for
from utlegg_gateway.elan import (
    Accepted,
    ElanClient,
    FailedPermanently,
    FailedTemporarily,
    Rejected,
    UploadedAttachment,
    build_client,
)
from utlegg_gateway.errors import ElanPermanentError

_VEDLEGG = "c85a1f04-e531-46af-a87c-0ad40febb694"
_FULLMAKT = "b538963a-8001-4474-98cc-1852ed0d192d"


async def prepared(elan: ElanClient, ref: str, *, one_file: bool = False) -> dict[str, Any]:
    """The reference begjæring as case `ref`, with its attachments uploaded and ready."""
    vedlegg = (await elan.upload_attachment(PDF, "vedlegg.pdf", ref)).uuid
    # one_file: both attachment objects name one upload (fewer calls in the big runs).
    fullmakt = (
        vedlegg if one_file else (await elan.upload_attachment(PDF, "Fullmakt.pdf", ref)).uuid
    )
    uploads = [UploadedAttachment(uid) for uid in {vedlegg, fullmakt}]
    assert set((await elan.wait_until_ready(uploads)).values()) == {"ready"}
    text = json.dumps(reference_begjaering())
    data: dict[str, Any] = json.loads(text.replace(_VEDLEGG, vedlegg).replace(_FULLMAKT, fullmakt))
    data["innsenderReferanse"] = ref
    return data


def test_headers_on_every_call(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """Each call carries a new Korrelasjonsid, a Meldingsid and the configured Klientid."""
    settings = settings_for(sandbox, tmp_path, credentials, elan={"klientid": "min-klient"})

    async def run() -> Any:
        async with build_client(settings) as elan:
            begjaering = await prepared(elan, "IB-H1")
            await elan.validate(begjaering)
            return await elan.submit(begjaering, meldingsid="11111111-2222-4333-8444-555555555555")

    result = asyncio.run(run())
    assert isinstance(result, Accepted) and result.ekstern_saksreferanse
    received = sandbox.admin.submissions()
    headers = [r["headers"] for r in received]
    assert all(h["klientid"] == "min-klient" for h in headers)
    assert len({h["korrelasjonsid"] for h in headers}) == len(headers) == 2
    assert headers[-1]["meldingsid"] == "11111111-2222-4333-8444-555555555555"
    assert result.korrelasjonsid == headers[-1]["korrelasjonsid"]


def test_422_with_three_broken_rules_is_one_typed_rejection(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """Three broken rules come back as one Rejected listing all three, with kode and location."""
    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> Any:
        async with build_client(settings) as elan:
            begjaering = await prepared(elan, "IB-R1")
            begjaering["innsender"]["innsender"]["virksomhet"]["identifikator"][
                "taxIdentificationNumber"
            ] = "974761076"  # not the authenticated organisation
            begjaering["vedlegg"][0]["uuid"] = str(uuid.uuid4())  # never uploaded
            begjaering["saksoekt"].append(begjaering["saksoekt"][0])  # same debtor twice
            return await elan.submit(begjaering)

    result = asyncio.run(run())
    assert isinstance(result, Rejected)
    codes = {rule.kode for rule in result.rules}
    assert {
        "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING",
        "VEDLEGG_SKAL_VAERE_TILGJENGELIG",
        "DUPLIKAT_SAKSOEKT",
    } <= codes
    assert all(rule.melding for rule in result.rules)
    assert result.korrelasjonsid and result.melding
    assert sandbox.admin.cases() == []


class _CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting how many requests the client has in flight."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.in_flight = 0
        self.max_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_100_cases_under_30_percent_faults_each_stored_once(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """Under 30% 503/429/timeouts/drops, 100 cases all end accepted and each is stored once."""
    settings = settings_for(
        sandbox,
        tmp_path,
        credentials,
        elan={
            "timeout_seconds": 0.5,
            "retry": {
                "attempts": 12,
                "total_seconds": 60,
                "initial_wait_seconds": 0.002,
                "max_wait_seconds": 0.02,
            },
        },
    )
    actions = ["503", "429", "delay:5", "drop", "accept_then_drop"]
    plan = {
        name: {"probability": 0.3, "actions": actions}
        for name in ("upload", "attachment_status", "submit")
    }
    sandbox.admin.set_faults(plan, seed=7)
    refs = [f"IB-F{i:03d}" for i in range(100)]

    async def one(elan: ElanClient, ref: str) -> Any:
        return await elan.submit(await prepared(elan, ref, one_file=True))

    counting = _CountingTransport()

    async def run() -> list[Any]:
        async with build_client(settings, transport=counting) as elan:
            return await asyncio.gather(*(one(elan, ref) for ref in refs))

    results = asyncio.run(run())
    sandbox.admin.clear_faults()
    assert all(isinstance(r, Accepted) for r in results), [
        r for r in results if not isinstance(r, Accepted)
    ]
    cases = sandbox.admin.cases()
    stored = sorted(c["innsenderReferanse"] for c in cases)
    assert stored == refs
    by_ref = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in cases}
    assert all(r.ekstern_saksreferanse == by_ref[ref] for r, ref in zip(results, refs, strict=True))
    stats = sandbox.admin.stats()
    assert sum(stats["faults_applied"].values()) > 30
    # The limit is the client's promise: never more than 5 calls of its own in flight.
    # The server's count is not asserted here: a call the client abandoned at its timeout
    # still holds a server slot until the server notices the disconnect, so the server may
    # briefly count a 6th and answer 429, which the client then retries by design.
    assert counting.max_in_flight == 5


def test_accept_then_drop_on_every_first_submit(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """Every first submit is stored but its answer lost: the resubmit resolves it, nothing twice."""
    settings = settings_for(sandbox, tmp_path, credentials)
    refs = [f"IB-D{i:02d}" for i in range(10)]
    sandbox.admin.set_faults({"submit": {"sequence": ["accept_then_drop", "ok"] * len(refs)}})

    async def run() -> list[Any]:
        async with build_client(settings) as elan:
            return [await elan.submit(await prepared(elan, ref, one_file=True)) for ref in refs]

    results = asyncio.run(run())
    cases = sandbox.admin.cases()
    assert sorted(c["innsenderReferanse"] for c in cases) == refs
    by_ref = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in cases}
    for ref, result in zip(refs, results, strict=True):
        assert isinstance(result, Accepted) and result.already_submitted
        assert result.ekstern_saksreferanse == by_ref[ref]
    submits = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    assert len(submits) == 2 * len(refs)
    # The resubmit is the same logical message: one Meldingsid per case.
    per_case: dict[str, set[str]] = {}
    for s in submits:
        per_case.setdefault(s["json"]["innsenderReferanse"], set()).add(s["headers"]["meldingsid"])
    assert all(len(ids) == 1 for ids in per_case.values())


def test_no_retry_on_permanent_errors(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """A 404 (unknown case) and a 400 (not JSON) are answered once, never retried."""
    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> tuple[ElanPermanentError, Any]:
        async with build_client(settings) as elan:
            with pytest.raises(ElanPermanentError) as info:
                await elan.status("TEST_UGYLDIG")
            return info.value, await elan.change("finnes-ikke", reference_begjaering())

    error, changed = asyncio.run(run())
    assert error.http_status == 404 and error.kode == "XXX-003" and error.korrelasjonsid
    assert isinstance(changed, FailedPermanently) and changed.http_status == 404
    calls = sandbox.admin.stats()["calls"]
    assert calls["status"] == 1 and calls["change"] == 1


def test_retries_are_bounded(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """When 503 never stops, submit gives up after the configured attempts: failed temporarily."""
    settings = settings_for(sandbox, tmp_path, credentials, elan={"retry": {"attempts": 4}})
    sandbox.admin.set_faults({"submit": {"probability": 1.0, "actions": ["503"]}})

    async def run() -> Any:
        async with build_client(settings) as elan:
            return await elan.submit(reference_begjaering())

    result = asyncio.run(run())
    assert isinstance(result, FailedTemporarily)
    assert result.http_status == 503 and result.kode == "XXX-002" and result.korrelasjonsid
    assert sandbox.admin.stats()["calls"]["submit"] == 4


def test_concurrency_limit_per_organisation(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """With max_concurrency 2, at most two calls are in flight though 12 are started at once."""
    settings = settings_for(sandbox, tmp_path, credentials, elan={"max_concurrency": 2})
    sandbox.admin.set_faults({"status": {"sequence": ["delay:0.05"] * 12}})

    async def run() -> list[Any]:
        async with build_client(settings) as elan:
            return list(
                await asyncio.gather(*(elan.status("TEST_SAK_FORELAGT") for _ in range(12)))
            )

    results = asyncio.run(run())
    stats = sandbox.admin.stats()
    assert [r["saksstatus"] for r in results] == ["sakForelagt"] * 12
    assert stats["max_concurrency_seen"] == 2 and stats["rejected_concurrency"] == 0


def test_virus_attachment_ends_as_virus(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """An EICAR upload reaches the final state `virus`, which wait_until_ready returns."""
    from utlegg_gateway.sandbox.rules import EICAR

    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> str:
        async with build_client(settings) as elan:
            upload = await elan.upload_attachment(EICAR, "v.txt", "IB-V1")
            return (await elan.wait_until_ready([upload]))[upload.uuid]

    assert asyncio.run(run()) == "virus"


def test_change_validate_and_betjeningskartet(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """A submitted case can be validated for change and changed; betjeningskartet answers."""
    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> tuple[Any, Any, Any, dict[str, Any]]:
        async with build_client(settings) as elan:
            begjaering = await prepared(elan, "IB-C1")
            accepted = await elan.submit(begjaering)
            assert isinstance(accepted, Accepted) and accepted.ekstern_saksreferanse
            ref = accepted.ekstern_saksreferanse
            begjaering["underskrift"] = "Anna Norman"
            checked = await elan.validate_change(ref, begjaering)
            changed = await elan.change(ref, begjaering)
            kart = await elan.betjeningskartet(["44926701751"])
            return accepted, checked, changed, kart

    accepted, checked, changed, kart = asyncio.run(run())
    assert isinstance(checked, Accepted)
    assert isinstance(changed, Accepted)
    assert changed.ekstern_saksreferanse == accepted.ekstern_saksreferanse
    assert kart["skyldner"][0]["regelverk"] == "nyttRegelverk"


def test_wait_until_ready_is_bounded_then_sees_ready(credentials: Any, tmp_path: Path) -> None:
    """While scanning, waiting gives up at its timeout; once the scan is done it returns ready."""
    from utlegg_gateway.errors import ElanTemporaryError
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    options = SandboxOptions(model_version="1.1", scanning_seconds=3600.0)
    with running_sandbox(options, credentials=[credentials]) as sb:
        settings = settings_for(sb, tmp_path, credentials)

        async def run() -> tuple[str, str]:
            async with build_client(settings) as elan:
                upload = await elan.upload_attachment(PDF, "vedlegg.pdf", "IB-W1")
                assert upload.state == "scanning"  # the reply's own state
                with pytest.raises(ElanTemporaryError, match="scanning"):
                    await elan.wait_until_ready([upload], timeout=0.05)
                before = await elan.attachment_status(upload.uuid)
                sb.admin.advance_clock(3600)
                after = await elan.wait_until_ready([upload], timeout=5)
                return before, after[upload.uuid]

        before, after = asyncio.run(run())
        polls = sb.admin.stats()["calls"]["attachment_status"]
    assert (before, after) == ("scanning", "ready")
    assert polls >= 3


def test_change_with_lost_answer_then_uavklart_is_not_a_rejection(
    credentials: Any, tmp_path: Path
) -> None:
    """A change whose answer was lost, then UAVKLART_STATUS: reported as unknown, not rejected."""
    from utlegg_gateway.errors import ElanUnknownOutcomeError
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0, unsettled_seconds=300.0)
    with running_sandbox(options, credentials=[credentials]) as sb:
        settings = settings_for(sb, tmp_path, credentials)

        async def run() -> tuple[Any, Any]:
            async with build_client(settings) as elan:
                begjaering = await prepared(elan, "IB-U1", one_file=True)
                accepted = await elan.submit(begjaering)
                assert isinstance(accepted, Accepted) and accepted.ekstern_saksreferanse
                sb.admin.advance_clock(301)  # the first version has settled
                sb.admin.set_faults({"change": {"sequence": ["accept_then_drop"]}})
                return accepted, await elan.change(accepted.ekstern_saksreferanse, begjaering)

        accepted, changed = asyncio.run(run())
        (case,) = sb.admin.cases()
    assert isinstance(changed, FailedTemporarily)
    assert isinstance(changed.error, ElanUnknownOutcomeError)
    assert changed.kode == "UAVKLART_STATUS"
    assert case["versions"] == 2, "the lost change was applied once, not twice"
    assert case["eksternSaksreferanse"] == accepted.ekstern_saksreferanse


def test_a_streamed_upload_arrives_byte_for_byte(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """An UploadBody is sent as multipart in chunks with a Content-Length: the sandbox gets
    the same bytes, file name and reference as from an in-memory upload."""
    from utlegg_gateway.folders import attachments

    data = b"%PDF-1.4\n" + os.urandom(2 * 1024 * 1024 + 3)
    path = tmp_path / "stor fil.pdf"
    path.write_bytes(data)
    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> UploadedAttachment:
        async with build_client(settings) as elan:
            checked = attachments.check(path)
            return await elan.upload_attachment(attachments.Stream(checked), path.name, "IB-S1")

    upload = asyncio.run(run())
    (got,) = sandbox.admin.uploads()
    assert got["uuid"] == upload.uuid
    assert (got["filnavn"], got["innsenderReferanse"]) == ("stor fil.pdf", "IB-S1")
    assert got["sha256"] == hashlib.sha256(data).hexdigest()
