"""Corrections (endring) against the sandbox: sent as a change, waited for, or reported."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.followup.conftest import Env, begjaering, elan_client, submit_case
from utlegg_gateway.errors import Place
from utlegg_gateway.gateway.submission import Accept, Reject, from_correction
from utlegg_gateway.gateway.submission.corrections import CorrectionOutcome, send_correction

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """A change within 10 minutes of the last version gets UAVKLART_STATUS."""
    return {"unsettled_seconds": 600.0}


async def _correct(env: Env, ref: str, payload: dict[str, Any], attempt: int) -> CorrectionOutcome:
    async with elan_client(env) as elan:
        return await send_correction(
            elan,
            env.journal,
            env.settings,
            innsender_referanse=ref,
            begjaeringsdato=str(payload["begjaeringsdato"]),
            payload=payload,
            attempt=attempt,
        )


def _accepted_payload(env: Env, ref: str) -> dict[str, Any]:
    """The payload ELAN accepted (attachment uuids filled in), as a correction starts from."""
    case = env.journal.accepted_case(ref, str(begjaering(ref)["begjaeringsdato"]))
    assert case is not None
    return copy.deepcopy(case.payload)


def _changes(env: Env) -> list[dict[str, Any]]:
    return [s for s in env.sandbox.admin.submissions() if s.get("operation") == "change"]


def test_correction_during_uavklart_status_is_retried_then_accepted_and_receipted(
    env: Env,
) -> None:
    """UAVKLART_STATUS → retry after the backoff; then the change is accepted and receipted."""

    async def submit() -> str:
        async with elan_client(env) as elan:
            case = await submit_case(elan, env.journal, "IB-ENDRING-1")
        assert case.ekstern_saksreferanse is not None
        return case.ekstern_saksreferanse

    ref = asyncio.run(submit())
    corrected = _accepted_payload(env, "IB-ENDRING-1")
    corrected["valgtNamsmannsdistrikt"]["begrunnelse"] = "Korrigert begrunnelse"
    first = asyncio.run(_correct(env, "IB-ENDRING-1", corrected, attempt=1))
    assert first.status == "retry"
    assert [r.kode for r in first.rules] == ["UAVKLART_STATUS"]
    assert first.retry_after == env.settings.corrections.retry_initial_seconds
    env.advance(601)
    second = asyncio.run(_correct(env, "IB-ENDRING-1", corrected, attempt=2))
    assert second.status == "accepted"
    assert second.ekstern_saksreferanse == ref
    changes = _changes(env)
    assert [c["status"] for c in changes] == [422, 200]
    assert all(c["eksternSaksreferanse"] == ref for c in changes)
    decision = from_correction(second, Place(), NOW)
    assert isinstance(decision, Accept) and decision.ekstern_saksreferanse == ref


def test_illegal_change_and_locked_case_are_reported_not_retried(env: Env) -> None:
    """ULOVLIG_ENDRING_* and UGYLDIG_STATUS come back as rejections with the rule names."""

    async def submit() -> None:
        async with elan_client(env) as elan:
            await submit_case(elan, env.journal, "IB-ENDRING-2")

    asyncio.run(submit())
    env.advance(601)
    changed = _accepted_payload(env, "IB-ENDRING-2")
    changed["underskrift"] = "Noen Annen"
    illegal = asyncio.run(_correct(env, "IB-ENDRING-2", changed, attempt=1))
    assert illegal.status == "rejected"
    assert [r.kode for r in illegal.rules] == ["ULOVLIG_ENDRING_UNDERSKRIFT"]
    env.advance(2 * 86400)  # the case is avsluttet by now
    same = _accepted_payload(env, "IB-ENDRING-2")
    locked = asyncio.run(_correct(env, "IB-ENDRING-2", same, attempt=1))
    assert locked.status == "rejected"
    assert "UGYLDIG_STATUS" in [r.kode for r in locked.rules]
    decision = from_correction(locked, Place(), NOW)
    assert isinstance(decision, Reject) and "UGYLDIG_STATUS" in [e.rule for e in decision.errors]


def test_correction_for_unknown_case_is_reported_and_never_sent(env: Env) -> None:
    """No accepted original in the journal: reported as unknown-case; ELAN sees nothing."""
    payload = begjaering("IB-UKJENT-1")
    outcome = asyncio.run(_correct(env, "IB-UKJENT-1", payload, attempt=1))
    assert outcome.status == "unknown-case"
    assert env.sandbox.admin.submissions() == []
    # Recorded as a rejection, as the pipeline's receipt shows (test_pipeline_hooks).
    decision = from_correction(outcome, Place(), NOW)
    assert isinstance(decision, Reject) and decision.errors[0].rule == "unknown-case"
