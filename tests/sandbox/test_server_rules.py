"""Every rule only the server can decide, made to fire in the sandbox under its exact name.

Together with `tests/provning/test_rules.py` (one mutation per local rule) this covers all
72 documented rules: `test_every_server_rule_has_a_scenario` fails when a rule is added to
the catalogue without a scenario here or a case there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.sandbox._client import (
    EICAR,
    HTTP,
    PDF,
    headers,
    reference,
    submit,
    token,
    upload,
    with_uploads,
)
from tests.sandbox.test_published_test_parties import _PERSON
from utlegg_gateway.provning import NOT_DECIDABLE_RULES, SERVER_ONLY_RULES
from utlegg_gateway.sandbox import SandboxOptions
from utlegg_gateway.sandbox.register import SEEDED

Scenario = Callable[[Any, str], httpx.Response]
_BY_TYPE = {(e.enhetstype, e.hovedenhet is not None, e.slettet): e.identifikator for e in SEEDED}
UNDERENHET = _BY_TYPE[("BEDR", True, False)]
ENK = _BY_TYPE[("ENK", False, False)]
SLETTET = _BY_TYPE[("AS", False, True)]


def _ready(sb: Any, tok: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = payload if payload is not None else reference()
    with_uploads(sb, tok, payload)
    sb.admin.advance_clock(31)  # past the scan
    return payload


def _change(sb: Any, tok: str, ref: str, payload: dict[str, Any]) -> httpx.Response:
    return HTTP.put(
        f"{sb.elan_base_url}/utleggsbegjaering/{ref}", headers=headers(tok), json=payload
    )


def _virksomhet(role: str, orgnr: str) -> Callable[[dict[str, Any]], None]:
    """Make the first saksøker/saksøkt the organisation `orgnr`."""

    def put(payload: dict[str, Any]) -> None:
        party = payload[role][0][role]
        party.pop("person", None)
        party["virksomhet"] = {
            "navn": "REGISTERTEST AS",
            "identifikator": {"taxIdentificationNumber": orgnr, "landkodeIdentifikator": "NO"},
            "virksomhetstype": "annet",
        }

    return put


def _register_case(role: str, orgnr: str) -> Scenario:
    def run(sb: Any, tok: str) -> httpx.Response:
        payload = reference()
        _virksomhet(role, orgnr)(payload)
        return submit(sb, tok, _ready(sb, tok, payload))

    return run


def _duplicate(sb: Any, tok: str) -> httpx.Response:
    payload = _ready(sb, tok)
    assert submit(sb, tok, payload).status_code == 201
    return submit(sb, tok, payload)


def _old_rules(sb: Any, tok: str) -> httpx.Response:
    payload = reference()
    payload["saksoekt"][0]["saksoekt"]["person"]["identifikator"]["taxIdentificationNumber"] = (
        _PERSON
    )
    return submit(sb, tok, _ready(sb, tok, payload))


def _unsettled(sb: Any, tok: str) -> httpx.Response:
    payload = _ready(sb, tok)
    ref = submit(sb, tok, payload).json()["eksternSaksreferanse"]
    return _change(sb, tok, ref, payload)


def _decided(sb: Any, tok: str) -> httpx.Response:
    payload = _ready(sb, tok)
    ref = submit(sb, tok, payload).json()["eksternSaksreferanse"]
    sb.admin.set_case_status(ref, "sakBesluttet")
    return _change(sb, tok, ref, payload)


def _other_reference(sb: Any, tok: str) -> httpx.Response:
    payload = _ready(sb, tok)
    payload["vedlegg"][0]["uuid"] = upload(sb, tok, PDF, "SOMETHING-ELSE")
    sb.admin.advance_clock(31)
    return submit(sb, tok, payload)


def _with_content(content: bytes) -> Scenario:
    def run(sb: Any, tok: str) -> httpx.Response:
        payload = reference()
        with_uploads(sb, tok, payload, content=content)
        sb.admin.advance_clock(31)
        return submit(sb, tok, payload)

    return run


def _scanning(sb: Any, tok: str) -> httpx.Response:
    payload = reference()
    with_uploads(sb, tok, payload)  # no clock advance: still being checked
    return submit(sb, tok, payload)


def _triggered(sb: Any, tok: str) -> httpx.Response:
    payload = _ready(sb, tok)
    sb.admin.trigger_rules(payload["innsenderReferanse"], "PARAGRAF_4_19_VARSEL_PAAKREVET")
    return HTTP.post(
        sb.elan_base_url + "/utleggsbegjaering/valider", headers=headers(tok), json=payload
    )


def _opts(version: str, **extra: Any) -> SandboxOptions:
    return SandboxOptions(model_version=version, scanning_seconds=30.0, **extra)


# The reference begjæring is a 1.1 example; the register rules exist from 2.0 on, where the
# sandbox also reports MODELL_* findings beside them (not what is tested here).
SCENARIOS: dict[str, tuple[SandboxOptions, Scenario]] = {
    "DUPLIKAT_INNSENDING": (_opts("1.1"), _duplicate),
    "ER_IKKE_HOVEDENHET": (_opts("2.0"), _register_case("saksoeker", UNDERENHET)),
    "SAKSOKER_ER_ENK": (_opts("2.0"), _register_case("saksoeker", ENK)),
    "SAKSOEKT_ER_IKKE_HOVEDENHET": (_opts("2.0"), _register_case("saksoekt", UNDERENHET)),
    "SAKSOEKT_ER_ENK": (_opts("2.0"), _register_case("saksoekt", ENK)),
    "SAKSOEKT_MANGLER_I_REGISTERET": (_opts("2.0"), _register_case("saksoekt", SLETTET)),
    "SAKSOEKT_GAMMELT_REGELVERK": (_opts("1.1"), _old_rules),
    "UAVKLART_STATUS": (_opts("1.1", unsettled_seconds=600.0), _unsettled),
    "UGYLDIG_STATUS": (_opts("1.1"), _decided),
    "VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN": (_opts("1.1"), _other_reference),
    "VEDLEGG_SKAL_IKKE_HA_FEILET": (_opts("1.1"), _with_content(b"PK\x03\x04\x00\xff\xfe zip")),
    "VEDLEGG_SKAL_VAERE_TILGJENGELIG": (_opts("1.1"), _with_content(b"%PDF-1.4\n" + EICAR)),
    "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT": (_opts("1.1"), _scanning),
    "PARAGRAF_4_19_VARSEL_PAAKREVET": (_opts("1.1"), _triggered),
}


def test_every_server_rule_has_a_scenario() -> None:
    """The server-only and not-decidable rules are exactly the scenarios below."""
    assert set(SCENARIOS) == SERVER_ONLY_RULES | NOT_DECIDABLE_RULES


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_the_sandbox_emits_the_rule(make_sandbox: Any, sandbox_credentials: Any, rule: str) -> None:
    """The scenario's answer is a 422 naming the rule, with the server's message."""
    options, scenario = SCENARIOS[rule]
    with make_sandbox(options) as sb:
        tok = token(sb, sandbox_credentials)
        answer = scenario(sb, tok)
    assert answer.status_code == 422, answer.text
    found = {e["kode"]: e for e in answer.json()["kontrollutslag"]}
    assert rule in found, json.dumps(sorted(found))
    assert found[rule]["melding"]


def test_register_rules_do_not_fire_before_2_0(make_sandbox: Any, sandbox_credentials: Any) -> None:
    """Under 1.1 an underenhet as saksøker is not checked (the rule exists from 2.0)."""
    with make_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=30.0)) as sb:
        answer = _register_case("saksoeker", UNDERENHET)(sb, token(sb, sandbox_credentials))
    assert answer.status_code == 201, answer.text


def test_register_entries_are_added_through_the_admin_api(
    make_sandbox: Any, sandbox_credentials: Any
) -> None:
    """A test may put its own organisation into the register: then the rule fires for it."""
    with make_sandbox(SandboxOptions(model_version="2.0", scanning_seconds=30.0)) as sb:
        tok = token(sb, sandbox_credentials)
        saksoeker = reference()["saksoeker"][0]["saksoeker"]["virksomhet"]
        orgnr = saksoeker["identifikator"]["taxIdentificationNumber"]
        before = _register_case("saksoeker", orgnr)(sb, tok)
        sb.admin.add_register_entry(orgnr, enhetstype="ENK")
        after = _register_case("saksoeker", orgnr)(sb, tok)
    assert "SAKSOKER_ER_ENK" not in {e["kode"] for e in before.json().get("kontrollutslag", [])}
    assert "SAKSOKER_ER_ENK" in {e["kode"] for e in after.json()["kontrollutslag"]}
