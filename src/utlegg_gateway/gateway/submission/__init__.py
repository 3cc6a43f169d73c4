"""The pipeline's submit step with its two decisions: corrections and routing.

`casework.CaseWorker._submit` calls `submit_case(self, record, case, meldingsid,
now=self._clock())` where it used to call `client.submit(...)`. The answer is either a
`SubmitResult` (the worker handles it as before) or a `CaseRecord` this module already
moved to its next state:

- a case from an inbox in `corrections.inboxes` is a correction: sent as a change of the
  accepted original (`corrections.send_correction`); `UAVKLART_STATUS` → `retry_wait`
  with the corrections backoff; a rejection or an unknown original → `rejected` with the
  rules (an unknown original is never sent as new);
- otherwise, when Betjeningskartet routing is on, the debtors are looked up first: old
  rules → `outbox/elsa/<ref>.json`, case `rejected` with rule `routed-to-elsa`; mixed →
  `outbox/elsa/<ref>.papir.json`, rule `mixed-rules-paper`; never sent to ELAN;
- ELAN's own `SAKSOEKT_GAMMELT_REGELVERK` answer writes the same ELSA file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.elan.results import Accepted, Rejected, RuleViolation, SubmitResult
from utlegg_gateway.gateway.submission.corrections import send_correction
from utlegg_gateway.gateway.submission.routing import (
    RoutingDecision,
    decision_from_rules,
    route_case,
    write_elsa,
)
from utlegg_gateway.journal.sqlite import CaseRecord, CaseState, FileRecord

__all__ = ["is_correction", "submit_case"]

log = get_logger(__name__)


def is_correction(settings: Any, record: FileRecord) -> bool:
    """Whether the file's cases are corrections (its inbox is a corrections inbox)."""
    return record.inbox in settings.corrections.inboxes


def _entry(code: str, message: str, case: CaseRecord, **extra: Any) -> dict[str, Any]:
    src = {k: v for k, v in case.source.items() if k != "attachments"}
    out = {"code": code, "rule": code, "message": message, **extra}
    if src:
        out["source"] = src
    return {k: v for k, v in out.items() if v is not None}


def _rule_entry(
    rule: RuleViolation, case: CaseRecord, korrelasjonsid: str | None
) -> dict[str, Any]:
    return _entry(
        rule.kode, rule.melding, case, location=rule.lokasjon, korrelasjonsid=korrelasjonsid
    )


def _routed(
    worker: Any,
    record: FileRecord,
    case: CaseRecord,
    decision: RoutingDecision,
    rules: list[dict[str, Any]] | None = None,
) -> CaseRecord:
    settings = worker.settings
    path = write_elsa(
        settings.folders.outbox,
        settings,
        innsender_referanse=case.innsender_referanse,
        begjaeringsdato=case.begjaeringsdato,
        decision=decision,
        payload=case.payload,
        source={k: v for k, v in case.source.items() if k != "attachments"},
    )
    code = "mixed-rules-paper" if decision.route == "paper" else "routed-to-elsa"
    log.info("case not sent to ELAN", extra=fields(case=case.key, route=decision.route))
    errors = [*(rules or []), _entry(code, f"{decision.reason} (see {path.name})", case)]
    ended: CaseRecord = worker.end(record, case, CaseState.REJECTED, errors=errors)
    return ended


async def submit_case(
    worker: Any, record: FileRecord, case: CaseRecord, meldingsid: str, *, now: datetime
) -> SubmitResult | CaseRecord:
    """Submit (or change, or route) one case in state `submitting`; see the module docstring."""
    settings = worker.settings
    client = worker.client
    if is_correction(settings, record):
        outcome = await send_correction(
            client,
            worker.journal,
            settings,
            innsender_referanse=case.innsender_referanse,
            begjaeringsdato=case.begjaeringsdato,
            payload=case.payload,
            attempt=max(1, case.attempts),
            meldingsid=meldingsid,
        )
        if outcome.status == "accepted":
            return Accepted(
                ekstern_saksreferanse=outcome.ekstern_saksreferanse,
                korrelasjonsid=outcome.korrelasjonsid or "",
                already_submitted=False,
            )
        if outcome.status == "retry" and outcome.retry_after is not None:
            next_at = now + timedelta(seconds=outcome.retry_after)
            retried: CaseRecord = worker.journal.set_case_state(
                case.id,
                CaseState.RETRY_WAIT,
                next_attempt_at=next_at,
                errors=[_entry("UAVKLART_STATUS", outcome.message, case)],
            )
            return retried
        errors = [_rule_entry(r, case, outcome.korrelasjonsid) for r in outcome.rules] or [
            _entry(outcome.status, outcome.message, case)
        ]
        state = CaseState.FAILED if outcome.status == "failed" else CaseState.REJECTED
        ended: CaseRecord = worker.end(record, case, state, errors=errors)
        return ended
    decision = await route_case(client, case.payload, settings, now.date())
    if decision.route != "elan":
        return _routed(worker, record, case, decision)
    result: SubmitResult = await client.submit(case.payload, meldingsid=meldingsid)
    if isinstance(result, Rejected):
        old = decision_from_rules(result.rules)
        if old is not None:
            rules = [_rule_entry(r, case, result.korrelasjonsid) for r in result.rules]
            return _routed(worker, record, case, old, rules)
    return result
