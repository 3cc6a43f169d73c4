"""Corrections (endring): a changed begjæring for a case ELAN already accepted.

A correction arrives like a new export (in an inbox named in `corrections.inboxes`, or
flagged by the mapping). The original is found in the journal by `innsenderReferanse` +
`begjaeringsdato`; the change is sent with `PUT …/{eksternSaksreferanse}`. Outcomes:

- accepted: receipted like any other case (same eksternSaksreferanse);
- `UAVKLART_STATUS` (an earlier version is still unprocessed): retry later with
  doubling waits (`corrections.retry_*`), then give up as failed;
- `UGYLDIG_STATUS`, `ULOVLIG_ENDRING_*` and every other rule: rejected, reported;
- no accepted original in the journal: reported as `unknown-case`, never sent as new.

Pipeline hook (one call instead of submit for a correction): `outcome = await
send_correction(client, journal, settings, innsender_referanse=…, begjaeringsdato=…,
payload=…, attempt=n)`; `retry` → `retry_wait` until `outcome.retry_after`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import Settings
from utlegg_gateway.elan.results import (
    Accepted,
    FailedPermanently,
    FailedTemporarily,
    Rejected,
    RuleViolation,
    SubmitResult,
)
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import CaseRecord

__all__ = [
    "PENDING_RULE",
    "CorrectionOutcome",
    "find_original",
    "retry_delay",
    "send_correction",
]

log = get_logger(__name__)

PENDING_RULE = "UAVKLART_STATUS"

Status = Literal["accepted", "retry", "rejected", "unknown-case", "failed"]


@dataclass(frozen=True)
class CorrectionOutcome:
    """What became of one correction."""

    status: Status
    message: str
    ekstern_saksreferanse: str | None = None
    korrelasjonsid: str | None = None
    rules: tuple[RuleViolation, ...] = ()
    retry_after: float | None = None  # seconds, for `retry`


class _Changer(Protocol):
    async def change(
        self,
        ekstern_saksreferanse: str,
        begjaering: Mapping[str, Any],
        *,
        meldingsid: str | None = None,
    ) -> SubmitResult: ...


def find_original(
    journal: JournalStore, innsender_referanse: str, begjaeringsdato: str
) -> CaseRecord | None:
    """The accepted case this correction changes, if the journal has one with a reference."""
    case = journal.accepted_case(innsender_referanse, begjaeringsdato)
    return case if case is not None and case.ekstern_saksreferanse else None


def retry_delay(attempt: int, settings: Settings) -> float:
    """Seconds before retry number `attempt` (1, 2, …) after UAVKLART_STATUS."""
    c = settings.corrections
    return float(min(c.retry_initial_seconds * 2 ** max(0, attempt - 1), c.retry_max_seconds))


async def send_correction(
    client: _Changer,
    journal: JournalStore,
    settings: Settings,
    *,
    innsender_referanse: str,
    begjaeringsdato: str,
    payload: Mapping[str, Any],
    attempt: int = 1,
    meldingsid: str | None = None,
) -> CorrectionOutcome:
    """Send one correction attempt and classify the answer (see the module docstring)."""
    original = find_original(journal, innsender_referanse, begjaeringsdato)
    if original is None:
        return CorrectionOutcome(
            "unknown-case",
            f"no accepted case with innsenderReferanse {innsender_referanse} and "
            f"begjaeringsdato {begjaeringsdato}: a correction is not sent as a new case",
        )
    ref = original.ekstern_saksreferanse
    assert ref is not None
    result = await client.change(ref, payload, meldingsid=meldingsid)
    if isinstance(result, Accepted):
        log.info("correction accepted", extra=fields(case=innsender_referanse, attempt=attempt))
        return CorrectionOutcome(
            "accepted",
            "correction accepted",
            ekstern_saksreferanse=result.ekstern_saksreferanse or ref,
            korrelasjonsid=result.korrelasjonsid,
        )
    if isinstance(result, Rejected):
        codes = {r.kode for r in result.rules}
        if codes == {PENDING_RULE}:
            if attempt >= settings.corrections.retry_max_attempts:
                return CorrectionOutcome(
                    "failed",
                    f"{PENDING_RULE} after {attempt} attempts: the case is still unsettled",
                    ekstern_saksreferanse=ref,
                    korrelasjonsid=result.korrelasjonsid,
                    rules=result.rules,
                )
            delay = retry_delay(attempt, settings)
            log.info(
                "correction must wait (UAVKLART_STATUS)",
                extra=fields(case=innsender_referanse, attempt=attempt, retry_after=delay),
            )
            return CorrectionOutcome(
                "retry",
                f"{PENDING_RULE}: an earlier version is still being processed; retried later",
                ekstern_saksreferanse=ref,
                korrelasjonsid=result.korrelasjonsid,
                rules=result.rules,
                retry_after=delay,
            )
        return CorrectionOutcome(
            "rejected",
            result.melding or "correction rejected",
            ekstern_saksreferanse=ref,
            korrelasjonsid=result.korrelasjonsid,
            rules=result.rules,
        )
    if isinstance(result, FailedTemporarily):
        asked = getattr(result.error, "retry_after", None)  # set on ElanTemporaryError
        return CorrectionOutcome(
            "retry",
            result.melding,
            ekstern_saksreferanse=ref,
            korrelasjonsid=result.korrelasjonsid,
            retry_after=asked or retry_delay(attempt, settings),
        )
    assert isinstance(result, FailedPermanently)
    return CorrectionOutcome(
        "failed", result.melding, ekstern_saksreferanse=ref, korrelasjonsid=result.korrelasjonsid
    )
