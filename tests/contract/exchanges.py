"""Every exchange the sandbox serves, held against the contract its counterpart publishes.

`check_exchange` dispatches on the path: Dialogporten (Altinn's end-user OpenAPI),
Maskinporten (`maskinporten.py`: RFC 8414 metadata, token answers, the grant's claims),
ELAN (`elan.py`: Skatteetaten's still-current published shapes). Sandbox-only routes
(`/_sandbox/…`) and the routes `routes.UNPUBLISHED` lists have no contract to check.
The autouse fixture in tests/conftest.py records each test's exchanges and asserts that
this returns no findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tests._data import TESTS
from tests.contract.openapi import OpenApi
from utlegg_gateway.sandbox.recorder import Exchange

__all__ = [
    "DIALOGPORTEN",
    "DIALOGPORTEN_GAPS",
    "DIALOGPORTEN_MOUNT",
    "check_dialogporten",
    "check_exchange",
    "check_exchanges",
]

DIALOGPORTEN = OpenApi.load(TESTS / "data" / "dialogporten" / "openapi.v1.enduser.verified.json")
# The sandbox serves Dialogporten under this prefix, as the real base URL
# (https://platform.altinn.no/dialogporten) does; the document's paths start after it.
DIALOGPORTEN_MOUNT = "/dialogporten"

_PROBLEM = {
    "description": "ProblemDetails (not in the published document: see docs/elan-contract.md)",
    "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    },
}

# Answers the published document does not declare, and what we hold them to instead
# (docs/elan-contract.md "Contract tests"): (method, template or "*", status) → response.
DIALOGPORTEN_GAPS: Mapping[tuple[str, str, int], Mapping[str, Any]] = {
    # Altinn's search guide: invalid parameters give 400 with ProblemDetails, which the
    # OpenAPI omits (research/dialogporten-notes.md §3.2, A-SEARCH).
    ("GET", "/api/v1/enduser/dialogs", 400): _PROBLEM,
    # An unhandled failure: ASP.NET's problem-details handler; no operation declares 500.
    ("GET", "*", 500): _PROBLEM,
}


def check_dialogporten(exchange: Exchange) -> list[str]:
    """Findings for one Dialogporten exchange: the request's parameters and the answer."""
    path = exchange.path.removeprefix(DIALOGPORTEN_MOUNT)
    op = DIALOGPORTEN.operation(exchange.method, path)
    if op is None:
        return [f"{exchange.method} {exchange.path}: no operation in {DIALOGPORTEN.name}"]
    findings = DIALOGPORTEN.check_request(op, path, exchange.query)
    declared = DIALOGPORTEN_GAPS.get((op.method, op.template, exchange.status))
    declared = declared or DIALOGPORTEN_GAPS.get((op.method, "*", exchange.status))
    findings += DIALOGPORTEN.check_response(
        op, exchange.status, exchange.content_type, exchange.body, declared=declared
    )
    response = op.spec.get("responses", {}).get(str(exchange.status)) or {}
    for name in response.get("headers") or {}:
        if exchange.header(name) is None:
            where = f"{op.method} {op.template} → {exchange.status}"
            findings.append(f"{where}: the declared header {name} is missing")
    return findings


def check_exchange(exchange: Exchange) -> list[str]:
    """Findings for one exchange of any counterpart (empty: it conforms or has no contract)."""
    from tests.contract import elan, maskinporten

    if exchange.path.startswith(DIALOGPORTEN_MOUNT + "/"):
        return check_dialogporten(exchange)
    if maskinporten.handles(exchange):
        return maskinporten.check(exchange)
    if elan.handles(exchange):
        return elan.check(exchange)
    return []


def check_exchanges(exchanges: Iterable[Exchange]) -> list[str]:
    """Findings for many exchanges, each prefixed by the request line."""
    out: list[str] = []
    for exchange in exchanges:
        out += [f"[{exchange.method} {exchange.path}] {f}" for f in check_exchange(exchange)]
    return out
