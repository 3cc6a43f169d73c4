"""The pure parts of the follow-up: schedule, decisions, linking, URL choice, routing."""

from __future__ import annotations

from typing import Any

from utlegg_gateway.config import DialogportenSettings, StatusPollStep
from utlegg_gateway.folders.outbox import safe_name
from utlegg_gateway.followup.letters import case_reference, letter_kind, localized, pick_url
from utlegg_gateway.followup.status import decisions, interval_for_age
from utlegg_gateway.gateway.submission.routing import debtor_identifiers, decide

SCHEDULE = (
    StatusPollStep(until_seconds=3600, every_seconds=60),
    StatusPollStep(until_seconds=86400, every_seconds=900),
    StatusPollStep(every_seconds=3600),
)


def test_poll_interval_grows_with_case_age() -> None:
    """Every minute in the first hour, every 15 minutes in the first day, then hourly."""
    assert [interval_for_age(a, SCHEDULE) for a in (0, 3599, 3600, 86399, 86400, 10**7)] == [
        60,
        60,
        900,
        900,
        3600,
        3600,
    ]


def test_decisions_are_flattened_per_measure() -> None:
    """Utleggstrekk, several utleggspant and intet til utlegg each become one entry."""
    status: dict[str, Any] = {
        "beslutningsinformasjon": [
            {
                "beslutningstidspunkt": "2026-11-27T10:00:00+01:00",
                "besluttetUtleggstrekk": {
                    "tiltaksidentifikator": "T1",
                    "kravgrunnlagsidentifikator": ["K1"],
                },
                "besluttetUtleggspant": [
                    {"tiltaksidentifikator": "P1", "kravgrunnlagsidentifikator": ["K1", "K2"]},
                    {"tiltaksidentifikator": "P2", "kravgrunnlagsidentifikator": ["K2"]},
                ],
            },
            {
                "beslutningstidspunkt": "x",
                "besluttetIntetTilUtlegg": {"tiltaksidentifikator": "I1"},
            },
        ]
    }
    got = [(d["beslutning"], d["tiltaksidentifikator"]) for d in decisions(status)]
    assert got == [
        ("utleggstrekk", "T1"),
        ("utleggspant", "P1"),
        ("utleggspant", "P2"),
        ("intetTilUtlegg", "I1"),
    ]


def test_safe_name_cannot_escape_the_folder() -> None:
    """Separators and leading dots are replaced; the result is never empty."""
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("IB/2025\\7") == "IB_2025_7"
    assert safe_name("..") == "_"


def test_case_reference_from_the_configured_field_and_pattern() -> None:
    """externalReference as is; a process URN cut by the pattern; the transmission's field."""
    dialog = {"externalReference": "ABC-1", "process": "urn:no:skatteetaten:utlegg:sak:ABC-2"}
    letter = {"externalReference": "ABC-3"}
    assert case_reference(DialogportenSettings(), dialog, letter) == "ABC-1"
    by_process = DialogportenSettings(
        case_reference_field="process", case_reference_pattern=r"^urn:.*:(?P<ref>[^:]+)$"
    )
    assert case_reference(by_process, dialog, letter) == "ABC-2"
    by_tx = DialogportenSettings(case_reference_field="transmission.externalReference")
    assert case_reference(by_tx, dialog, letter) == "ABC-3"
    assert case_reference(by_process, {"process": "other"}, letter) is None


def test_letter_kind_language_and_url_choice() -> None:
    """Kind from extendedType's last segment; nb text first; an API PDF URL first."""
    assert letter_kind({"extendedType": "urn:x:melding:nektebrev"}) == "nektebrev"
    assert letter_kind({"extendedType": "https://x/y#vedtak"}) == "vedtak"
    assert letter_kind({"type": "Request"}) == "melding"
    text = {"value": [{"languageCode": "en", "value": "E"}, {"languageCode": "nb", "value": "B"}]}
    assert localized(text) == "B"
    urls = {
        "urls": [
            {
                "url": "urn:dialogporten:unauthorized",
                "consumerType": "Api",
                "mediaType": "application/pdf",
            },
            {"url": "https://gui", "consumerType": "Gui", "mediaType": "application/pdf"},
            {"url": "https://api-html", "consumerType": "Api", "mediaType": "text/html"},
            {"url": "https://api-pdf", "consumerType": "Api", "mediaType": "application/pdf"},
        ]
    }
    assert pick_url(urls) == urls["urls"][3]
    assert pick_url({"urls": [{"url": "urn:dialogporten:expired"}]}) is None


def test_routing_decisions() -> None:
    """All old → elsa; mixed → paper; all new → elan; identifiers masked in the decision."""

    def answer(*kinds: str) -> dict[str, Any]:
        return {
            "skyldner": [
                {"skyldner": {"taxIdentificationNumber": f"0101701234{i}"}, "regelverk": k}
                for i, k in enumerate(kinds)
            ]
        }

    assert decide(answer("tidligereRegelverk", "tidligereRegelverk")).route == "elsa"
    assert decide(answer("tidligereRegelverk", "nyttRegelverk")).route == "paper"
    assert decide(answer("nyttRegelverk", "ukjentSkyldner")).route == "elan"
    assert decide(answer("tidligereRegelverk")).debtors[0].identifikator == "*********40"
    payload = {
        "saksoekt": [
            {"saksoekt": {"person": {"identifikator": {"taxIdentificationNumber": "1"}}}},
            {"saksoekt": {"virksomhet": {"identifikator": {"taxIdentificationNumber": "2"}}}},
            {"saksoekt": {"person": {"identifikator": {"taxIdentificationNumber": "1"}}}},
        ]
    }
    assert debtor_identifiers(payload) == ["1", "2"]
