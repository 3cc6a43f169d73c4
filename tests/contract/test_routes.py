"""No unregistered shapes: every sandbox route has a contract or a stated reason for none."""

from __future__ import annotations

import re

from tests._data import TESTS
from tests.contract.routes import UNPUBLISHED, contract_of, sandbox_routes

DOC = TESTS.parent / "docs" / "elan-contract.md"


def test_every_route_has_a_contract_or_a_reason() -> None:
    routes = list(sandbox_routes())
    assert routes, "the router lists no routes"
    unregistered = [r for r in routes if contract_of(*r) is None and r not in UNPUBLISHED]
    assert not unregistered, (
        f"routes with neither a schema nor an UNPUBLISHED entry: {unregistered}"
    )
    both = [r for r in routes if contract_of(*r) is not None and r in UNPUBLISHED]
    assert not both, f"listed as unpublished but checked against a contract: {both}"
    stale = sorted(set(UNPUBLISHED) - set(routes))
    assert not stale, f"UNPUBLISHED entries for routes the sandbox no longer serves: {stale}"


def test_the_published_routes_are_the_expected_ones() -> None:
    """The registry test can fail: these routes are checked, nothing else slips in."""
    checked = sorted(r for r in sandbox_routes() if contract_of(*r) is not None)
    assert len(checked) == 12
    assert ("GET", "/dialogporten/api/v1/enduser/dialogs/{dialog_id}/transmissions") in checked
    assert contract_of("GET", "/dialogporten/api/v1/enduser/nope") is None
    assert contract_of("POST", "/api/utleggsbegjaering/v2/vedlegg") is None


def test_the_doc_lists_every_unpublished_route() -> None:
    section = DOC.read_text(encoding="utf-8").split("### Unpublished routes", 1)[1]
    listed = set(re.findall(r"`(GET|POST|PUT|DELETE) ([^`]+)`", section))
    assert listed == set(UNPUBLISHED)
