"""Mapping value errors name the server rule where one of the 72 fits (provning.value_rule)."""

from __future__ import annotations

import pytest

from utlegg_gateway.provning import RULES, value_rule


@pytest.mark.parametrize(
    ("location", "rule"),
    [
        ("/kravTilInnkreving/0/opprinneligBeloep/beloep", "UGYLDIG_BELOEP"),
        ("/begjaeringensTvangsgrunnlag/0/saerligTvangsgrunnlag/paalydendeBeloep", "UGYLDIG_BELOEP"),
        ("/kravTilInnkreving/0/rentebaerendeKrav/0/avtaltRentesats", "UGYLDIG_RENTE"),
        ("/kravTilInnkreving/0/rentebaerendeKrav/0/beregnetMedAvtaltRentesats", "UGYLDIG_RENTE"),
        ("/betalingsinformasjon/kidnummer", "UGYLDIG_KID"),
        ("/betalingsinformasjon/kontoinformasjon/kontonummer", "UGYLDIG_KONTONR"),
        (
            "/saksoeker/0/saksoekersProsessfullmektig/prosessfullmektig/virksomhet/identifikator"
            "/taxIdentificationNumber",
            "UGYLDIG_ORGNR_PROSESSFULLMEKTIG",
        ),
        # No server rule: a date (HTTP 400 there), a party's own identifier (our codes).
        ("/kravTilInnkreving/0/kravforfall", None),
        ("/saksoekt/0/saksoekt/person/identifikator/taxIdentificationNumber", None),
        ("", None),
    ],
)
def test_value_rule(location: str, rule: str | None) -> None:
    assert value_rule(location) == rule
    if rule is not None:
        assert rule in RULES and RULES[rule].since != "own"
