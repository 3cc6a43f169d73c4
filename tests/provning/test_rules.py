"""One case per locally implemented rule: a mutation of a clean payload that breaks it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.provning._payload import (
    HOVEDKRAV,
    KOSTNAD,
    RENTEKRAV,
    VALID_UUID,
    base,
    ctx,
    real_fnr,
    real_orgnr,
)
from utlegg_gateway.provning import (
    NOT_DECIDABLE_RULES,
    RULES,
    SERVER_ONLY_RULES,
    deprecations,
    validate,
)

Doc = dict[str, Any]
TG = "/begjaeringensTvangsgrunnlag/0"
SM = f"{TG}/saerligTvangsgrunnlag/skriftligMeddelelse"


def _grunnlag(d: Doc) -> Doc:
    g: Doc = d["begjaeringensTvangsgrunnlag"][0]
    return g


def _melding(d: Doc) -> Doc:
    m: Doc = _grunnlag(d)["saerligTvangsgrunnlag"]["skriftligMeddelelse"]
    return m


def _krav(d: Doc, i: int) -> Doc:
    k: Doc = d["kravTilInnkreving"][i]
    return k


def _saksoeker(d: Doc) -> Doc:
    a: Doc = d["saksoeker"][0]["saksoeker"]
    return a


def _saksoekt(d: Doc) -> Doc:
    a: Doc = d["saksoekt"][0]["saksoekt"]
    return a


def _second_grunnlag(d: Doc, refs: list[str]) -> None:
    g = copy.deepcopy(_grunnlag(d))
    g["innsendersKravreferanse"] = refs
    d["begjaeringensTvangsgrunnlag"].append(g)


def _extra_rentekrav(d: Doc) -> None:
    r = copy.deepcopy(_krav(d, 1))
    r["innsendersKravreferanse"] = "R2"
    r["relatertKrav"] = [RENTEKRAV]
    d["kravTilInnkreving"].append(r)
    _grunnlag(d)["innsendersKravreferanse"].append("R2")


def _move_cost_to_new_grunnlag(d: Doc) -> None:
    _grunnlag(d)["innsendersKravreferanse"].remove(KOSTNAD)
    _second_grunnlag(d, [KOSTNAD])


def _person(first: str = "OLA", last: str = "NORDMANN") -> Doc:
    return {"personnavn": {"fornavn": first, "etternavn": last}}


def _utland(d: Doc, who: Callable[[Doc], Doc]) -> None:
    who(d)["adresse"][0] = {
        "adressetype": "bopelsadresse",
        "adresseUtland": {"adressetekst": "Storgatan 1", "landkode": "SE"},
    }


def _real_except_saksoekt(d: Doc) -> None:
    """Give every party a real (non-Tenor) identifier, except the saksøkt."""
    keep = _saksoekt(d)["person"]["identifikator"]["taxIdentificationNumber"]
    replacement: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            value = node.get("taxIdentificationNumber")
            if isinstance(value, str) and value != keep:
                if value not in replacement:
                    n = len(replacement)
                    replacement[value] = (
                        real_orgnr(91000000 + 100 * n)
                        if len(value) == 9
                        else real_fnr(f"0{n + 1}0170")
                    )
                node["taxIdentificationNumber"] = replacement[value]
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(d)


@dataclass(frozen=True)
class Case:
    rule: str
    mutate: Callable[[Doc], object]
    where: str
    ctx: dict[str, Any] = field(default_factory=dict)
    # Consequential findings the mutation cannot avoid (documented per case).
    also: frozenset[str] = frozenset()
    previous: bool = False
    # A warning code: checked through deprecations(), which validate() leaves out.
    warning: bool = False


CASES: list[Case] = [
    Case(
        "DUPLIKAT_SAKSOEKER",
        lambda d: d["saksoeker"].append(copy.deepcopy(d["saksoeker"][0])),
        "/saksoeker/1",
    ),
    Case(
        "DUPLIKAT_SAKSOEKT",
        lambda d: d["saksoekt"].append(copy.deepcopy(d["saksoekt"][0])),
        "/saksoekt/1",
    ),
    Case(
        "SAMME_SAKSOEKT_SOM_SAKSOEKER",
        lambda d: d["saksoekt"].append({"saksoekt": copy.deepcopy(_saksoeker(d))}),
        "/saksoekt/1",
    ),
    Case(
        "GEBYR_ELLER_SAKSKOSTNAD_HAR_ET_RELATERTKRAV_SOM_IKKE_ER_HOVEDSTOL",
        lambda d: _krav(d, 2).update(relatertKrav=[RENTEKRAV]),
        "/kravTilInnkreving/2/relatertKrav/0",
    ),
    Case(
        "HOVEDSTOL_SKAL_IKKE_HA_ET_RELATERT_KRAV",
        lambda d: _krav(d, 0).update(relatertKrav=[KOSTNAD]),
        "/kravTilInnkreving/0/relatertKrav",
    ),
    Case(
        "INNBETALING_FRAM_I_TID",
        lambda d: _krav(d, 0)["innbetaling"][0].update(bokfoertDato="2026-01-02"),
        "/kravTilInnkreving/0/innbetaling/0/bokfoertDato",
    ),
    Case(
        "INNSENDER_IKKE_IDENTIFISERBAR",
        lambda d: d["innsender"].update(
            innsender={"adresse": _saksoekt(d)["adresse"], "sammenslutning": {"navn": "LAGET"}}
        ),
        "/innsender/innsender",
    ),
    Case(
        "INNSENDER_IKKE_ORGANISASJON",
        lambda d: d["innsender"].update(innsender=copy.deepcopy(_saksoekt(d))),
        "/innsender/innsender/person",
    ),
    Case("INNSENDER_MANGLER", lambda d: d.pop("innsender"), "/innsender"),
    Case(
        "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING",
        lambda d: None,
        "/innsender/innsender/virksomhet/identifikator",
        ctx={"authenticated_orgnr": "310288837"},
    ),
    Case(
        "KAN_BEHANDLES_I_FORLIKSRAADET_PAAKREVET",
        lambda d: _melding(d).pop("kanBehandlesIForliksraadet"),
        f"{SM}/kanBehandlesIForliksraadet",
    ),
    Case(
        "KRAV_DUPLIKATE_REFERANSER",
        lambda d: d["kravTilInnkreving"].append(copy.deepcopy(_krav(d, 2))),
        "/kravTilInnkreving/3/innsendersKravreferanse",
    ),
    Case(
        "KRAV_IKKE_BENYTTET",
        lambda d: _grunnlag(d)["innsendersKravreferanse"].remove(KOSTNAD),
        "/kravTilInnkreving/2/innsendersKravreferanse",
    ),
    Case(
        "KRAV_I_FLERE_TVANGSGRUNNLAG",
        lambda d: _second_grunnlag(d, [KOSTNAD]),
        "/begjaeringensTvangsgrunnlag/1/innsendersKravreferanse/0",
    ),
    Case(
        "KRAV_MANGLER_FORFALLSDATO",
        lambda d: _krav(d, 0).pop("kravforfall"),
        "/kravTilInnkreving/0/kravforfall",
    ),
    Case(
        "KRAV_OPPGIS_UTEN_FORFALLSDATO",
        lambda d: _krav(d, 1).update(kravforfall={"forfallsdato": "2025-02-24"}),
        "/kravTilInnkreving/1/kravforfall",
    ),
    Case(
        "MAKS_EN_ADRESSE_AV_HVER_TYPE",
        lambda d: _saksoekt(d)["adresse"].append(copy.deepcopy(_saksoekt(d)["adresse"][0])),
        "/saksoekt/0/saksoekt/adresse/1/adressetype",
    ),
    Case(
        "MANGELFULLE_KONTOOPPLYSNINGER",
        lambda d: d["betalingsinformasjon"].update(kontoinformasjon={}),
        "/betalingsinformasjon/kontoinformasjon",
    ),
    Case(
        "MANGLER_KRAV",
        lambda d: d.pop("kravTilInnkreving"),
        "/kravTilInnkreving",
        # the tvangsgrunnlag (which must list claims) then points at claims that are gone
        also=frozenset({"TVANGSGRUNNLAG_UGYLDIGE_KRAVREFERANSER"}),
    ),
    Case(
        "MANGLER_OPPLYSNINGER_BEVILLINGSHAVER",
        lambda d: d["innsender"]["innsendersProsessfullmektig"].pop("bevillingshaver"),
        "/innsender/innsendersProsessfullmektig/bevillingshaver",
    ),
    Case(
        "MANGLER_OPPLYSNINGER_OM_SAKSOEKER",
        lambda d: d["saksoeker"][0].update(
            saksoeker={"adresse": _saksoeker(d)["adresse"], "person": _person()}
        ),
        "/saksoeker/0/saksoeker",
    ),
    Case(
        "MANGLER_OPPLYSNINGER_OM_SAKSOEKT",
        lambda d: (_saksoekt(d)["person"].pop("identifikator"), _saksoekt(d).pop("adresse")),
        "/saksoekt/0/saksoekt",
    ),
    Case(
        "MANGLER_OPPLYSNINGER_PROSESSFULLMEKTIG_PERSON",
        lambda d: d["saksoeker"][0]["saksoekersProsessfullmektig"].update(
            prosessfullmektig={"person": _person()}
        ),
        "/saksoeker/0/saksoekersProsessfullmektig/prosessfullmektig",
    ),
    Case("PAASTAND_PAAKREVET", lambda d: _melding(d).pop("paastand"), f"{SM}/paastand"),
    Case(
        "PARAGRAF_4_18_VARSEL_PAAKREVET",
        lambda d: (_grunnlag(d).pop("varsel"), _grunnlag(d).pop("begrunnelseUnnlatVarsel")),
        f"{TG}/varsel",
    ),
    Case(
        "PRIORITET_MANGLER",
        lambda d: _krav(d, 2).pop("prioritetISak"),
        "/kravTilInnkreving/2/prioritetISak",
    ),
    Case(
        "PRIORITET_MANGLER_PÅ_RENTEOPPLYSNINGER",
        lambda d: _krav(d, 0)["rentebaerendeKrav"].pop("prioritetISakFremtidigRentekrav"),
        "/kravTilInnkreving/0/rentebaerendeKrav/prioritetISakFremtidigRentekrav",
    ),
    Case(
        "PRIORITET_MANGLER_PÅ_RETTSGEBYR",
        lambda d: d.update(kreverRettsgebyrErstattet={"kreverRettsgebyrErstattet": True}),
        "/kreverRettsgebyrErstattet/prioritetISakRettsgebyr",
    ),
    Case(
        "RELATERTE_KRAV_KAN_IKKE_PEKE_PÅ_SEG_SELV",
        lambda d: _krav(d, 2)["relatertKrav"].append(KOSTNAD),
        "/kravTilInnkreving/2/relatertKrav/1",
    ),
    Case(
        "RELATERTE_KRAV_MÅ_FINNES",
        _move_cost_to_new_grunnlag,
        "/kravTilInnkreving/2/relatertKrav/0",
    ),
    Case(
        "RELATERTE_KRAV_UGYLDIGE_KRAVREFERANSER",
        lambda d: _krav(d, 2).update(relatertKrav=["FINNES-IKKE"]),
        "/kravTilInnkreving/2/relatertKrav/0",
    ),
    Case(
        "RENTEKRAV_KAN_BARE_RELATERES_TIL_ETT_KRAV",
        lambda d: _krav(d, 1)["relatertKrav"].append(HOVEDKRAV),
        "/kravTilInnkreving/1/relatertKrav",
    ),
    Case(
        "RENTEKRAV_KAN_IKKE_HA_RENTEKRAV", _extra_rentekrav, "/kravTilInnkreving/3/relatertKrav/0"
    ),
    Case(
        "RENTEKRAV_KAN_IKKE_HA_RENTEOPPLYSNINGER",
        lambda d: _krav(d, 1).update(
            rentebaerendeKrav={"harForsinkelsesrente": True, "prioritetISakFremtidigRentekrav": 2}
        ),
        "/kravTilInnkreving/1/rentebaerendeKrav",
    ),
    Case(
        "RENTEKRAV_PERIODE_MAA_HA_GYLDIG_PERIODE",
        lambda d: _krav(d, 1)["rentekrav"]["rentePeriode"].update(sluttdato="2025-02-24"),
        "/kravTilInnkreving/1/rentekrav/rentePeriode",
    ),
    Case(
        "RENTEKRAV_TILKNYTTET_IKKE_RENTEKRAV",
        lambda d: _krav(d, 2).update(rentekrav=copy.deepcopy(_krav(d, 1)["rentekrav"])),
        "/kravTilInnkreving/2/rentekrav",
    ),
    Case(
        "RENTE_MAA_HA_RELATERT_KRAV",
        lambda d: _krav(d, 1).pop("relatertKrav"),
        "/kravTilInnkreving/1/relatertKrav",
    ),
    Case(
        "SAKSOEKERS_INNENLANDS_ADRESSE_UGYLDIG",
        lambda d: _saksoeker(d)["adresse"][0]["adresseInnland"].pop("adressetekst"),
        "/saksoeker/0/saksoeker/adresse/0/adresseInnland",
    ),
    Case(
        "SAKSOEKERS_UTENLANDS_ADRESSE_UGYLDIG",
        lambda d: _utland(d, _saksoeker),
        "/saksoeker/0/saksoeker/adresse/0/adresseUtland",
    ),
    Case(
        "SAKSØKTES_INNENLANDS_ADRESSE_UGYLDIG",
        lambda d: _saksoekt(d)["adresse"][0]["adresseInnland"].pop("postnummer"),
        "/saksoekt/0/saksoekt/adresse/0/adresseInnland",
    ),
    Case(
        "SAKSØKTES_UTENLANDS_ADRESSE_UGYLDIG",
        lambda d: _utland(d, _saksoekt),
        "/saksoekt/0/saksoekt/adresse/0/adresseUtland",
    ),
    Case(
        "TVANGSGRUNNLAG_UGYLDIGE_KRAVREFERANSER",
        lambda d: _grunnlag(d)["innsendersKravreferanse"].append("FINNES-IKKE"),
        f"{TG}/innsendersKravreferanse/3",
    ),
    Case(
        "UGYLDIG_BELOEP",
        lambda d: _krav(d, 0)["opprinneligBeloep"].update(beloep=12.345),
        "/kravTilInnkreving/0/opprinneligBeloep/beloep",
    ),
    Case(
        "UGYLDIG_BELOEP",
        lambda d: _krav(d, 0)["innbetaling"][0]["beloep"].update(beloep=-1),
        "/kravTilInnkreving/0/innbetaling/0/beloep/beloep",
    ),
    Case(
        "UGYLDIG_KID",
        lambda d: d["betalingsinformasjon"].update(kidnummer="2509937607"),
        "/betalingsinformasjon/kidnummer",
    ),
    Case(
        "UGYLDIG_KONTONR",
        lambda d: d["betalingsinformasjon"]["kontoinformasjon"].update(kontonummer="69930570045"),
        "/betalingsinformasjon/kontoinformasjon/kontonummer",
    ),
    Case(
        "UGYLDIG_ORGNR_PROSESSFULLMEKTIG",
        lambda d: d["innsender"]["innsendersProsessfullmektig"]["prosessfullmektig"]["virksomhet"][
            "identifikator"
        ].update(taxIdentificationNumber="312597773"),
        "/innsender/innsendersProsessfullmektig/prosessfullmektig/virksomhet/identifikator"
        "/taxIdentificationNumber",
    ),
    Case(
        "UGYLDIG_RENTE",
        lambda d: _krav(d, 0).update(
            rentebaerendeKrav={"avtaltRentesats": 21.999, "prioritetISakFremtidigRentekrav": 2}
        ),
        "/kravTilInnkreving/0/rentebaerendeKrav/avtaltRentesats",
    ),
    Case(
        "UGYLDIG_VEDLEGG_BETALINGSOPPFORDRING",
        lambda d: _krav(d, 0)["betalingsoppfordring"][0]["betalingsoppfordring"].update(
            type="annet"
        ),
        "/kravTilInnkreving/0/betalingsoppfordring/0/betalingsoppfordring/type",
    ),
    Case(
        "UGYLDIG_VEDLEGG_FULLMAKT",
        lambda d: d["saksoeker"][0]["saksoekersProsessfullmektig"]["fullmakt"]["fullmakt"].update(
            type="annet"
        ),
        "/saksoeker/0/saksoekersProsessfullmektig/fullmakt/fullmakt/type",
    ),
    Case(
        "UGYLDIG_VEDLEGG_TRANSPORTERKLÆRING",
        lambda d: _krav(d, 0).update(
            transporterklaering=[
                {
                    "dato": "2025-01-01",
                    "transporterklaering": {"type": "annet", "filnavn": "t", "uuid": VALID_UUID},
                }
            ]
        ),
        "/kravTilInnkreving/0/transporterklaering/0/transporterklaering/type",
    ),
    Case(
        "UGYLDIG_VEDLEGG_TVANGSGRUNNLAG",
        lambda d: _grunnlag(d)["tvangsgrunnlag"].update(type="annet"),
        f"{TG}/tvangsgrunnlag/type",
    ),
    Case(
        "UGYLDIG_VEDLEGG_TVANGSKRAFTGRUNNLAG",
        lambda d: _grunnlag(d)["varsel"][0]["tvangskraftgrunnlag"].update(type="annet"),
        f"{TG}/varsel/0/tvangskraftgrunnlag/type",
    ),
    Case(
        "ULOVLIG_ENDRING_BEGJAERINGSDATO",
        lambda d: d.update(begjaeringsdato="2025-09-05"),
        "/begjaeringsdato",
        previous=True,
    ),
    Case(
        "ULOVLIG_ENDRING_INNSENDER",
        lambda d: d["innsender"]["innsender"]["virksomhet"]["identifikator"].update(
            taxIdentificationNumber="310288837"
        ),
        "/innsender",
        previous=True,
    ),
    Case(
        "ULOVLIG_ENDRING_SAKSOEKER",
        lambda d: _saksoeker(d)["virksomhet"]["identifikator"].update(
            taxIdentificationNumber="314441052"
        ),
        "/saksoeker",
        previous=True,
    ),
    Case(
        "ULOVLIG_ENDRING_SAKSOEKT",
        lambda d: _saksoekt(d)["person"]["identifikator"].update(
            taxIdentificationNumber="10828697949"
        ),
        "/saksoekt/0",
        previous=True,
    ),
    Case(
        "ULOVLIG_ENDRING_UNDERSKRIFT",
        lambda d: d.update(underskrift="Ola Nordmann"),
        "/underskrift",
        previous=True,
    ),
    Case("VEDLEGG_SKAL_HA_UUID", lambda d: d["vedlegg"][0].pop("uuid"), "/vedlegg/0/uuid"),
    # Our own codes.
    Case(
        "UGYLDIG_FOEDSELSNUMMER",
        lambda d: _saksoekt(d)["person"]["identifikator"].update(
            taxIdentificationNumber="44926701752"
        ),
        "/saksoekt/0/saksoekt/person/identifikator/taxIdentificationNumber",
    ),
    Case(
        "UGYLDIG_ORGANISASJONSNUMMER",
        lambda d: _saksoeker(d)["virksomhet"]["identifikator"].update(
            taxIdentificationNumber="311758488"
        ),
        "/saksoeker/0/saksoeker/virksomhet/identifikator/taxIdentificationNumber",
    ),
    Case(
        "UGYLDIG_IDENTIFIKATOR",
        lambda d: d["betalingsinformasjon"]["betalingsmottaker"].update(
            taxIdentificationNumber="1234"
        ),
        "/betalingsinformasjon/betalingsmottaker/taxIdentificationNumber",
    ),
    Case(
        "SYNTETISK_IDENTITET_I_PROD",
        _real_except_saksoekt,
        "/saksoekt/0/saksoekt/person/identifikator/taxIdentificationNumber",
        ctx={"environment": "prod"},
    ),
    Case("VEDLEGG_UGYLDIG_UUID", lambda d: d["vedlegg"][0].update(uuid="abc"), "/vedlegg/0/uuid"),
    # Invisible characters and implausible values (issue 11: look-alike references).
    Case(
        "UGYLDIG_TEGN",
        lambda d: d.update(innsenderReferanse="IB-2025-\u200b000127"),
        "/innsenderReferanse",
    ),
    Case("UGYLDIG_TEGN", lambda d: d.update(underskrift="Anna\x00Norman"), "/underskrift"),
    Case(
        "UGYLDIG_TEGN",
        lambda d: d.update(underskrift="Anna \u202eNorman"),
        "/underskrift",
    ),
    Case("UPLAUSIBEL_DATO", lambda d: d.update(begjaeringsdato="9999-12-31"), "/begjaeringsdato"),
    Case(
        "UPLAUSIBEL_LENGDE",
        lambda d: _saksoekt(d)["person"]["personnavn"].update(fornavn="A" * 10_000),
        "/saksoekt/0/saksoekt/person/personnavn/fornavn",
    ),
    Case("MODELL_MANGLER_FELT", lambda d: d.pop("underskrift"), "/underskrift"),
    Case("MODELL_UKJENT_FELT", lambda d: d.update(saksbehandler="X"), "/saksbehandler"),
    Case(
        "MODELL_UGYLDIG_VERDI",
        lambda d: d.update(begjaeringsdato="04.09.2025"),
        "/begjaeringsdato",
    ),
    Case(
        "MODELL_UGYLDIG_KODE",
        lambda d: _krav(d, 0).update(prioritetDekningsloven="f"),
        "/kravTilInnkreving/0/prioritetDekningsloven",
    ),
    Case(
        "MODELL_VALG",
        lambda d: _saksoekt(d).update(
            virksomhet={
                "navn": "X AS",
                "identifikator": {
                    "taxIdentificationNumber": "314441052",
                    "landkodeIdentifikator": "NO",
                },
                "virksomhetstype": "annet",
            }
        ),
        "/saksoekt/0/saksoekt",
    ),
    Case("MODELL_FELT_IKKE_I_VERSJON", lambda d: d.update(saksreferanse="x"), "/saksreferanse"),
    Case(
        "MODELL_FELT_UTGAAR",
        lambda d: d["begjaeringensTvangsgrunnlag"][0].update(eksternSaksreferanse="S-1"),
        "/begjaeringensTvangsgrunnlag/0/eksternSaksreferanse",
        ctx={"version": "2.1"},
        warning=True,
    ),
]


def _run(case: Case) -> list[tuple[str, str]]:
    doc = base()
    case.mutate(doc)
    kw = dict(case.ctx)
    if case.previous:
        kw["previous"] = base()
    found = validate(doc, ctx(**kw))
    if case.warning:
        assert found == []  # a warning never makes the case fail
        found = deprecations(doc, ctx(**kw))
    return [(f.rule, f.location) for f in found]


def test_base_payload_is_clean_under_both_versions() -> None:
    """The unmutated base passes every rule of 2.0 and of 1.1, as new and as a change."""
    for version in ("1.1", "2.0"):
        assert validate(base(), ctx(version=version)) == []
        assert validate(base(), ctx(version=version, previous=base())) == []


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}@{c.where}" for c in CASES])
def test_mutation_breaks_exactly_its_rule(case: Case) -> None:
    """The mutation yields the rule at its JSON pointer and nothing unexpected."""
    got = _run(case)
    assert (case.rule, case.where) in got
    assert {rule for rule, _ in got} <= {case.rule} | case.also


def test_every_local_rule_has_a_case() -> None:
    """Each rule decided locally (server's and ours) is exercised by a case above."""
    covered = {c.rule for c in CASES}
    local = {n for n, r in RULES.items() if r.local} - {"PROVING_INTERN_FEIL"}
    assert local - covered == set()


def test_catalogue_partitions_the_72_documented_rules() -> None:
    """72 server rules: each local, server-only or not decidable, exactly once."""
    server = {n for n, r in RULES.items() if r.since != "own"}
    assert len(server) == 72
    local = {n for n in server if RULES[n].local}
    assert local | SERVER_ONLY_RULES | NOT_DECIDABLE_RULES == server
    assert not local & SERVER_ONLY_RULES
    assert not (local | SERVER_ONLY_RULES) & NOT_DECIDABLE_RULES
    assert all(RULES[n].server_only for n in SERVER_ONLY_RULES)


TWO_ZERO_ONLY = [
    c
    for c in CASES
    if RULES[c.rule].since in {"2.0", "Feb26"} and c.rule != "ULOVLIG_ENDRING_SAKSOEKER"
]


@pytest.mark.parametrize("case", TWO_ZERO_ONLY, ids=[c.rule for c in TWO_ZERO_ONLY])
def test_rules_of_2_0_are_not_run_under_1_1(case: Case) -> None:
    """A rule introduced in Feb 2026 / 2.0 is silent when the model version is 1.1."""
    doc = base()
    case.mutate(doc)
    kw: dict[str, Any] = {"version": "1.1", **case.ctx}
    if case.previous:
        kw["previous"] = base()
    assert case.rule not in {f.rule for f in validate(doc, ctx(**kw))}


def test_message_quotes_the_payload_values() -> None:
    """Both texts fill the server's placeholders from the payload: English and Norwegian."""
    doc = base()
    _krav(doc, 2).update(relatertKrav=["FINNES-IKKE"])
    (found,) = validate(doc, ctx())
    assert found.message == (
        f"The claim with kravreferanse {KOSTNAD} points to a related claim FINNES-IKKE "
        "that does not exist"
    )
    assert found.serverMessage == (
        f"Krav med kravreferanse {KOSTNAD} peker på relatert krav med kravreferanse "
        "FINNES-IKKE som ikke eksisterer"
    )


def test_messages_have_every_placeholder_filled() -> None:
    """No finding of any case shows a raw server placeholder such as %kravreferanse."""
    for case in CASES:
        doc = base()
        case.mutate(doc)
        kw = dict(case.ctx)
        if case.previous:
            kw["previous"] = base()
        for found in validate(doc, ctx(**kw)):
            assert "%" not in found.message, (case.rule, found.message)
