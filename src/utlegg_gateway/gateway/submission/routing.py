"""Betjeningskartet routing for the 2026 transition: which debtors ELAN may take.

Right before a new begjæring is submitted, its debtors (saksøkte) are looked up in
Betjeningskartet (api-notes §1.7). All on the new rules → ELAN. All on the old rules →
not sent; written to `outbox/elsa/<innsenderReferanse>.json` with the reason and the
begjæring, for the legacy system to send through ELSA. Mixed rules in one begjæring →
not sent; reported as "paper" (the authority's rule for mixed cases). A debtor
Betjeningskartet does not know (`ukjentSkyldner`) is left to ELAN, which decides with
its own rules. ELAN's own `SAKSOEKT_GAMMELT_REGELVERK` rejection is routed the same way
(`decision_from_rules`). The lookup is on until `routing.betjeningskartet_until`
(2027-01-01) unless configured explicitly.

Pipeline hook (one call before submit): `decision = await route_case(client, payload,
settings, today)`; if `decision.route != "elan"`: `write_elsa(...)` and do not submit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

from utlegg_gateway._logging import fields, get_logger, mask_identifier
from utlegg_gateway.config import Settings
from utlegg_gateway.elan.results import RuleViolation
from utlegg_gateway.folders.outbox import safe_name, write_atomic

__all__ = [
    "OLD_RULES_RULE",
    "Debtor",
    "Lookups",
    "RoutingDecision",
    "debtor_identifiers",
    "decide",
    "decision_from_rules",
    "elsa_document",
    "route_case",
    "write_elsa",
]

log = get_logger(__name__)

OLD_RULES_RULE = "SAKSOEKT_GAMMELT_REGELVERK"
Route = Literal["elan", "elsa", "paper"]


@dataclass(frozen=True)
class Debtor:
    """One debtor's answer (identifier masked: it goes into logs and reports)."""

    identifikator: str  # masked
    regelverk: str


@dataclass(frozen=True)
class RoutingDecision:
    """Where a begjæring must go, and why."""

    route: Route
    regelverk: str
    reason: str
    debtors: tuple[Debtor, ...] = ()


ELAN = RoutingDecision("elan", "nyttRegelverk", "Betjeningskartet is not used")


def _identifiers(payload: Mapping[str, Any]) -> Iterator[str]:
    for entry in payload.get("saksoekt") or []:
        if not isinstance(entry, Mapping):
            continue
        party = entry.get("saksoekt", entry)
        if not isinstance(party, Mapping):
            continue
        for kind in ("person", "virksomhet", "sammenslutning"):
            holder = party.get(kind)
            if isinstance(holder, Mapping):
                ident = holder.get("identifikator")
                if isinstance(ident, Mapping) and ident.get("taxIdentificationNumber"):
                    yield str(ident["taxIdentificationNumber"])


def debtor_identifiers(payload: Mapping[str, Any]) -> list[str]:
    """The saksøkte's identifiers (fødselsnummer / orgnr), in order, without repeats."""
    return list(dict.fromkeys(_identifiers(payload)))


def decide(answer: Mapping[str, Any]) -> RoutingDecision:
    """The route from a Betjeningskartet answer (pure)."""
    debtors = tuple(
        Debtor(
            mask_identifier(str((d.get("skyldner") or {}).get("taxIdentificationNumber", ""))),
            str(d.get("regelverk")),
        )
        for d in answer.get("skyldner") or []
        if isinstance(d, Mapping)
    )
    kinds = {d.regelverk for d in debtors} - {"ukjentSkyldner"}
    overall = str(answer.get("regelverk") or "")
    if overall == "motstridendeRegelverk" or len(kinds) > 1:
        return RoutingDecision(
            "paper",
            "motstridendeRegelverk",
            "the debtors are on different rules: the begjæring must be sent on paper",
            debtors,
        )
    if kinds == {"tidligereRegelverk"} or (not kinds and overall == "tidligereRegelverk"):
        return RoutingDecision(
            "elsa",
            "tidligereRegelverk",
            "the debtors are on the old rules: send through ELSA, not ELAN",
            debtors,
        )
    return RoutingDecision("elan", overall or "nyttRegelverk", "new rules: ELAN", debtors)


def decision_from_rules(rules: Sequence[RuleViolation]) -> RoutingDecision | None:
    """ELAN's rejection as a route: SAKSOEKT_GAMMELT_REGELVERK → ELSA; else None."""
    if any(r.kode == OLD_RULES_RULE for r in rules):
        return RoutingDecision(
            "elsa",
            "tidligereRegelverk",
            f"ELAN answered {OLD_RULES_RULE}: send through ELSA, not ELAN",
        )
    return None


class _Lookup(Protocol):
    async def betjeningskartet(self, identifikatorer: list[str]) -> dict[str, Any]: ...


class DebtorRules(Protocol):
    """Where a debtor's rules from Betjeningskartet are kept for the day (the journal)."""

    def get_cursor(self, name: str) -> str | None: ...
    def set_cursor(self, name: str, value: str) -> None: ...


def _rules_key(ident: str) -> str:
    # Hashed: a cursor's name is what tools show; the value holds only a date and a rule
    # name. (The journal's payloads hold the identifiers anyway, so this hides, not guards.)
    return "betjeningskartet:" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]


def _debtor_rules(answer: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for d in answer.get("skyldner") or []:
        if isinstance(d, Mapping):
            ident = str((d.get("skyldner") or {}).get("taxIdentificationNumber", ""))
            rules = d.get("regelverk")
            if ident and isinstance(rules, str) and rules:
                yield ident, rules


# Betjeningskartet lookups now in flight, by day and debtor (see `route_case`).
Lookups: TypeAlias = dict[str, asyncio.Task[dict[str, Any]]]


async def _look_up(
    client: _Lookup, idents: list[str], day: str, known: DebtorRules | None
) -> dict[str, Any]:
    answer = await client.betjeningskartet(idents)
    if known is not None:
        for ident, rules in _debtor_rules(answer):
            if ident in idents:
                known.set_cursor(_rules_key(ident), f"{day} {rules}")
    return answer


async def route_case(
    client: _Lookup,
    payload: Mapping[str, Any],
    settings: Settings,
    today: date,
    known: DebtorRules | None = None,
    *,
    in_flight: Lookups | None = None,
) -> RoutingDecision:
    """Look the debtors up (when routing is on) and decide; ELAN when off or no debtor.

    With `known`, a debtor is looked up at most once a day: its answer is kept there
    (dated) and a later case of the same debtor that day is decided from it. With
    `in_flight` (one dict per client, shared by its cases), a case whose debtor is being
    looked up right now by another case waits for that answer instead of asking again.
    """
    if not settings.routing.betjeningskartet_on(today):
        return ELAN
    idents = debtor_identifiers(payload)
    if not idents:
        return RoutingDecision("elan", "ukjentSkyldner", "no debtor identifier to look up")
    day = today.isoformat()
    kept: dict[str, str] = {}
    if known is not None:
        for ident in idents:
            stored = known.get_cursor(_rules_key(ident)) or ""
            stamp, _, rules = stored.partition(" ")
            if stamp == day and rules:
                kept[ident] = rules
    pending = in_flight if in_flight is not None else {}
    waits = {
        i: pending[f"{day} {_rules_key(i)}"]
        for i in idents
        if i not in kept and f"{day} {_rules_key(i)}" in pending
    }
    missing = [i for i in idents if i not in kept and i not in waits]
    answer: dict[str, Any] = {}
    if missing:
        task = asyncio.ensure_future(_look_up(client, missing, day, known))
        keys = [f"{day} {_rules_key(i)}" for i in missing]
        if in_flight is not None:
            in_flight.update(dict.fromkeys(keys, task))
            task.add_done_callback(lambda _: [in_flight.pop(k, None) for k in keys])
        # Shielded: a cancelled case must not cancel the lookup other cases wait for.
        answer = await asyncio.shield(task)
    for ident, task in waits.items():
        # Another case's lookup named this debtor: its answer, as if kept in the journal.
        kept.update((i, r) for i, r in _debtor_rules(await asyncio.shield(task)) if i == ident)
    if kept:
        # The kept debtors join the fresh answer as if one lookup had named them all.
        answer = {
            "regelverk": answer.get("regelverk", "") if missing else "",
            "skyldner": [
                *(answer.get("skyldner") or []),
                *(
                    {"skyldner": {"taxIdentificationNumber": i}, "regelverk": r}
                    for i, r in kept.items()
                ),
            ],
        }
    decision = decide(answer)
    # A route from the journal's day cache is DEBUG; a lookup that asked ELAN is INFO.
    log.log(
        logging.INFO if missing else logging.DEBUG,
        "betjeningskartet",
        extra=fields(route=decision.route, regelverk=decision.regelverk, looked_up=len(missing)),
    )
    return decision


def elsa_document(
    *,
    innsender_referanse: str,
    begjaeringsdato: str,
    decision: RoutingDecision,
    payload: Mapping[str, Any],
    source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The outbox document for a case the gateway does not send to ELAN (pure)."""
    return {
        "type": "ikke-sendt-til-elan",
        "rute": decision.route,
        "innsenderReferanse": innsender_referanse,
        "begjaeringsdato": begjaeringsdato,
        "regelverk": decision.regelverk,
        "grunn": decision.reason,
        "skyldnere": [
            {"identifikator": d.identifikator, "regelverk": d.regelverk} for d in decision.debtors
        ],
        "kilde": dict(source or {}),
        "begjaering": dict(payload),
    }


def write_elsa(
    outbox: Path,
    settings: Settings,
    *,
    innsender_referanse: str,
    begjaeringsdato: str,
    decision: RoutingDecision,
    payload: Mapping[str, Any],
    source: Mapping[str, Any] | None = None,
) -> Path:
    """`outbox/elsa/<innsenderReferanse>.json` (paper cases: `<ref>.papir.json`), atomically."""
    suffix = ".papir.json" if decision.route == "paper" else ".json"
    path = outbox / settings.routing.elsa_folder / f"{safe_name(innsender_referanse)}{suffix}"
    doc = elsa_document(
        innsender_referanse=innsender_referanse,
        begjaeringsdato=begjaeringsdato,
        decision=decision,
        payload=payload,
        source=source,
    )
    write_atomic(path, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return path
