"""Skatteetaten's published old-rules test parties are on the old rules in the sandbox too.

Source: the Test tab of docs/api/utleggsbegjaering-innsending.md (Skatteetaten/
api-dokumentasjon @ 0985980, 2026-05-26), copied to sandbox/data/ with its citation.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import httpx
import pytest
from stdnum.no import orgnr

from tests.sandbox._client import HTTP, headers, reference, rules, submit, token, with_uploads
from utlegg_gateway.sandbox import SandboxOptions

_DATA = json.loads(
    resources.files("utlegg_gateway.sandbox")
    .joinpath("data/old-rules-test-parties.json")
    .read_text("utf-8")
)
_PERSON = _DATA["persons"][0]  # 08907395937
_ORG = _DATA["organisations"][0]  # 313159949


def test_the_copied_lists_are_the_published_ones() -> None:
    """100 persons, 100 organisations, distinct; the source is named to the commit."""
    assert len(set(_DATA["persons"])) == len(_DATA["persons"]) == 100
    assert len(set(_DATA["organisations"])) == len(_DATA["organisations"]) == 100
    assert all(len(p) == 11 and p.isdigit() for p in _DATA["persons"])
    assert all(orgnr.is_valid(o) for o in _DATA["organisations"])
    assert _DATA["source"]["commit"] == "09859806486407b055bee4cfde452a3ac6a658b1"


def _kart(sb: Any, tok: str, *idents: str) -> httpx.Response:
    body = {"skyldner": [{"taxIdentificationNumber": i} for i in idents]}
    return HTTP.post(sb.elan_base_url + "/betjeningskartet", json=body, headers=headers(tok))


@pytest.mark.parametrize("published", [True, False])
def test_betjeningskartet_answers_the_old_rules_for_them(
    make_sandbox: Any, sandbox_credentials: Any, published: bool
) -> None:
    """On (the default): tidligereRegelverk for a published person and organisation."""
    with make_sandbox(SandboxOptions(published_old_rules_parties=published)) as sb:
        tok = token(sb, sandbox_credentials)
        answer = _kart(sb, tok, _PERSON, _ORG, "44926701751").json()
    regelverk = [s["regelverk"] for s in answer["skyldner"]]
    if published:
        assert regelverk == ["tidligereRegelverk", "tidligereRegelverk", "nyttRegelverk"]
    else:
        assert regelverk == ["nyttRegelverk"] * 3


def test_a_begjaering_against_one_gets_saksoekt_gammelt_regelverk(
    make_sandbox: Any, sandbox_credentials: Any
) -> None:
    """As in Skatteetaten's test: a published person as saksøkt is refused with the rule."""
    with make_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=0.0)) as sb:
        tok = token(sb, sandbox_credentials)
        payload = reference()
        ident = payload["saksoekt"][0]["saksoekt"]["person"]["identifikator"]
        ident["taxIdentificationNumber"] = _PERSON
        with_uploads(sb, tok, payload)
        answer = submit(sb, tok, payload)
    assert answer.status_code == 422
    assert "SAKSOEKT_GAMMELT_REGELVERK" in rules(answer)


def test_decided_fixture_shows_every_decision_type(sandbox: Any, sandbox_credentials: Any) -> None:
    """TEST_SAK_BESLUTTET carries utleggstrekk, utleggspant (a list) and intet til utlegg,
    as the Status på sak page says; the client flattens each into one decision."""
    from utlegg_gateway.followup.status import decisions

    tok = token(sandbox, sandbox_credentials)
    answer = HTTP.get(sandbox.elan_base_url + "/status/TEST_SAK_BESLUTTET", headers=headers(tok))
    body = answer.json()
    info = body["beslutningsinformasjon"]
    assert [sorted(k for k in i if k.startswith("besluttet")) for i in info] == [
        ["besluttetUtleggstrekk"],
        ["besluttetUtleggspant"],
        ["besluttetIntetTilUtlegg"],
    ]
    assert isinstance(info[1]["besluttetUtleggspant"], list)
    kinds = [d["beslutning"] for d in decisions(body)]
    assert kinds == ["utleggstrekk", "utleggspant", "utleggspant", "intetTilUtlegg"]
