"""The submit step's decisions: send as new, send as a change, route to ELSA, or report.

`decide(client, journal, settings, record, case, meldingsid=..., now=...)` makes the calls a
case in state `submitting` needs and returns a `Decision`; it never writes journal state
(only `casework.CaseWorker` does, from the decision):

- a case from an inbox in `corrections.inboxes` is a correction: sent as a change of the
  accepted original (`corrections.send_correction`); `UAVKLART_STATUS` → `Retry` at the
  corrections backoff; a rejection or an unknown original → `Reject` with the rules (an
  unknown original is never sent as new);
- otherwise, when Betjeningskartet routing is on, the debtors are looked up first: old
  rules → `outbox/elsa/<ref>.json` and `Reject` with rule `routed-to-elsa`; mixed →
  `outbox/elsa/<ref>.papir.json`, rule `mixed-rules-paper`; never sent to ELAN;
- ELAN's own `SAKSOEKT_GAMMELT_REGELVERK` answer writes the same ELSA file.

The one error channel: ELAN's outcomes arrive as typed results (`SubmitResult`) or as
`ElanError`/`AuthError` raised at the HTTP boundary; `decide` and `from_error` turn both
into a Decision, so the worker handles ELAN outcomes in one place and an exception that
escapes is a bug or a configuration error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import Settings
from utlegg_gateway.elan.client import ElanClient
from utlegg_gateway.elan.results import (
    Accepted,
    FailedPermanently,
    FailedTemporarily,
    Rejected,
    RuleViolation,
    SubmitResult,
)
from utlegg_gateway.errors import AuthError, ElanError, ElanTemporaryError, ErrorEntry, Place
from utlegg_gateway.gateway.submission.corrections import CorrectionOutcome, send_correction
from utlegg_gateway.gateway.submission.routing import (
    Lookups,
    RoutingDecision,
    decision_from_rules,
    route_case,
    write_elsa,
)
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import CaseRecord, FileRecord
from utlegg_gateway.provning import explain_server

__all__ = [
    "Accept",
    "Decision",
    "Fail",
    "Reject",
    "Retry",
    "Routed",
    "decide",
    "from_correction",
    "from_error",
    "from_result",
    "is_correction",
]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Accept:
    """ELAN holds the begjæring (a duplicate of ours counts: `already_submitted`)."""

    ekstern_saksreferanse: str | None
    korrelasjonsid: str
    already_submitted: bool = False


@dataclass(frozen=True, slots=True)
class Reject:
    """The case broke rules (ELAN's 422, or a correction refused): it ends `rejected`."""

    errors: tuple[ErrorEntry, ...]
    korrelasjonsid: str | None = None


@dataclass(frozen=True, slots=True)
class Routed:
    """Not sent to ELAN: written to `outbox/elsa/` for ELSA or paper; ends `rejected`."""

    decision: RoutingDecision
    errors: tuple[ErrorEntry, ...]


@dataclass(frozen=True, slots=True)
class Fail:
    """Will not succeed as it is (400/401/403/404/406, an unknown original …): `failed`."""

    errors: tuple[ErrorEntry, ...]
    korrelasjonsid: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """May succeed later. With `not_before` the time is decided (a correction's backoff);
    without, the worker's retry budget decides (`runner.case_retries`)."""

    error: ErrorEntry
    not_before: datetime | None = None


Decision = Accept | Reject | Routed | Fail | Retry


def is_correction(settings: Settings, record: FileRecord) -> bool:
    """Whether the file's cases are corrections (its inbox is a corrections inbox)."""
    return record.inbox in settings.corrections.inboxes


def from_error(exc: ElanError | AuthError, place: Place | None = None) -> Retry | Fail:
    """An ELAN or Maskinporten exception as a decision: temporary → Retry, else Fail."""
    entry = ErrorEntry.from_error(exc, place)
    if isinstance(exc, ElanTemporaryError | AuthError):
        return Retry(entry)
    return Fail((entry,), korrelasjonsid=exc.korrelasjonsid)


def _rule_entries(
    rules: tuple[RuleViolation, ...], place: Place, korrelasjonsid: str | None
) -> tuple[ErrorEntry, ...]:
    """ELAN's rule answers as entries: the tool's English line, ELAN's own text beside it."""
    return tuple(
        ErrorEntry(
            r.kode,
            explain_server(r.kode, r.melding) or r.melding,
            location=r.lokasjon,
            place=place,
            korrelasjonsid=korrelasjonsid,
            server_message=r.melding,
        )
        for r in rules
    )


def from_result(result: SubmitResult, place: Place) -> Decision:
    """A submit/change/validate result as a decision."""
    if isinstance(result, Accepted):
        return Accept(result.ekstern_saksreferanse, result.korrelasjonsid, result.already_submitted)
    if isinstance(result, Rejected):
        errors = _rule_entries(result.rules, place, result.korrelasjonsid) or (
            ErrorEntry(result.kode or "elan-rejected", result.melding, place=place),
        )
        return Reject(errors, korrelasjonsid=result.korrelasjonsid)
    if isinstance(result, FailedPermanently):
        entry = ErrorEntry(
            result.kode or result.error.code,
            result.melding,
            place=place,
            korrelasjonsid=result.korrelasjonsid,
        )
        return Fail((entry,), korrelasjonsid=result.korrelasjonsid)
    assert isinstance(result, FailedTemporarily)
    return Retry(ErrorEntry.from_error(result.error, place))


def from_correction(outcome: CorrectionOutcome, place: Place, now: datetime) -> Decision:
    """A correction's outcome as a decision (an unknown original is a rejection)."""
    if outcome.status == "accepted":
        return Accept(outcome.ekstern_saksreferanse, outcome.korrelasjonsid or "")
    if outcome.status == "retry" and outcome.retry_after is not None:
        entry = ErrorEntry("UAVKLART_STATUS", outcome.message, place=place)
        return Retry(entry, not_before=now + timedelta(seconds=outcome.retry_after))
    errors = _rule_entries(outcome.rules, place, outcome.korrelasjonsid) or (
        ErrorEntry(outcome.status, outcome.message, place=place),
    )
    if outcome.status == "failed":
        return Fail(errors, korrelasjonsid=outcome.korrelasjonsid)
    return Reject(errors, korrelasjonsid=outcome.korrelasjonsid)


def _routed(
    settings: Settings,
    case: CaseRecord,
    decision: RoutingDecision,
    rules: tuple[ErrorEntry, ...] = (),
) -> Routed:
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
    entry = ErrorEntry(code, f"{decision.reason} (see {path.name})", place=case.place)
    return Routed(decision, (*rules, entry))


async def decide(
    client: ElanClient,
    journal: JournalStore,
    settings: Settings,
    record: FileRecord,
    case: CaseRecord,
    *,
    meldingsid: str,
    now: datetime,
    lookups: Lookups | None = None,
) -> Decision:
    """Submit (or change, or route) one case in state `submitting`; see the module docstring.

    `lookups`: the Betjeningskartet lookups in flight, shared by the cases of one client.
    """
    place = case.place
    try:
        if is_correction(settings, record):
            outcome = await send_correction(
                client,
                journal,
                settings,
                innsender_referanse=case.innsender_referanse,
                begjaeringsdato=case.begjaeringsdato,
                payload=case.payload,
                attempt=max(1, case.attempts),
                meldingsid=meldingsid,
            )
            return from_correction(outcome, place, now)
        route = await route_case(
            client, case.payload, settings, now.date(), journal, in_flight=lookups
        )
        if route.route != "elan":
            return _routed(settings, case, route)
        result = await client.submit(case.payload, meldingsid=meldingsid)
    except (ElanError, AuthError) as exc:
        return from_error(exc, place)
    if isinstance(result, Rejected):
        old = decision_from_rules(result.rules)
        if old is not None:
            return _routed(
                settings, case, old, _rule_entries(result.rules, place, result.korrelasjonsid)
            )
    return from_result(result, place)
