"""Every sandbox route either has a contract the exchanges are checked against, or an entry
here saying why none is published (docs/elan-contract.md "Unpublished routes")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from starlette.routing import Route

from tests.contract import elan, maskinporten
from tests.contract.exchanges import DIALOGPORTEN, DIALOGPORTEN_MOUNT
from utlegg_gateway.sandbox.app import create_app
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.options import SandboxOptions
from utlegg_gateway.sandbox.recorder import Exchange

__all__ = ["ADMIN", "UNPUBLISHED", "contract_of", "sandbox_routes"]

ADMIN = "sandbox admin API: never on the real service (docs/elan-contract.md 'Sandbox admin API')"
_ELAN = "/api/utleggsbegjaering/v2"

# (method, path as the router spells it) → why no published contract holds it. Errors of
# the ELAN routes here are still checked against the general error body.
UNPUBLISHED: Mapping[tuple[str, str], str] = {
    ("POST", f"{_ELAN}/vedlegg"): (
        "ELAN attachment upload: the operation exists (AD-2.0 API table) but its path, "
        "request and answer are not published; ours are guesses"
    ),
    ("GET", f"{_ELAN}/vedlegg/{{uuid}}"): (
        "ELAN attachment state: no such endpoint is published at all (api-2026-update "
        "§3 #21); readiness may only show as 422 VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_…"
    ),
    ("POST", f"{_ELAN}/betjeningskartet"): (
        "ELAN betjeningskartet: the external API is unpublished; only the internal 1.3.1 "
        "spec is known and its shapes differ (api-2026-update §3 #16)"
    ),
    ("GET", "/api/utleggsbegjaering-status/v1/status/{ref}"): (
        "Status på sak under a base of the sandbox's own invention (the real base is "
        "unpublished), to exercise elan.apis.status.base_url; the handler is …/v2/status's"
    ),
    ("POST", "/api/utleggsbegjaering-betjeningskartet/v1/betjeningskartet"): (
        "Betjeningskartet under a base of the sandbox's own invention, to exercise "
        "elan.apis.betjeningskartet.base_url; unpublished like …/v2/betjeningskartet"
    ),
    ("GET", f"{_ELAN}/meldinger/{{url_id}}"): (
        "the service owner's attachment download behind a Dialogporten URL: Skatteetaten "
        "publishes neither the path nor the scope (api-2026-update §5); answers a PDF"
    ),
    **dict.fromkeys(
        (
            ("GET", "/_sandbox/submissions"),
            ("GET", "/_sandbox/uploads"),
            ("GET", "/_sandbox/cases"),
            ("POST", "/_sandbox/cases/{ref}/status"),
            ("POST", "/_sandbox/reset"),
            ("GET", "/_sandbox/clock"),
            ("POST", "/_sandbox/clock/advance"),
            ("GET", "/_sandbox/faults"),
            ("PUT", "/_sandbox/faults"),
            ("DELETE", "/_sandbox/faults"),
            ("POST", "/_sandbox/faults/release"),
            ("GET", "/_sandbox/clients"),
            ("POST", "/_sandbox/clients"),
            ("POST", "/_sandbox/systemusers"),
            ("GET", "/_sandbox/old-rules-debtors"),
            ("POST", "/_sandbox/old-rules-debtors"),
            ("GET", "/_sandbox/register"),
            ("POST", "/_sandbox/register"),
            ("GET", "/_sandbox/rule-triggers"),
            ("POST", "/_sandbox/rule-triggers"),
            ("GET", "/_sandbox/stats"),
            ("GET", "/_sandbox/info"),
            ("GET", "/_sandbox/dialogporten/letters"),
            ("POST", "/_sandbox/dialogporten/letters"),
            ("GET", "/_sandbox/dialogporten/seenlog"),
            ("PUT", "/_sandbox/dialogporten/faults"),
            ("PUT", "/_sandbox/dialogporten/options"),
        ),
        ADMIN,
    ),
}

_ELAN_PUBLISHED = frozenset({"validate", "submit", "validate_change", "change", "status"})


def sandbox_routes() -> Iterator[tuple[str, str]]:
    """(method, path) of every route the sandbox app serves (HEAD, Starlette's own, left out)."""
    sb = Sandbox(SandboxOptions())
    try:
        for route in create_app(sb).routes:
            assert isinstance(route, Route), f"not a plain route: {route!r}"
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, route.path
    finally:
        sb.state.close()


def contract_of(method: str, path: str) -> str | None:
    """The published contract the route's answers are checked against, or None."""
    if path.startswith(DIALOGPORTEN_MOUNT + "/"):
        op = DIALOGPORTEN.operation(method, path.removeprefix(DIALOGPORTEN_MOUNT))
        return f"Dialogporten OpenAPI {op.method} {op.template}" if op else None
    probe = Exchange(method, path, (), (), b"", 200, (), b"")
    if maskinporten.handles(probe):
        return "Maskinporten (tests/data/maskinporten/SOURCE.md)"
    if elan.handles(probe) and elan.operation_of(method, path) in _ELAN_PUBLISHED:
        return f"ELAN published shapes ({elan.operation_of(method, path)})"
    return None
