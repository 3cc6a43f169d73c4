"""ELAN endpoints over real HTTP: auth, the server-only rules, attachments, statuses, changes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox._client import (
    EICAR,
    HTTP,
    PDF,
    headers,
    reference,
    rules,
    submit,
    token,
    upload,
    with_uploads,
)
from utlegg_gateway import provning
from utlegg_gateway.sandbox import SandboxOptions
from utlegg_gateway.sandbox.elan import proving_context

ORGNR = "312597772"
SAKSOEKT = "44926701751"


@pytest.fixture
def sb11(make_sandbox: Any) -> Iterator[Any]:
    """A sandbox serving model 1.1 whose uploads scan for 30 s of sandbox time."""
    with make_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=30.0)) as running:
        yield running


@pytest.fixture
def tok(sb11: Any, sandbox_credentials: Any) -> str:
    """An access token for our client on `sb11`."""
    return token(sb11, sandbox_credentials)


def _ready_payload(sb: Any, access_token: str) -> dict[str, Any]:
    payload = reference()
    with_uploads(sb, access_token, payload)
    sb.admin.advance_clock(31)
    return payload


def test_submission_without_token_is_401(sb11: Any) -> None:
    """No bearer token: 401 XXX-004 echoing the Korrelasjonsid, and nothing is stored."""
    h = headers(None)
    response = HTTP.post(sb11.elan_base_url + "/utleggsbegjaering", headers=h, json=reference())
    assert response.status_code == 401
    assert response.json() == {
        "kode": "XXX-004",
        "melding": response.json()["melding"],
        "korrelasjonsid": h["Korrelasjonsid"],
    }
    assert sb11.admin.submissions() == []


def test_garbage_token_is_401(sb11: Any) -> None:
    """A token the sandbox did not sign is not accepted."""
    response = submit(sb11, "eyJhbGciOiJub25lIn0.e30.", reference())
    assert response.status_code == 401


def test_missing_korrelasjonsid_is_400(sb11: Any, tok: str) -> None:
    """Every call needs a UUID Korrelasjonsid."""
    h = headers(tok)
    h["Korrelasjonsid"] = "not-a-uuid"
    response = HTTP.get(sb11.elan_base_url + "/status/TEST_SAK_OPPRETTET", headers=h)
    assert response.status_code == 400
    assert response.json()["kode"] == "XXX-006"


def test_reused_korrelasjonsid_is_counted(sb11: Any, tok: str) -> None:
    """A Korrelasjonsid used twice is answered but counted, so client tests can assert 0."""
    h = headers(tok)
    for _ in range(2):
        assert HTTP.get(sb11.elan_base_url + "/status/TEST_SAK_OPPRETTET", headers=h).is_success
    HTTP.get(sb11.elan_base_url + "/status/TEST_SAK_OPPRETTET", headers=headers(tok))
    assert sb11.admin.stats()["korrelasjonsid_reused"] == 1


def test_token_without_elan_scope_is_403(sb11: Any, sandbox_credentials: Any) -> None:
    """A valid token for another scope is authenticated but not authorised."""
    other = token(sb11, sandbox_credentials, scope="digdir:dialogporten")
    response = HTTP.get(sb11.elan_base_url + "/status/TEST_SAK_OPPRETTET", headers=headers(other))
    assert response.status_code == 403
    assert response.json()["kode"] == "XXX-005"


def test_reference_example_accepted_by_1_1(sb11: Any, tok: str) -> None:
    """The official 1.1 example, attachments uploaded first, is accepted and stored verbatim."""
    payload = _ready_payload(sb11, tok)
    response = submit(sb11, tok, payload)
    assert response.status_code == 201, response.text
    ref = response.json()["eksternSaksreferanse"]
    received = [s for s in sb11.admin.submissions() if s["operation"] == "submit"]
    assert len(received) == 1
    assert received[0]["json"] == payload
    assert received[0]["eksternSaksreferanse"] == ref
    uploads = sb11.admin.uploads()
    assert len(uploads) == 2
    assert all(base64.b64decode(u["content_base64"]) == PDF for u in uploads)


def test_reference_example_against_2_0_gives_exactly_the_local_findings(
    make_sandbox: Any, sandbox_credentials: Any
) -> None:
    """A 2.0 sandbox answers the 1.1 example with exactly what provning.validate finds for 2.0."""
    with make_sandbox(SandboxOptions(model_version="2.0", scanning_seconds=0.0)) as sb:
        access = token(sb, sandbox_credentials)
        payload = reference()
        with_uploads(sb, access, payload)
        expected = provning.validate(payload, proving_context(sb.sandbox, ORGNR))
        response = submit(sb, access, payload)
    if not expected:  # provning knows no 2.0 difference (yet): then it must be accepted
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    got = [(e["kode"], e["lokasjon"], e["melding"]) for e in response.json()["kontrollutslag"]]
    # The sandbox answers as the server does: the server's Norwegian text where the rule
    # is the server's (a finding's serverMessage), our own text for our own codes.
    assert got == [(f.rule, f.location, f.serverMessage or f.message) for f in expected]


def test_validate_accepts_without_storing(sb11: Any, tok: str) -> None:
    """POST …/valider answers 204 and creates no case."""
    payload = _ready_payload(sb11, tok)
    response = HTTP.post(
        sb11.elan_base_url + "/utleggsbegjaering/valider", headers=headers(tok), json=payload
    )
    assert response.status_code == 204
    assert sb11.admin.cases() == []
    assert [s["operation"] for s in sb11.admin.submissions()] == ["validate"]


def test_same_case_twice_is_duplikat_innsending(sb11: Any, tok: str) -> None:
    """The same innsenderReferanse + begjaeringsdato again: 422 naming the existing case."""
    payload = _ready_payload(sb11, tok)
    first = submit(sb11, tok, payload)
    assert first.status_code == 201
    second = submit(sb11, tok, payload)
    assert rules(second) == ["DUPLIKAT_INNSENDING"]
    entry = second.json()["kontrollutslag"][0]
    assert entry["eksternSaksreferanse"] == first.json()["eksternSaksreferanse"]
    assert entry["lokasjon"] == "/innsenderReferanse"
    assert "InnsenderRef129" in entry["melding"]
    assert len(sb11.admin.cases()) == 1


def test_attachment_scanning_then_ready(sb11: Any, tok: str) -> None:
    """Referenced while scanning: VEDLEGG_SKAL_VAERE_VIRUSSJEKKET…; once the clock moves, ok."""
    payload = reference()
    with_uploads(sb11, tok, payload)
    uid = payload["vedlegg"][0]["uuid"]
    state = HTTP.get(f"{sb11.elan_base_url}/vedlegg/{uid}", headers=headers(tok)).json()
    assert state["status"] == "scanning"
    assert state["innsenderReferanse"] == "InnsenderRef129"
    early = submit(sb11, tok, payload)
    assert set(rules(early)) == {"VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT"}
    assert "/vedlegg/0" in [e["lokasjon"] for e in early.json()["kontrollutslag"]]
    sb11.admin.advance_clock(31)
    state = HTTP.get(f"{sb11.elan_base_url}/vedlegg/{uid}", headers=headers(tok)).json()
    assert state["status"] == "ready"
    assert submit(sb11, tok, payload).status_code == 201


@pytest.mark.parametrize(
    ("content", "final", "rule"),
    [
        (b"%PDF-1.4\n" + EICAR, "virus", "VEDLEGG_SKAL_VAERE_TILGJENGELIG"),
        (b"PK\x03\x04\x00\xff\xfe binary zip", "failed", "VEDLEGG_SKAL_IKKE_HA_FEILET"),
    ],
)
def test_bad_attachments_end_in_their_state(
    sb11: Any, tok: str, content: bytes, final: str, rule: str
) -> None:
    """EICAR ends `virus`, an unconvertible binary `failed`; each gives its VEDLEGG rule."""
    payload = reference()
    with_uploads(sb11, tok, payload, content=content)
    sb11.admin.advance_clock(31)
    uid = payload["vedlegg"][0]["uuid"]
    state = HTTP.get(f"{sb11.elan_base_url}/vedlegg/{uid}", headers=headers(tok)).json()
    assert state["status"] == final
    assert set(rules(submit(sb11, tok, payload))) == {rule}


def test_attachment_of_another_begjaering(sb11: Any, tok: str) -> None:
    """An upload made for another innsenderReferanse cannot be used."""
    payload = reference()
    with_uploads(sb11, tok, payload)
    other = upload(sb11, tok, PDF, "SOMETHING-ELSE")
    payload["vedlegg"][0]["uuid"] = other
    sb11.admin.advance_clock(31)
    response = submit(sb11, tok, payload)
    assert rules(response) == ["VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN"]
    assert response.json()["kontrollutslag"][0]["lokasjon"] == "/vedlegg/0"


def test_unknown_attachment_is_not_available(sb11: Any, tok: str) -> None:
    """A uuid the sandbox never received is VEDLEGG_SKAL_VAERE_TILGJENGELIG."""
    payload = _ready_payload(sb11, tok)
    payload["vedlegg"][0]["uuid"] = "00000000-0000-4000-8000-000000000000"
    assert rules(submit(sb11, tok, payload)) == ["VEDLEGG_SKAL_VAERE_TILGJENGELIG"]


def test_innsender_must_match_the_token(sb11: Any, sandbox_credentials: Any) -> None:
    """A system-user token for another organisation may not submit as 312597772."""
    access = token(sb11, sandbox_credentials, systemuser_org="313367002")
    payload = _ready_payload(sb11, access)
    response = submit(sb11, access, payload)
    assert "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING" in rules(response)
    entry = next(
        e
        for e in response.json()["kontrollutslag"]
        if e["kode"] == "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING"
    )
    assert "313367002" in entry["melding"]


def test_old_rules_debtor(sb11: Any, tok: str) -> None:
    """A debtor on the old rules: betjeningskartet says so and a submission is refused."""
    sb11.admin.add_old_rules_debtor(SAKSOEKT)
    lookup = HTTP.post(
        sb11.elan_base_url + "/betjeningskartet",
        headers=headers(tok),
        json={
            "skyldner": [
                {"taxIdentificationNumber": SAKSOEKT, "landkodeIdentifikator": "NO"},
                {"taxIdentificationNumber": "310288837", "landkodeIdentifikator": "NO"},
            ]
        },
    ).json()
    assert lookup["regelverk"] == "motstridendeRegelverk"
    assert [s["regelverk"] for s in lookup["skyldner"]] == ["tidligereRegelverk", "nyttRegelverk"]
    response = submit(sb11, tok, _ready_payload(sb11, tok))
    assert rules(response) == ["SAKSOEKT_GAMMELT_REGELVERK"]
    entry = response.json()["kontrollutslag"][0]
    assert entry["lokasjon"] == "/saksoekt/0/saksoekt/person/identifikator/taxIdentificationNumber"


def _status(sb: Any, tok: str, ref: str) -> httpx.Response:
    return HTTP.get(f"{sb.elan_base_url}/status/{ref}", headers=headers(tok))


def test_status_moves_when_the_clock_is_advanced(sb11: Any, tok: str) -> None:
    """sakOpprettet until time passes, then under behandling, then besluttet with decisions."""
    ref = submit(sb11, tok, _ready_payload(sb11, tok)).json()["eksternSaksreferanse"]
    body = _status(sb11, tok, ref).json()
    assert body["saksstatus"] == "sakOpprettet"
    assert body["saksnummer"].startswith("UTLBGJ/") and body["saksnummer"].endswith("/000001")
    assert body["innsenderReferanse"] == "InnsenderRef129"
    assert "beslutningsinformasjon" not in body
    sb11.admin.advance_clock(61)
    body = _status(sb11, tok, ref).json()
    assert body["saksstatus"] == "sakUnderBehandling"
    assert all("kravgrunnlagsidentifikator" in k for k in body["kravISak"])
    sb11.admin.advance_clock(3600)
    body = _status(sb11, tok, ref).json()
    assert body["saksstatus"] == "sakBesluttet"
    decision = body["beslutningsinformasjon"][0]["besluttetUtleggstrekk"]
    assert decision["kravgrunnlagsidentifikator"] == [
        k["kravgrunnlagsidentifikator"] for k in body["kravISak"]
    ]


@pytest.mark.parametrize(
    ("ref", "status"),
    [
        ("TEST_SAK_OPPRETTET", "sakOpprettet"),
        ("TEST_SAK_UNDER_BEHANDLING", "sakUnderBehandling"),
        ("TEST_SAK_NEKTET_FREMMET", "sakNektetFremmet"),
        ("TEST_SAK_FORELAGT", "sakForelagt"),
        ("TEST_SAK_BESLUTTET", "sakBesluttet"),
        ("TEST_SAK_AVSLUTTET", "sakAvsluttet"),
        ("TEST_SAK_HEVET", "sakHevet"),
    ],
)
def test_status_fixtures(sb11: Any, tok: str, ref: str, status: str) -> None:
    """The documented TEST_SAK_* references answer with their fixed status."""
    body = _status(sb11, tok, ref).json()
    assert body["saksstatus"] == status
    assert body["eksternSaksreferanse"] == ref
    assert ("beslutningsinformasjon" in body) == (status in ("sakBesluttet", "sakAvsluttet"))


def test_unknown_reference_is_404(sb11: Any, tok: str) -> None:
    """TEST_UGYLDIG (and any unknown reference) is a 404 error object."""
    h = headers(tok)
    response = HTTP.get(f"{sb11.elan_base_url}/status/TEST_UGYLDIG", headers=h)
    assert response.status_code == 404
    assert response.json()["korrelasjonsid"] == h["Korrelasjonsid"]


def _change(sb: Any, tok: str, ref: str, payload: dict[str, Any], *, dry: bool = False) -> Any:
    path = f"/utleggsbegjaering/valider/{ref}" if dry else f"/utleggsbegjaering/{ref}"
    return HTTP.put(sb.elan_base_url + path, headers=headers(tok), json=payload)


def test_change_is_accepted_and_stored(sb11: Any, tok: str) -> None:
    """A valid endring answers 200 with the same reference and becomes the case's payload."""
    payload = _ready_payload(sb11, tok)
    ref = submit(sb11, tok, payload).json()["eksternSaksreferanse"]
    payload["kravTilInnkreving"][0]["gjenstaaendeBeloep"]["beloep"] = 11000.14
    assert _change(sb11, tok, ref, payload, dry=True).status_code == 204
    response = _change(sb11, tok, ref, payload)
    assert response.status_code == 200
    assert response.json() == {"eksternSaksreferanse": ref}
    case = sb11.admin.cases()[0]
    assert case["versions"] == 2
    assert case["payload"]["kravTilInnkreving"][0]["gjenstaaendeBeloep"]["beloep"] == 11000.14


def test_change_may_not_alter_begjaeringsdato(sb11: Any, tok: str) -> None:
    """ULOVLIG_ENDRING_BEGJAERINGSDATO on a change that moves the date."""
    payload = _ready_payload(sb11, tok)
    ref = submit(sb11, tok, payload).json()["eksternSaksreferanse"]
    payload["begjaeringsdato"] = "2025-09-05"
    assert "ULOVLIG_ENDRING_BEGJAERINGSDATO" in rules(_change(sb11, tok, ref, payload))


def test_change_after_decision_is_ugyldig_status(sb11: Any, tok: str) -> None:
    """Once besluttet, a case can no longer be changed."""
    payload = _ready_payload(sb11, tok)
    ref = submit(sb11, tok, payload).json()["eksternSaksreferanse"]
    sb11.admin.advance_clock(3601)
    response = _change(sb11, tok, ref, payload)
    assert rules(response) == ["UGYLDIG_STATUS"]
    assert "sakBesluttet" in response.json()["kontrollutslag"][0]["melding"]


def test_change_too_soon_is_uavklart_status(make_sandbox: Any, sandbox_credentials: Any) -> None:
    """With unsettled_seconds set, a change right after the submission is UAVKLART_STATUS."""
    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0, unsettled_seconds=600)
    with make_sandbox(options) as sb:
        access = token(sb, sandbox_credentials)
        payload = reference()
        with_uploads(sb, access, payload)
        ref = submit(sb, access, payload).json()["eksternSaksreferanse"]
        assert rules(_change(sb, access, ref, payload)) == ["UAVKLART_STATUS"]
        sb.admin.advance_clock(601)
        assert _change(sb, access, ref, payload).status_code == 200


def test_change_of_unknown_case_is_404(sb11: Any, tok: str) -> None:
    """An endring for a reference the sandbox never issued is a 404."""
    response = _change(sb11, tok, "nope", reference())
    assert response.status_code == 404


def test_malformed_upload_is_400(sb11: Any, tok: str) -> None:
    """A multipart body without the `fil` part, or a broken one, is a 400 XXX-006."""
    h = headers(tok)
    missing = HTTP.post(
        sb11.elan_base_url + "/vedlegg", headers=h, data={"innsenderReferanse": "R"}
    )
    assert missing.status_code == 400
    assert missing.json()["kode"] == "XXX-006"
    h["Content-Type"] = "multipart/form-data; boundary=xyz"
    broken = HTTP.post(sb11.elan_base_url + "/vedlegg", headers=h, content=b"--xyz\r\nnonsense")
    assert broken.status_code == 400
    assert broken.json()["kode"] == "XXX-006"
    assert sb11.admin.uploads() == []


def test_unknown_path_is_404_error_object(sb11: Any, tok: str) -> None:
    """A URL that is no endpoint answers the general error body with XXX-003."""
    h = headers(tok)
    response = HTTP.get(sb11.elan_base_url + "/nowhere", headers=h)
    assert response.status_code == 404
    assert response.json() == {
        "kode": "XXX-003",
        "melding": "Ukjent URL",
        "korrelasjonsid": h["Korrelasjonsid"],
    }


def test_outcome_suffix_ends_refused(sb11: Any, tok: str) -> None:
    """A case whose reference ends in -NEKTES is refused (sakNektetFremmet) as time passes."""
    payload = reference()
    payload["innsenderReferanse"] = "IB-1-NEKTES"
    with_uploads(sb11, tok, payload)
    sb11.admin.advance_clock(31)
    ref = submit(sb11, tok, payload).json()["eksternSaksreferanse"]
    sb11.admin.advance_clock(600)
    assert _status(sb11, tok, ref).json()["saksstatus"] == "sakNektetFremmet"
