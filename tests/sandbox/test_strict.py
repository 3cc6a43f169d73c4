"""`sandbox --strict`: only what Skatteetaten publishes, over real HTTP.

Sources (docs/elan-contract.md "Strict mode"): the beta spec's ProblemDetailMedKontrollutslag
and required headers, endreBegjaering's empty answer, the XXX-001..006 table (XXX-002 = 500).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._client import HTTP, headers, reference, submit, token, with_uploads
from utlegg_gateway.sandbox import SandboxOptions


@pytest.fixture
def strict(make_sandbox: Any) -> Iterator[Any]:
    with make_sandbox(
        SandboxOptions(model_version="1.1", scanning_seconds=0.0, strict=True)
    ) as running:
        yield running


@pytest.fixture
def tok(strict: Any, sandbox_credentials: Any) -> str:
    return token(strict, sandbox_credentials)


def _payload(sb: Any, access_token: str) -> dict[str, Any]:
    payload = reference()
    with_uploads(sb, access_token, payload)
    return payload


@pytest.mark.parametrize("missing", ["Klientid", "Meldingsid"])
def test_klientid_and_meldingsid_are_required(strict: Any, tok: str, missing: str) -> None:
    h = headers(tok)
    del h[missing]
    response = HTTP.post(strict.elan_base_url + "/utleggsbegjaering", headers=h, json={})
    assert response.status_code == 400
    assert response.json() == {
        "kode": "XXX-006",
        "melding": response.json()["melding"],
        "korrelasjonsid": h["Korrelasjonsid"],
    }
    assert missing in response.json()["melding"]
    assert strict.admin.cases() == []


def test_duplicate_is_a_plain_422_without_reference_or_location(strict: Any, tok: str) -> None:
    payload = _payload(strict, tok)
    assert submit(strict, tok, payload).status_code == 201
    second = submit(strict, tok, payload)
    assert second.status_code == 422
    body = second.json()
    assert set(body) == {"type", "title", "status", "detail", "instance", "kontrollutslag"}
    (entry,) = body["kontrollutslag"]
    assert set(entry) == {"kode", "melding", "beskrivelse"}
    assert entry["kode"] == "DUPLIKAT_INNSENDING"


def test_change_answers_an_empty_body(strict: Any, tok: str) -> None:
    payload = _payload(strict, tok)
    ref = submit(strict, tok, payload).json()["eksternSaksreferanse"]
    response = HTTP.put(
        strict.elan_base_url + f"/utleggsbegjaering/{ref}", headers=headers(tok), json=payload
    )
    assert response.status_code == 200, response.text
    assert response.content == b""


def test_xxx_002_is_http_500(strict: Any, tok: str) -> None:
    strict.admin.set_faults({"status": {"sequence": ["503"]}})
    h = headers(tok)
    response = HTTP.get(strict.elan_base_url + "/status/TEST_SAK_MOTTATT", headers=h)
    assert response.status_code == 500
    assert response.json()["kode"] == "XXX-002"
    assert set(response.json()) == {"kode", "melding", "korrelasjonsid"}
