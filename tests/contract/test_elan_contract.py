"""The sandbox's ELAN answers against the still-current published shapes, in both modes.

Every answer the sandbox can give for a begjæring's life (validate, submit, change, status
of a real case through to sakBesluttet, the TEST_SAK_* fixtures) and every error it gives
(401, 403, 400, 404, 405, 422, the fault plan's 500/503/429) goes through the real sandbox
and is checked by `tests/contract/elan.py`; the autouse fixture checks them again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.contract import elan
from tests.sandbox._client import HTTP, headers, reference, token, with_uploads
from utlegg_gateway.sandbox import SandboxOptions
from utlegg_gateway.sandbox.recorder import Exchange, recording
from utlegg_gateway.sandbox.status import FIXTURES


@pytest.fixture(params=["lenient", "strict"])
def sb(
    make_sandbox: Callable[..., AbstractContextManager[Any]], request: pytest.FixtureRequest
) -> Iterator[Any]:
    options = SandboxOptions(
        model_version="1.1", scanning_seconds=0.0, strict=request.param == "strict"
    )
    with make_sandbox(options) as running:
        yield running


@pytest.fixture
def tok(sb: Any, sandbox_credentials: Any) -> str:
    return token(sb, sandbox_credentials)


def _exchange(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, Exchange]:
    seen: list[Exchange] = []
    with recording(seen.append):
        response = call()
    (exchange,) = [x for x in seen if elan.handles(x)]
    return response, exchange


def _conforms(call: Callable[[], httpx.Response], status: int) -> Exchange:
    response, exchange = _exchange(call)
    assert response.status_code == status, response.text
    assert elan.check(exchange) == []
    return exchange


def test_a_begjaerings_life_conforms(sb: Any, tok: str) -> None:
    base = sb.elan_base_url
    payload = reference()
    payload["innsenderReferanse"] = "IB-CONTRACT-1"
    with_uploads(sb, tok, payload)
    _conforms(
        lambda: HTTP.post(base + "/utleggsbegjaering/valider", headers=headers(tok), json=payload),
        204,
    )
    submitted = _conforms(
        lambda: HTTP.post(base + "/utleggsbegjaering", headers=headers(tok), json=payload), 201
    )
    ref = json.loads(submitted.body)["eksternSaksreferanse"]
    _conforms(lambda: HTTP.get(base + f"/status/{ref}", headers=headers(tok)), 200)
    _conforms(
        lambda: HTTP.put(
            base + f"/utleggsbegjaering/valider/{ref}", headers=headers(tok), json=payload
        ),
        204,
    )
    _conforms(
        lambda: HTTP.put(base + f"/utleggsbegjaering/{ref}", headers=headers(tok), json=payload),
        200,
    )
    sb.admin.advance_clock(3601)  # sakBesluttet: kravgrunnlag and beslutningsinformasjon
    decided = _conforms(lambda: HTTP.get(base + f"/status/{ref}", headers=headers(tok)), 200)
    assert json.loads(decided.body)["saksstatus"] == "sakBesluttet"
    # The same begjæring again: 422 DUPLIKAT_INNSENDING in the mode's 422 shape.
    _conforms(
        lambda: HTTP.post(base + "/utleggsbegjaering", headers=headers(tok), json=payload), 422
    )


@pytest.mark.parametrize("ref", [*FIXTURES, "TEST_UGYLDIG"])
def test_status_fixtures_conform(sb: Any, tok: str, ref: str) -> None:
    status = 404 if ref == "TEST_UGYLDIG" else 200
    _conforms(lambda: HTTP.get(sb.elan_base_url + f"/status/{ref}", headers=headers(tok)), status)


def test_error_answers_are_the_general_error_body(
    sb: Any, tok: str, sandbox_credentials: Any
) -> None:
    base = sb.elan_base_url
    status = base + "/status/TEST_SAK_OPPRETTET"
    _conforms(lambda: HTTP.get(status, headers=headers(None)), 401)
    other_scope = token(sb, sandbox_credentials, scope="digdir:dialogporten")
    _conforms(lambda: HTTP.get(status, headers=headers(other_scope)), 403)
    # No Korrelasjonsid at all: the error still carries one (the sandbox's own).
    bare = {"Authorization": f"Bearer {tok}"}
    exchange = _conforms(lambda: HTTP.get(status, headers=bare), 400)
    assert uuid.UUID(json.loads(exchange.body)["korrelasjonsid"])
    _conforms(lambda: HTTP.get(base + "/finnes-ikke", headers=headers(tok)), 404)
    _conforms(lambda: HTTP.delete(status, headers=headers(tok)), 405)
    _conforms(
        lambda: HTTP.post(base + "/utleggsbegjaering", headers=headers(tok), content=b"{"), 400
    )


def test_fault_plan_answers_conform(sb: Any, tok: str) -> None:
    sb.admin.set_faults({"status": {"sequence": ["500", "503", "429"]}})
    url = sb.elan_base_url + "/status/TEST_SAK_OPPRETTET"
    strict = sb.sandbox.options.strict
    for expected in (500, 500 if strict else 503, 429):
        _conforms(lambda: HTTP.get(url, headers=headers(tok)), expected)


def test_a_broken_copy_of_an_elan_answer_is_caught(sb: Any, tok: str) -> None:
    """Must-show: an extra field, a changed content type, a mode's extension in strict."""
    base = sb.elan_base_url
    strict = sb.sandbox.options.strict
    status = _conforms(
        lambda: HTTP.get(base + "/status/TEST_SAK_BESLUTTET", headers=headers(tok)), 200
    )
    body = json.loads(status.body)
    extra = replace(status, body=json.dumps(body | {"ekstra": 1}).encode())
    (finding,) = elan.check(extra)
    assert "'ekstra' was unexpected" in finding
    as_text = tuple((k, "text/plain" if k == "content-type" else v) for k, v in status.headers)
    assert elan.check(replace(status, headers=as_text)) == [
        "ELAN status → 200"
        + (" (strict)" if strict else "")
        + ": content type text/plain is not application/json"
    ]
    rejected = _conforms(
        lambda: HTTP.post(base + "/utleggsbegjaering/valider", headers=headers(tok), json={}), 422
    )
    problem = json.loads(rejected.body)
    problem["kontrollutslag"][0]["lokasjon"] = "/x"
    findings = elan.check(replace(rejected, body=json.dumps(problem).encode()))
    # lokasjon is lenient mode's documented extension, and nothing in strict mode.
    assert bool(findings) is strict
    problem["kontrollutslag"][0]["kode"] = "IKKE_EN_REGEL"
    assert elan.check(replace(rejected, body=json.dumps(problem).encode()))
