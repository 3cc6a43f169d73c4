"""Status på sak bodies: for real sandbox cases, and the documented `TEST_SAK_*` fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from utlegg_gateway.sandbox.state import CaseRow

__all__ = ["FIXTURES", "fixture_status", "status_body"]

# api-notes §1.5: fixed references answering with a fixed status in the test environment.
FIXTURES = {
    "TEST_SAK_OPPRETTET": "sakOpprettet",
    "TEST_SAK_UNDER_BEHANDLING": "sakUnderBehandling",
    "TEST_SAK_NEKTET_FREMMET": "sakNektetFremmet",
    "TEST_SAK_FORELAGT": "sakForelagt",
    "TEST_SAK_BESLUTTET": "sakBesluttet",
    "TEST_SAK_AVSLUTTET": "sakAvsluttet",
    "TEST_SAK_HEVET": "sakHevet",
}
_DECIDED = frozenset({"sakBesluttet", "sakAvsluttet"})
_NS = uuid.UUID("6f1d7c1e-5b0e-4b8e-9a51-0c3f1e2d7a10")

# kravdetaljer (begjæring) -> kravbeskrivelse (StatusPåSak code list)
_KRAVBESKRIVELSE = {
    "hovedkrav": "hovedkrav",
    "rentekrav": "rentekrav",
    "utenrettsligekostnader": "utenrettsligeKostnader",
    "sakskostnader": "sakskostnader",
    "sakskostnaderforskriving": "sakskostnaderForSkriving",
    "tidligererettsligekostnader": "tidligereRettsligeKostnader",
    "rettsgebyr": "rettsgebyr",
}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _parties(entries: Any, inner: str) -> list[dict[str, Any]]:
    out = []
    for entry in entries if isinstance(entries, list) else []:
        party = entry.get(inner, {}) if isinstance(entry, Mapping) else {}
        out.append({k: party[k] for k in ("virksomhet", "person", "sammenslutning") if k in party})
    return out


def _krav(ref: str, payload: Mapping[str, Any], established: bool) -> list[dict[str, Any]]:
    out = []
    for i, krav in enumerate(payload.get("kravTilInnkreving") or []):
        if not isinstance(krav, Mapping):
            continue
        kravref = str(krav.get("innsendersKravreferanse", i))
        detalj = str(krav.get("kravdetaljer", "hovedkrav")).lower()
        item: dict[str, Any] = {
            "innsendersKravreferanse": kravref,
            "kravbeskrivelse": _KRAVBESKRIVELSE.get(detalj, "hovedkrav"),
            "prioritetDekningsloven": krav.get("prioritetDekningsloven", "e"),
        }
        if established:
            item["kravgrunnlagsidentifikator"] = _id(ref, "krav", kravref)
        if "gjenstaaendeBeloep" in krav:
            item["gjenstaaendeBeloep"] = krav["gjenstaaendeBeloep"]
        out.append(item)
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _body(
    *,
    ref: str,
    saksnummer: str,
    status: str,
    innsender_referanse: str | None,
    meldingsdato: str,
    payload: Mapping[str, Any],
    decided_at: str,
) -> dict[str, Any]:
    established = status != "sakOpprettet"
    krav = _krav(ref, payload, established)
    body: dict[str, Any] = {
        "eksternSaksreferanse": ref,
        "saksnummer": saksnummer,
        "saksstatus": status,
        "innsenderReferanse": innsender_referanse,
        "meldingsdato": meldingsdato,
        "saksoeker": _parties(payload.get("saksoeker"), "saksoeker"),
        "saksoekt": _parties(payload.get("saksoekt"), "saksoekt"),
        "kravISak": krav,
    }
    if status in _DECIDED:
        ids = [k["kravgrunnlagsidentifikator"] for k in krav]
        body["beslutningsinformasjon"] = [
            {
                "beslutningstidspunkt": decided_at,
                "saksoekt": saksoekt,
                **_decision(ref, i, ids),
            }
            for i, saksoekt in enumerate(body["saksoekt"])
        ]
    return body


# Every decision type the Status på sak pages name, in turn per saksøkt (the first gets
# utleggstrekk, the second utleggspant, the third intet til utlegg), so a client meets
# each shape: single objects, and utleggspant as a list (0..*).
_DECISION_KINDS = ("besluttetUtleggstrekk", "besluttetUtleggspant", "besluttetIntetTilUtlegg")


def _decision(ref: str, index: int, ids: list[str]) -> dict[str, Any]:
    kind = _DECISION_KINDS[index % len(_DECISION_KINDS)]
    measure = {
        "tiltaksidentifikator": _id(ref, "tiltak", str(index)),
        "kravgrunnlagsidentifikator": ids,
    }
    if kind != "besluttetUtleggspant":
        return {kind: measure}
    # One pant per claim: a list of measures, as the model allows.
    return {
        kind: [
            {
                "tiltaksidentifikator": _id(ref, "pant", str(index), kid),
                "kravgrunnlagsidentifikator": [kid],
            }
            for kid in ids
        ]
        or [measure]
    }


def status_body(
    case: CaseRow, status: str, timings: tuple[tuple[str, float], ...]
) -> dict[str, Any]:
    """The StatusPåSak answer for a case the sandbox received."""
    decided_after = dict(timings).get("sakBesluttet", 0.0)
    return _body(
        ref=case.ref,
        saksnummer=case.saksnummer,
        status=status,
        innsender_referanse=case.innsender_referanse,
        meldingsdato=_iso(case.submitted_at),
        payload=case.payload,
        decided_at=_iso(case.submitted_at + decided_after),
    )


_FIXTURE_PAYLOAD: dict[str, Any] = {
    "saksoeker": [
        {
            "saksoeker": {
                "virksomhet": {
                    "navn": "UPERSONLIG FRISK TIGER AS",
                    "identifikator": {
                        "taxIdentificationNumber": "311758489",
                        "landkodeIdentifikator": "NO",
                    },
                    "virksomhetstype": "annet",
                }
            }
        }
    ],
    # Three saksøkte, so TEST_SAK_BESLUTTET shows all three decision types.
    "saksoekt": [
        {
            "saksoekt": {
                "person": {
                    "personnavn": {"fornavn": "HENSIKT", "etternavn": "LYSEGUL"},
                    "identifikator": {
                        "taxIdentificationNumber": "44926701751",
                        "landkodeIdentifikator": "NO",
                    },
                }
            }
        },
        {
            "saksoekt": {
                "virksomhet": {
                    "navn": "TEST SAKSØKT AS",
                    "identifikator": {
                        "taxIdentificationNumber": "310000108",
                        "landkodeIdentifikator": "NO",
                    },
                    "virksomhetstype": "annet",
                }
            }
        },
        {"saksoekt": {"sammenslutning": {"navn": "TEST SAMEIE"}}},
    ],
    "kravTilInnkreving": [
        {
            "innsendersKravreferanse": "TEST-KRAV-1",
            "kravdetaljer": "Hovedkrav",
            "prioritetDekningsloven": "e",
            "gjenstaaendeBeloep": {"beloep": 12000.14, "valuta": "NOK"},
        },
        {
            "innsendersKravreferanse": "TEST-KRAV-2",
            "kravdetaljer": "Rentekrav",
            "prioritetDekningsloven": "e",
        },
    ],
}


def fixture_status(ref: str, now: datetime) -> dict[str, Any] | None:
    """The fixed answer for a `TEST_SAK_*` reference, or None (TEST_UGYLDIG is a plain 404)."""
    status = FIXTURES.get(ref)
    if status is None:
        return None
    stamp = now.replace(microsecond=0).isoformat()
    return _body(
        ref=ref,
        saksnummer=f"UTLBGJ/{now.year}/TEST",
        status=status,
        innsender_referanse="TEST",
        meldingsdato=stamp,
        payload=_FIXTURE_PAYLOAD,
        decided_at=stamp,
    )
