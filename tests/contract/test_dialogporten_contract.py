"""The sandbox's Dialogporten answers, every status it gives, against Altinn's OpenAPI.

Each call goes through the real sandbox over loopback; the autouse contract fixture
(tests/conftest.py) checks every exchange at teardown, and these tests check the recorded
exchange directly too, so a failure names the answer that broke the document.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.conftest import SANDBOX_SYSTEMUSER_ORG
from tests.contract.exchanges import check_dialogporten
from tests.sandbox._client import token
from utlegg_gateway.sandbox.recorder import Exchange, recording

SEARCH = "/dialogporten/api/v1/enduser/dialogs"
RESOURCE = "urn:altinn:resource:ske-utleggsbegjaering"
PARTY = f"urn:altinn:organization:identifier-no:{SANDBOX_SYSTEMUSER_ORG}"


def _call(sb: Any, path: str, **kw: Any) -> tuple[httpx.Response, Exchange]:
    seen: list[Exchange] = []
    with recording(seen.append):
        response = httpx.get(sb.url + path, **kw)
    (exchange,) = [x for x in seen if x.path == path]
    return response, exchange


@pytest.fixture
def dp_token(sandbox: Any, sandbox_credentials: Any) -> str:
    return token(
        sandbox,
        sandbox_credentials,
        scope="digdir:dialogporten",
        systemuser_org=SANDBOX_SYSTEMUSER_ORG,
    )


def _auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_an_empty_search_page_conforms(sandbox: Any, dp_token: str) -> None:
    params = {"serviceResource": RESOURCE, "party": PARTY, "orderBy": "updatedAt_asc"}
    response, exchange = _call(sandbox, SEARCH, params=params, headers=_auth(dp_token))
    assert response.status_code == 200 and response.json()["items"] == []
    assert check_dialogporten(exchange) == []


def test_401_without_a_token_has_no_body_and_a_bearer_challenge(sandbox: Any) -> None:
    response, exchange = _call(sandbox, SEARCH, params={"party": PARTY})
    assert response.status_code == 401 and response.content == b""
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request"')
    assert check_dialogporten(exchange) == []


def test_401_for_a_token_without_the_scope(sandbox: Any, sandbox_credentials: Any) -> None:
    elan_only = token(sandbox, sandbox_credentials, systemuser_org=SANDBOX_SYSTEMUSER_ORG)
    response, exchange = _call(sandbox, SEARCH, params={"party": PARTY}, headers=_auth(elan_only))
    assert response.status_code == 401 and response.content == b""
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert check_dialogporten(exchange) == []


def test_403_for_a_token_without_a_system_user(sandbox: Any, sandbox_credentials: Any) -> None:
    plain = token(sandbox, sandbox_credentials, scope="digdir:dialogporten")
    response, exchange = _call(sandbox, SEARCH, params={"party": PARTY}, headers=_auth(plain))
    assert response.status_code == 403 and response.content == b""
    assert check_dialogporten(exchange) == []


def test_400_for_a_bad_parameter_is_problem_details(sandbox: Any, dp_token: str) -> None:
    # Not in the OpenAPI; Altinn's search guide documents it (exchanges.DIALOGPORTEN_GAPS).
    params = {"party": PARTY, "orderBy": "bogus_asc"}
    response, exchange = _call(sandbox, SEARCH, params=params, headers=_auth(dp_token))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert check_dialogporten(exchange) == []


def test_404_for_an_unknown_dialog_is_problem_details(sandbox: Any, dp_token: str) -> None:
    path = SEARCH + "/0193b1a3-8a51-7c7c-9c2e-5b1a7a0f3e11"
    response, exchange = _call(sandbox, path, headers=_auth(dp_token))
    assert response.status_code == 404
    assert check_dialogporten(exchange) == []
    response, exchange = _call(sandbox, path + "/transmissions", headers=_auth(dp_token))
    assert response.status_code == 404
    assert check_dialogporten(exchange) == []


@pytest.mark.parametrize("endpoint", ["search", "dialog", "transmissions"])
def test_a_scripted_503_is_the_published_plain_text_with_retry_after(
    sandbox: Any, dp_token: str, endpoint: str
) -> None:
    httpx.put(
        sandbox.url + "/_sandbox/dialogporten/faults", json={endpoint: ["503", "500"]}
    ).raise_for_status()
    path = {
        "search": SEARCH,
        "dialog": SEARCH + "/0193b1a3-8a51-7c7c-9c2e-5b1a7a0f3e11",
        "transmissions": SEARCH + "/0193b1a3-8a51-7c7c-9c2e-5b1a7a0f3e11/transmissions",
    }[endpoint]
    params = {"party": PARTY} if endpoint == "search" else None
    response, exchange = _call(sandbox, path, params=params, headers=_auth(dp_token))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Service Unavailable" and response.headers["Retry-After"] == "1"
    assert check_dialogporten(exchange) == []
    response, exchange = _call(sandbox, path, params=params, headers=_auth(dp_token))
    assert response.status_code == 500  # a gap of the document: held to ProblemDetails
    assert check_dialogporten(exchange) == []


def test_an_undeclared_query_parameter_of_the_client_is_a_finding(
    sandbox: Any, dp_token: str
) -> None:
    """The request side: a copy of a real request with a parameter the operation does not
    declare, or a value of the wrong type, is caught."""
    params = {"party": PARTY, "limit": "5"}
    response, exchange = _call(sandbox, SEARCH, params=params, headers=_auth(dp_token))
    assert response.status_code == 200 and check_dialogporten(exchange) == []
    broken = replace(exchange, query=(*exchange.query, ("pageSize", "10")))
    assert check_dialogporten(broken) == [
        "GET /api/v1/enduser/dialogs request: query parameter 'pageSize' is not declared"
    ]
    naive = replace(exchange, query=(("party", PARTY), ("updatedAfter", "2026-01-01T00:00:00")))
    (finding,) = check_dialogporten(naive)
    assert "request updatedAfter: '2026-01-01T00:00:00' is not valid" in finding
