"""The contract validator itself: it must reject what the published schema forbids."""

from __future__ import annotations

import json

from tests._data import TESTS
from tests.contract.openapi import OpenApi

DIALOGPORTEN = OpenApi.load(TESTS / "data" / "dialogporten" / "openapi.v1.enduser.verified.json")
SEARCH = "/api/v1/enduser/dialogs"
PAGE = {"items": [], "hasNextPage": False, "continuationToken": None, "orderBy": "updatedAt_asc"}


def _search():
    op = DIALOGPORTEN.operation("GET", SEARCH)
    assert op is not None
    return op


def test_a_conforming_search_page_passes() -> None:
    body = json.dumps(PAGE).encode()
    assert DIALOGPORTEN.check_response(_search(), 200, "application/json", body) == []


def test_an_extra_field_is_rejected() -> None:
    body = json.dumps(PAGE | {"extra": 1}).encode()
    findings = DIALOGPORTEN.check_response(_search(), 200, "application/json", body)
    assert len(findings) == 1 and "'extra' was unexpected" in findings[0]


def test_a_changed_content_type_is_rejected() -> None:
    # The published 503 is text/plain ("Service Unavailable"), not a problem document.
    findings = DIALOGPORTEN.check_response(_search(), 503, "application/problem+json", b"{}")
    assert findings == [
        f"GET {SEARCH} → 503: content type application/problem+json is not one of ['text/plain']"
    ]
    assert DIALOGPORTEN.check_response(_search(), 503, "text/plain", b"Service Unavailable") == []


def test_null_is_allowed_where_the_generator_says_nullable() -> None:
    # `content` is `nullable: true` beside a bare oneOf/$ref: OpenAPI 3.0 read literally
    # would reject the null, the generator means it is allowed.
    op = DIALOGPORTEN.operation("GET", SEARCH + "/{dialogId}")
    assert op is not None
    schema = DIALOGPORTEN.document["components"]["schemas"]["DialogListItem"]["properties"]
    assert DIALOGPORTEN.schema_errors(schema["content"], None, "content") == []


def test_undeclared_and_ill_typed_query_parameters_are_rejected() -> None:
    query = [("limit", "abc"), ("bogus", "1"), ("updatedAfter", "2026-01-01T00:00:00Z")]
    findings = DIALOGPORTEN.check_request(_search(), SEARCH, query)
    assert len(findings) == 2
    assert any("limit" in f for f in findings)
    assert any("'bogus' is not declared" in f for f in findings)
