"""How the gateway learns that ELAN has checked an attachment (elan.attachment_readiness).

No source documents `GET /vedlegg/{uuid}`; the pipeline must work (a) from the upload
reply's state, (b) from the status path, (c) from `valider` alone, where a 422 with only
VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT means "not yet". Each mode runs the
whole pipeline against the sandbox, lenient and strict.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._support import FORMATS, MAPPINGS, drop_attachments, drop_renamed, receipt
from tests.elan.conftest import PDF, reference_begjaering, settings_for
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.elan import UploadedAttachment, build_client
from utlegg_gateway.errors import ElanPermanentError, ElanTemporaryError
from utlegg_gateway.gateway.pipeline import NullProgress
from utlegg_gateway.gateway.runner import LOOP_SWITCH_SECONDS, _loop_first, run_once
from utlegg_gateway.sandbox import SandboxOptions

# What the server offers per mode: (state in the upload reply, status path there)
_SERVER = {"reply": (True, True), "status": (False, True), "validate": (False, False)}


def _csv_krav_dropped(root: Path, sb: Any, credentials: Any) -> Path:
    """A gateway config under `root` with the csv-krav sample and its PDFs in its inbox."""
    config = write_gateway_config(
        root,
        sandbox=sb,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
    )
    inbox = root / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    drop_renamed(FORMATS["csv-krav"], inbox)
    return config


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
@pytest.mark.parametrize("mode", sorted(_SERVER))
def test_pipeline_in_each_readiness_mode(
    tmp_path: Path, make_sandbox: Any, credentials: Any, mode: str, strict: bool
) -> None:
    """`auto` takes the reply's state, else polls the status path, else asks `valider`."""
    reply_state, status_path = _SERVER[mode]
    options = SandboxOptions(
        scanning_seconds=0.0,
        strict=strict,
        upload_reply_status=reply_state,
        attachment_status_endpoint=status_path,
    )
    with make_sandbox(options) as sb:
        config = _csv_krav_dropped(tmp_path, sb, credentials)

        report = run_once(load_settings(config, environ={}))

        stats = sb.admin.stats()
        held = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sb.admin.cases()}
    assert report.exit_code == 0
    got = receipt(tmp_path / "outbox", FORMATS["csv-krav"].name)
    assert {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in got["cases"]} == held
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    calls, answers = stats["calls"], stats["answers"]
    uploads = calls["upload"]
    assert uploads >= 2
    if mode == "reply":
        assert "attachment_status" not in calls and "validate" not in calls
    elif mode == "status":
        assert calls["attachment_status"] >= uploads and "validate" not in calls
    else:
        # One 404 teaches the client that the path is not there; valider answers after.
        assert answers["attachment_status:404"] == 1
        assert calls["validate"] >= len(held)


async def _uploaded_and_named(elan: Any, ref: str) -> tuple[UploadedAttachment, dict[str, Any]]:
    """One upload, named by every attachment object of the reference begjæring."""
    upload = await elan.upload_attachment(PDF, "vedlegg.pdf", ref)
    begjaering = reference_begjaering()
    begjaering["innsenderReferanse"] = ref
    for att in _attachment_objects(begjaering):
        att["uuid"] = upload.uuid
    return upload, begjaering


def _attachment_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if "filnavn" in node and "uuid" in node else []
        return own + [o for v in node.values() for o in _attachment_objects(v)]
    if isinstance(node, list):
        return [o for v in node for o in _attachment_objects(v)]
    return []


def test_validate_mode_waits_while_valider_says_not_checked(
    make_sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """While ELAN is still checking, valider's 422 (only the not-checked rule) is "not yet":
    the wait gives up at its timeout; once the scan is over the same call says ready."""
    options = SandboxOptions(
        model_version="1.1",  # the reference begjæring's
        scanning_seconds=3600.0,
        upload_reply_status=False,
        attachment_status_endpoint=False,
    )
    with make_sandbox(options) as sb:
        settings = settings_for(sb, tmp_path, credentials)

        async def run() -> dict[str, str]:
            async with build_client(settings) as elan:
                upload, begjaering = await _uploaded_and_named(elan, "IB-RV1")
                assert upload.state is None
                with pytest.raises(ElanTemporaryError, match="VIRUSSJEKKET"):
                    await elan.wait_until_ready([upload], begjaering, timeout=0.05)
                sb.admin.advance_clock(3600)
                return await elan.wait_until_ready([upload], begjaering, timeout=5)

        states = asyncio.run(run())
        answers = sb.admin.stats()["answers"]
    assert set(states.values()) == {"ready"}
    assert answers["attachment_status:404"] == 1  # asked once, then remembered
    assert answers["validate:422"] >= 1 and answers["validate:204"] == 1


def test_status_mode_fails_when_the_path_is_missing(
    make_sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """attachment_readiness=status never falls back: a 404 there is the answer."""
    options = SandboxOptions(
        model_version="1.1", upload_reply_status=False, attachment_status_endpoint=False
    )
    with make_sandbox(options) as sb:
        settings = settings_for(sb, tmp_path, credentials, elan={"attachment_readiness": "status"})

        async def run() -> None:
            async with build_client(settings) as elan:
                upload, begjaering = await _uploaded_and_named(elan, "IB-RS1")
                await elan.wait_until_ready([upload], begjaering)

        with pytest.raises(ElanPermanentError) as caught:
            asyncio.run(run())
        calls = sb.admin.stats()["calls"]
    assert caught.value.http_status == 404
    assert "validate" not in calls


def test_no_status_path_configured_goes_straight_to_valider(
    make_sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """elan.paths.attachment: null means the status path is never called."""
    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0, upload_reply_status=False)
    with make_sandbox(options) as sb:
        settings = settings_for(sb, tmp_path, credentials, elan={"paths": {"attachment": None}})

        async def run() -> dict[str, str]:
            async with build_client(settings) as elan:
                upload, begjaering = await _uploaded_and_named(elan, "IB-RN1")
                return await elan.wait_until_ready([upload], begjaering)

        states = asyncio.run(run())
        calls = sb.admin.stats()["calls"]
    assert set(states.values()) == {"ready"}
    assert "attachment_status" not in calls and calls["validate"] == 1


class _SwitchIntervals(NullProgress):
    """A progress sink that notes the GIL switch interval and the collector's frozen objects
    each time a case ends."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self.frozen: list[int] = []

    def case_finished(self, name: str, outcome: str) -> None:
        self.seen.append(sys.getswitchinterval())
        self.frozen.append(gc.get_freeze_count())


def test_the_run_hands_the_gil_to_its_event_loop_sooner_freezes_its_start_heap_and_restores(
    tmp_path: Path, make_sandbox: Any, credentials: Any
) -> None:
    """While `run_once` runs, the mapping and journal threads yield to the loop within
    LOOP_SWITCH_SECONDS (CPython's 5 ms held back ELAN calls) and the heap it started with
    is out of the collector's scans (a full one stopped every thread for 22-54 ms); the
    caller's interval and collector return."""
    with make_sandbox(SandboxOptions(scanning_seconds=0.0)) as sb:
        config = _csv_krav_dropped(tmp_path, sb, credentials)
        sink = _SwitchIntervals()
        before = sys.getswitchinterval()
        assert gc.get_freeze_count() == 0
        report = run_once(load_settings(config, environ={}), progress=sink)
    assert report.exit_code == 0
    assert sink.seen
    # CPython keeps the interval in whole microseconds: 0.0001 reads back as 9.99...e-05.
    assert sink.seen == pytest.approx([LOOP_SWITCH_SECONDS] * len(sink.seen))
    # Every module and setting alive at the start: far more than the run's own objects.
    assert min(sink.frozen) > 10_000
    assert sys.getswitchinterval() == before
    assert gc.get_freeze_count() == 0


def test_a_caller_that_froze_objects_itself_keeps_them_frozen() -> None:
    """`gc.unfreeze` cannot tell our objects from the caller's: then all stay frozen."""
    gc.freeze()
    try:
        theirs = gc.get_freeze_count()
        with _loop_first():
            assert gc.get_freeze_count() >= theirs
        assert gc.get_freeze_count() >= theirs
    finally:
        gc.unfreeze()
