"""ELAN's still-current published shapes (tests/data/elan/, sources in SOURCE.md there).

Skatteetaten has not published the operation-level contract, so only what is published is
held: the general error body and the XXX-001..006 table (every error of every ELAN route),
the 422 `ProblemDetailMedKontrollutslag` (beta OpenAPI, verbatim), the StatusPåSak body
(the status diagram), the submit answer and the empty validate / change answers (beta
API). In strict mode (`SandboxOptions.strict`) every answer must be exactly that; in
lenient mode the sandbox's documented extensions (`LENIENT_EXTENSIONS`) are allowed and
nothing else. Success answers of routes with no published shape (upload, attachment
status, betjeningskartet) are listed in `routes.UNPUBLISHED` instead.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests._data import TESTS
from tests.contract.openapi import _FORMATS, media_type
from utlegg_gateway import provning
from utlegg_gateway.sandbox.recorder import Exchange

__all__ = [
    "ELAN_BASE",
    "ERROR_GAPS",
    "LENIENT_EXTENSIONS",
    "OPERATIONS",
    "check",
    "handles",
    "operation_of",
]

ELAN_BASE = "/api/utleggsbegjaering/v2"
_DATA = TESTS / "data" / "elan"
_PUBLISHED = json.loads((_DATA / "published.schema.json").read_text(encoding="utf-8"))
_BETA = json.loads((_DATA / "beta-problem-detail.json").read_text(encoding="utf-8"))
_REGISTRY: Registry[Any] = Registry().with_resource(
    _PUBLISHED["$id"], Resource.from_contents(_PUBLISHED)
)

# (method, path template relative to the base) → operation name, as the sandbox names them.
OPERATIONS: Mapping[tuple[str, str], str] = {
    ("POST", "/vedlegg"): "upload",
    ("GET", "/vedlegg/{uuid}"): "attachment_status",
    ("POST", "/utleggsbegjaering/valider"): "validate",
    ("POST", "/utleggsbegjaering"): "submit",
    ("PUT", "/utleggsbegjaering/valider/{ref}"): "validate_change",
    ("PUT", "/utleggsbegjaering/{ref}"): "change",
    ("GET", "/status/{ref}"): "status",
    ("POST", "/betjeningskartet"): "betjeningskartet",
}

# The XXX-001..006 table (AD-STATUS, AD-INNSYN, AD-INNS-stub): HTTP status → codes.
PUBLISHED_CODES: Mapping[int, frozenset[str]] = {
    500: frozenset({"XXX-001", "XXX-002"}),
    404: frozenset({"XXX-003"}),
    401: frozenset({"XXX-004"}),
    403: frozenset({"XXX-005"}),
    400: frozenset({"XXX-006"}),
}
# Answers the table has no row for, in the general error body (docs/elan-contract.md
# "Contract tests"): (status → (codes, allowed in strict mode too)).
ERROR_GAPS: Mapping[int, tuple[frozenset[str], bool]] = {
    # "At most 5 concurrent calls" is documented, the answer to the sixth is not.
    429: (frozenset({"XXX-007"}), True),
    # Lenient mode keeps 503 for XXX-002 (documented as 500, strict mode answers 500).
    503: (frozenset({"XXX-002"}), False),
    # A documented path with a method it does not serve: an input error.
    405: (frozenset({"XXX-006"}), True),
}

# What lenient mode adds to the published shapes (docs/elan-contract.md "Strict mode").
LENIENT_EXTENSIONS: Mapping[str, frozenset[str]] = {
    "problem": frozenset({"kode", "melding", "korrelasjonsid"}),
    "kontrollutslag": frozenset({"lokasjon", "eksternSaksreferanse"}),
}


def _beta_422(*, strict: bool) -> dict[str, Any]:
    """The beta schema, closed: strict allows only its properties, lenient adds ours."""
    problem: dict[str, Any] = copy.deepcopy(_BETA["ProblemDetailMedKontrollutslag"])
    entry = copy.deepcopy(_BETA["KontrollutslagIfbValidering"])
    if not strict:
        problem["properties"] |= {
            "kode": {"const": "XXX-422"},
            "melding": {"type": "string"},
            "korrelasjonsid": {"type": "string"},
        }
        entry["properties"] |= {
            # A JSON pointer into the begjæring, or null when the rule has no place.
            "lokasjon": {"type": ["string", "null"]},
            "eksternSaksreferanse": {"type": "string"},
        }
    entry["additionalProperties"] = False
    entry["properties"]["kode"] = {"enum": sorted(provning.RULES)}
    problem["additionalProperties"] = False
    problem["properties"]["status"] = {"const": 422}
    problem["properties"]["kontrollutslag"] = {"type": "array", "minItems": 1, "items": entry}
    return problem


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, registry=_REGISTRY, format_checker=_FORMATS)


def _ref(name: str) -> Draft202012Validator:
    return _validator({"$ref": f"{_PUBLISHED['$id']}#/$defs/{name}"})


_FEIL = _ref("Feil")
_STATUS = _ref("StatusPaaSak")
_SUBMITTED = _ref("SendInnUtleggsbegjaeringResponse")
_422 = {True: _validator(_beta_422(strict=True)), False: _validator(_beta_422(strict=False))}


def handles(exchange: Exchange) -> bool:
    """True for the ELAN routes (the Dialogporten attachment download is not ELAN's)."""
    return exchange.path.startswith(ELAN_BASE + "/") and not exchange.path.startswith(
        ELAN_BASE + "/meldinger/"
    )


def operation_of(method: str, path: str) -> str | None:
    """The operation a request reaches, or None (an unknown URL)."""
    rest = path.removeprefix(ELAN_BASE)
    for (m, template), name in OPERATIONS.items():
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if m == method and re.fullmatch(regex, rest):
            return name
    return None


def _errors(validator: Draft202012Validator, value: Any, where: str) -> list[str]:
    found = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    return [f"{where}{e.json_path.removeprefix('$')}: {e.message}"[:400] for e in found]


def _json(exchange: Exchange, where: str) -> tuple[Any, list[str]]:
    mt = media_type(exchange.content_type)
    if mt != "application/json":
        return None, [f"{where}: content type {mt or '(none)'} is not application/json"]
    try:
        return json.loads(exchange.body), []
    except ValueError:
        return None, [f"{where}: body is not JSON"]


def _check_error(exchange: Exchange, where: str, strict: bool) -> list[str]:
    body, findings = _json(exchange, where)
    if findings:
        return findings
    findings = _errors(_FEIL, body, f"{where} body")
    if findings:
        return findings
    kode, status = body["kode"], exchange.status
    sent = exchange.request_header("korrelasjonsid")
    if sent is not None and body["korrelasjonsid"] != sent:
        findings.append(f"{where}: korrelasjonsid is not the request's ({sent})")
    if status in PUBLISHED_CODES:
        if kode not in PUBLISHED_CODES[status]:
            findings.append(f"{where}: {kode} is not a published code for HTTP {status}")
        return findings
    gap = ERROR_GAPS.get(status)
    if gap is None or (strict and not gap[1]):
        mode = "strict" if strict else "lenient"
        return [*findings, f"{where}: HTTP {status} is neither published nor a {mode} gap"]
    if kode not in gap[0]:
        findings.append(f"{where}: {kode} for HTTP {status}, expected {sorted(gap[0])}")
    if status == 429 and exchange.header("retry-after") is None:
        findings.append(f"{where}: 429 without Retry-After")
    return findings


def check(exchange: Exchange) -> list[str]:
    """Findings for one ELAN exchange, in the mode the sandbox answered it in."""
    strict = bool(exchange.context.get("strict"))
    operation = operation_of(exchange.method, exchange.path)
    where = f"ELAN {operation or exchange.path} → {exchange.status}" + (
        " (strict)" if strict else ""
    )
    status = exchange.status
    if status == 422:
        if operation not in ("validate", "submit", "validate_change", "change"):
            return [f"{where}: only the begjæring operations answer 422"]
        body, findings = _json(exchange, where)
        return findings or _errors(_422[strict], body, f"{where} body")
    if status >= 400:
        return _check_error(exchange, where, strict)
    if operation in ("validate", "validate_change"):
        if status != 204 or exchange.body:
            return [f"{where}: validation answers 204 without a body"]
        return []
    if operation == "submit":
        if status not in (200, 201):
            return [f"{where}: submit answers 200/201"]
        body, findings = _json(exchange, where)
        return findings or _errors(_SUBMITTED, body, f"{where} body")
    if operation == "change":
        if status != 200:
            return [f"{where}: change answers 200"]
        if strict:
            # endreBegjaering: "null (empty response body)" (BETA-API).
            return [f"{where}: strict change has a body"] if exchange.body else []
        body, findings = _json(exchange, where)
        return findings or _errors(_SUBMITTED, body, f"{where} body (lenient extension)")
    if operation == "status":
        body, findings = _json(exchange, where)
        return findings or _errors(_STATUS, body, f"{where} body")
    return []  # upload, attachment_status, betjeningskartet: routes.UNPUBLISHED
