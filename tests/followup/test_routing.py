"""Betjeningskartet routing: old-rule debtors go to outbox/elsa/, never to ELAN."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
from datetime import date
from typing import Any

from tests.followup.conftest import PDF, Env, _attachment_refs, begjaering, elan_client
from utlegg_gateway.config import RoutingSettings
from utlegg_gateway.elan import Rejected
from utlegg_gateway.gateway.submission.routing import (
    decide,
    decision_from_rules,
    route_case,
    write_elsa,
)

OLD_DEBTOR = "44926701751"  # the saksøkt of the reference begjæring
TODAY = date(2026, 11, 27)


def test_old_rules_debtor_ends_in_elsa_and_never_at_elan(env: Env) -> None:
    """A debtor the sandbox holds on the old rules: routed to elsa/ with the reason; no submit."""
    env.sandbox.admin.add_old_rules_debtor(OLD_DEBTOR)
    payload = begjaering("IB-ELSA-1")

    async def route() -> Any:
        async with elan_client(env) as elan:
            return await route_case(elan, payload, env.settings, TODAY)

    decision = asyncio.run(route())
    assert (decision.route, decision.regelverk) == ("elsa", "tidligereRegelverk")
    path = write_elsa(
        env.outbox,
        env.settings,
        innsender_referanse="IB-ELSA-1",
        begjaeringsdato=str(payload["begjaeringsdato"]),
        decision=decision,
        payload=payload,
    )
    assert path == env.outbox / "elsa" / "IB-ELSA-1.json"
    doc = json.loads(path.read_bytes())
    assert doc["rute"] == "elsa" and "ELSA" in doc["grunn"]
    assert doc["skyldnere"] == [{"identifikator": "*********51", "regelverk": "tidligereRegelverk"}]
    assert doc["begjaering"] == payload
    calls = env.sandbox.admin.stats()["calls"]
    assert calls.get("betjeningskartet") == 1
    assert calls.get("submit", 0) == 0
    assert env.sandbox.admin.submissions() == []


def test_mixed_rules_in_one_case_go_on_paper(env: Env) -> None:
    """One old-rule and one new-rule debtor in one begjæring: reported for paper."""
    env.sandbox.admin.add_old_rules_debtor(OLD_DEBTOR)
    payload = begjaering("IB-PAPIR-1")
    second = copy.deepcopy(payload["saksoekt"][0])
    second["saksoekt"]["person"]["identifikator"]["taxIdentificationNumber"] = "01017012345"
    payload["saksoekt"].append(second)

    async def route() -> Any:
        async with elan_client(env) as elan:
            return await route_case(elan, payload, env.settings, TODAY)

    decision = asyncio.run(route())
    assert (decision.route, decision.regelverk) == ("paper", "motstridendeRegelverk")
    path = write_elsa(
        env.outbox,
        env.settings,
        innsender_referanse="IB-PAPIR-1",
        begjaeringsdato="2026-01-01",
        decision=decision,
        payload=payload,
    )
    assert path.name == "IB-PAPIR-1.papir.json"


def test_elan_saksoekt_gammelt_regelverk_is_routed_to_elsa(env: Env) -> None:
    """With routing off, ELAN's own SAKSOEKT_GAMMELT_REGELVERK gives the same ELSA route."""
    env.sandbox.admin.add_old_rules_debtor(OLD_DEBTOR)
    payload = begjaering("IB-ELSA-2")

    async def submit() -> Any:
        async with elan_client(env) as elan:
            for ref in _attachment_refs(payload):
                ref["uuid"] = (await elan.upload_attachment(PDF, "v.pdf", "IB-ELSA-2")).uuid
            return await elan.submit(payload)

    result = asyncio.run(submit())
    assert isinstance(result, Rejected)
    decision = decision_from_rules(result.rules)
    assert decision is not None and decision.route == "elsa"
    assert decision_from_rules([]) is None


def test_routing_is_on_in_2026_and_off_from_2027_unless_configured() -> None:
    """The default follows the transition year; an explicit setting wins."""
    default = RoutingSettings()
    assert default.betjeningskartet_on(date(2026, 12, 31))
    assert not default.betjeningskartet_on(date(2027, 1, 1))
    assert RoutingSettings(betjeningskartet=True).betjeningskartet_on(date(2027, 6, 1))
    assert not RoutingSettings(betjeningskartet=False).betjeningskartet_on(date(2026, 6, 1))


def test_unknown_debtor_is_left_to_elan() -> None:
    """ukjentSkyldner alone is not a reason to hold the case back: ELAN decides."""
    answer: dict[str, Any] = {
        "regelverk": "ukjentSkyldner",
        "skyldner": [{"skyldner": {"taxIdentificationNumber": "1"}, "regelverk": "ukjentSkyldner"}],
    }
    assert decide(answer).route == "elan"


def test_cases_of_one_debtor_at_once_share_one_lookup(env: Env) -> None:
    """Five cases of one debtor reaching the submit step together (the journal holds no
    answer yet): one Betjeningskartet call, every case decided from it. Without the shared
    `in_flight` each case asked itself (measured: 5 calls for a 1,000-case file)."""
    env.sandbox.admin.add_old_rules_debtor(OLD_DEBTOR)

    async def route_all() -> list[Any]:
        in_flight: dict[str, Any] = {}
        async with elan_client(env) as elan:
            decisions = await asyncio.gather(
                *(
                    route_case(
                        elan,
                        begjaering(f"IB-ONCE-{n}"),
                        env.settings,
                        TODAY,
                        env.journal,
                        in_flight=in_flight,
                    )
                    for n in range(5)
                )
            )
        assert in_flight == {}  # nothing left behind once the lookup has ended
        return decisions

    decisions = asyncio.run(route_all())
    assert {(d.route, d.regelverk) for d in decisions} == {("elsa", "tidligereRegelverk")}
    assert env.sandbox.admin.stats()["calls"].get("betjeningskartet") == 1


def test_a_debtor_is_looked_up_once_a_day(env: Env) -> None:
    """Two cases of one debtor on one day: one Betjeningskartet call, the second decided from
    the journal (old rules both times); the next day the debtor is looked up again. The
    journal keeps a hash of the identifier, never the identifier, in the cursor's name."""
    env.sandbox.admin.add_old_rules_debtor(OLD_DEBTOR)

    async def route(ref: str, day: date) -> Any:
        async with elan_client(env) as elan:
            return await route_case(elan, begjaering(ref), env.settings, day, env.journal)

    first = asyncio.run(route("IB-DAY-1", TODAY))
    second = asyncio.run(route("IB-DAY-2", TODAY))
    assert [(d.route, d.regelverk) for d in (first, second)] == [
        ("elsa", "tidligereRegelverk"),
        ("elsa", "tidligereRegelverk"),
    ]
    assert second.debtors == first.debtors  # masked identifier and rules, as looked up
    assert env.sandbox.admin.stats()["calls"].get("betjeningskartet") == 1
    next_day = asyncio.run(route("IB-DAY-3", date(2026, 11, 28)))
    assert next_day.route == "elsa"
    assert env.sandbox.admin.stats()["calls"].get("betjeningskartet") == 2
    with sqlite3.connect(env.settings.journal.path) as raw:
        names = [r[0] for r in raw.execute("SELECT name FROM cursors")]
    assert len(names) == 1 and OLD_DEBTOR not in names[0]
