"""The sandbox's Maskinporten and our token client, against what Digdir and the RFCs document."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.conftest import SANDBOX_SYSTEMUSER_ORG
from tests.contract import maskinporten
from tests.elan.conftest import settings_for
from tests.sandbox._client import post_grant
from utlegg_gateway.elan import TokenProvider
from utlegg_gateway.sandbox import build_grant
from utlegg_gateway.sandbox.recorder import Exchange, recording


def _recorded(action: Any) -> list[Exchange]:
    seen: list[Exchange] = []
    with recording(seen.append):
        action()
    return seen


def _one(seen: list[Exchange], path: str) -> Exchange:
    (exchange,) = [x for x in seen if x.path == path]
    return exchange


def test_metadata_has_the_rfc_8414_members(sandbox: Any) -> None:
    seen = _recorded(lambda: httpx.get(sandbox.url + maskinporten.WELL_KNOWN))
    exchange = _one(seen, maskinporten.WELL_KNOWN)
    assert maskinporten.check_metadata(exchange) == []
    meta = json.loads(exchange.body)
    assert meta["issuer"] == sandbox.issuer and meta["response_types_supported"] == []
    jwks = _one(_recorded(lambda: httpx.get(meta["jwks_uri"])), "/jwks")
    assert maskinporten.check_jwks(jwks) == []


@pytest.mark.parametrize("systembruker", [False, True])
def test_our_clients_grant_is_digdirs_claim_set(
    sandbox: Any, sandbox_credentials: Any, tmp_path: Path, systembruker: bool
) -> None:
    """The grant TokenProvider sends: Digdir's claims only (no sub), form-encoded, RS256,
    x5c as an array; and the answer it gets conforms too."""
    extra: dict[str, Any] = {"maskinporten": {"systembruker": {"org": SANDBOX_SYSTEMUSER_ORG}}}
    settings = settings_for(
        sandbox, tmp_path, sandbox_credentials, **(extra if systembruker else {})
    )

    async def fetch() -> None:
        async with httpx.AsyncClient() as http:
            await TokenProvider.from_settings(settings, http=http).get()

    exchange = _one(_recorded(lambda: asyncio.run(fetch())), "/token")
    assert exchange.status == 200
    form = dict(parse_qsl(exchange.request_body.decode()))
    content_type = exchange.request_header("content-type")
    assert maskinporten.check_grant(form, content_type=content_type, allow_sub=False) == []
    assert maskinporten.check_token_answer(exchange) == []


def test_refused_grants_name_a_documented_code(sandbox: Any, sandbox_credentials: Any) -> None:
    grants = [
        build_grant(sandbox_credentials, sandbox.issuer, aud="https://elsewhere/"),  # MP-110
        build_grant(sandbox_credentials, sandbox.issuer, systemuser_org="999999999"),  # MP-303
        build_grant(sandbox_credentials, sandbox.issuer, scope="nope:nope"),  # MP-200
        build_grant(sandbox_credentials, sandbox.issuer, extra_claims={"x": 1}),  # MP-011
    ]
    seen = _recorded(lambda: [post_grant(sandbox, g) for g in grants])
    answers = [x for x in seen if x.path == "/token"]
    assert [x.status for x in answers] == [400, 400, 400, 400]
    for exchange in answers:
        assert maskinporten.check_token_answer(exchange) == []


@pytest.mark.parametrize("fault", ["500", "503", "429"])
def test_fault_answers_are_oauth_error_objects(
    sandbox: Any, sandbox_credentials: Any, fault: str
) -> None:
    sandbox.admin.set_faults({"token": {"sequence": [fault]}})
    grant = build_grant(sandbox_credentials, sandbox.issuer)
    exchange = _one(_recorded(lambda: post_grant(sandbox, grant)), "/token")
    assert exchange.status == int(fault)
    assert maskinporten.check_token_answer(exchange) == []


def test_a_broken_copy_of_a_token_answer_is_caught(sandbox: Any, sandbox_credentials: Any) -> None:
    """Must-show: an extra field, a changed content type, an undocumented grant claim."""
    grant = build_grant(sandbox_credentials, sandbox.issuer)
    exchange = _one(_recorded(lambda: post_grant(sandbox, grant)), "/token")
    assert maskinporten.check(exchange) == []
    body = json.loads(exchange.body)
    extra = replace(exchange, body=json.dumps(body | {"refresh_token": "x"}).encode())
    assert maskinporten.check(extra) == ["POST /token → 200: undocumented fields ['refresh_token']"]
    headers = tuple((k, "text/plain" if k == "content-type" else v) for k, v in exchange.headers)
    assert maskinporten.check(replace(exchange, headers=headers)) == [
        "POST /token → 200: content type text/plain is not application/json"
    ]
    with_sub = build_grant(
        sandbox_credentials, sandbox.issuer, extra_claims={"sub": sandbox_credentials.client_id}
    )
    form = {"grant_type": maskinporten.GRANT_TYPE, "assertion": with_sub}
    ct = "application/x-www-form-urlencoded"
    assert maskinporten.check_grant(form, content_type=ct, allow_sub=True) == []
    assert maskinporten.check_grant(form, content_type=ct) == [
        "POST /token request: claims outside Digdir's table ['sub']"
    ]
