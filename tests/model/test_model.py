"""The begjæring model: official examples, round trip, versions, «valg», §2.10 spellings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.provning._payload import base, ctx, load
from utlegg_gateway.errors import CaseError
from utlegg_gateway.model import check_structure, normalise, parse_begjaering
from utlegg_gateway.provning import validate

OFFICIAL_1_1 = ["model-1.1-begjaering-v1.json", "model-1.1-begjaering-v1-kompleks.json"]
OFFICIAL_1_0 = ["model-1.0-begjaering-v1.json", "model-1.0-begjaering-v1-kompleks.json"]
TG = "/begjaeringensTvangsgrunnlag/0"


def _found(doc: Any, version: str = "2.0") -> set[tuple[str, str]]:
    return {(f.rule, f.location) for f in validate(doc, ctx(version=version))}


@pytest.mark.parametrize("name", OFFICIAL_1_1)
def test_official_1_1_examples_round_trip_to_equal_json(name: str) -> None:
    """Each 1.1 example parses under 1.1 and serialises back to the same JSON."""
    doc = load(name)
    assert parse_begjaering(doc, "1.1").to_json() == doc


@pytest.mark.parametrize("name", OFFICIAL_1_1)
def test_official_1_1_examples_are_clean_under_1_1(name: str) -> None:
    """Under model 1.1 the official examples break no rule at all."""
    assert validate(load(name), ctx(version="1.1")) == []


def test_simple_1_1_example_under_2_0_reports_what_2_0_changed() -> None:
    """Under 2.0: the removed begrunnelseUnnlatVarsel code and a due date on a Rentekrav."""
    assert _found(load("model-1.1-begjaering-v1.json")) == {
        ("MODELL_UGYLDIG_KODE", f"{TG}/begrunnelseUnnlatVarsel"),
        ("KRAV_OPPGIS_UTEN_FORFALLSDATO", "/kravTilInnkreving/1/kravforfall"),
    }


def test_complex_1_1_example_already_meets_2_0() -> None:
    """The complex 1.1 example uses only 2.0 codes and no due dates on interest claims."""
    assert _found(load("model-1.1-begjaering-v1-kompleks.json")) == set()


def test_1_0_examples_parse_and_report_what_1_1_removed() -> None:
    """The 1.0 examples parse (tolerantly) and carry fields that 1.1 no longer has.

    What they lack against 1.1 (forsendelsemaateType on varsel, kreverRettsgebyrErstattet)
    is optional, so it is not reported; what they carry beyond it is.
    """
    simple, complex_ = (load(n) for n in OFFICIAL_1_0)
    for doc in (simple, complex_):
        parsed = parse_begjaering(doc, "1.1", ignore_unknown=True).to_json()
        assert "saksreferanse" in parsed  # known to the model, reported by the version table
        forsendelse = parsed["begjaeringensTvangsgrunnlag"][0]["saerligTvangsgrunnlag"][
            "skriftligMeddelelse"
        ]["forsendelsesmaate"]
        assert "alternativElektroniskForsendelsesmaate" in forsendelse  # §2.10, normalised
    assert _found(simple, "1.1") == {
        ("MODELL_FELT_IKKE_I_VERSJON", "/saksreferanse"),
        ("MODELL_FELT_IKKE_I_VERSJON", f"{TG}/saerligTvangsgrunnlag/paalydendeBeloep"),
    }
    assert ("MODELL_UKJENT_FELT", "/saksbehandler") in _found(complex_, "1.1")


def test_strict_parse_refuses_an_unknown_field_with_its_pointer() -> None:
    """Without ignore_unknown, the misplaced root saksbehandler of a 1.0 example is an error."""
    with pytest.raises(CaseError) as info:
        parse_begjaering(load("model-1.0-begjaering-v1-kompleks.json"), "1.1")
    assert info.value.rule in {"MODELL_UKJENT_FELT", "MODELL_FELT_IKKE_I_VERSJON"}
    assert info.value.field is not None and info.value.field.startswith("/")


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0].update(
                begrunnelseUnnlatVarsel="ukjentOppholdsstedSakssøkt"
            ),
            f"{TG}/begrunnelseUnnlatVarsel",
        ),
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0]["varsel"][0].update(type="inkassovarsel"),
            f"{TG}/varsel/0/type",
        ),
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0]["varsel"][0].update(
                forsendelsemaateType="epost"
            ),
            f"{TG}/varsel/0/forsendelsemaateType",
        ),
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0]["saerligTvangsgrunnlag"][
                "skriftligMeddelelse"
            ]["forsendelsesmaate"].update(forsendelsesmaate="ebox"),
            f"{TG}/saerligTvangsgrunnlag/skriftligMeddelelse/forsendelsesmaate/forsendelsesmaate",
        ),
    ],
)
def test_codes_removed_in_2_0_are_valid_only_under_1_1(mutate: Any, where: str) -> None:
    """The per-version code lists: a 1.1-only code is fine in 1.1 and refused in 2.0."""
    doc = base()
    mutate(doc)
    assert _found(doc, "1.1") == set()
    assert _found(doc, "2.0") == {("MODELL_UGYLDIG_KODE", where)}


def test_ekstern_saksreferanse_is_required_in_1_1_only() -> None:
    """2.0 made eksternSaksreferanse optional."""
    doc = base()
    del doc["begjaeringensTvangsgrunnlag"][0]["eksternSaksreferanse"]
    assert _found(doc, "2.0") == set()
    assert _found(doc, "1.1") == {("MODELL_MANGLER_FELT", f"{TG}/eksternSaksreferanse")}


def test_alternative_channel_under_varsel_is_new_in_2_0() -> None:
    """varsel.alternativElektroniskForsendelsesmaate exists only in 2.0."""
    doc = base()
    doc["begjaeringensTvangsgrunnlag"][0]["varsel"][0]["alternativElektroniskForsendelsesmaate"] = {
        "kanalForMeddelelse": "sms",
        "akseptKanalvalg": copy.deepcopy(doc["vedlegg"][0]) | {"type": "annet"},
    }
    where = f"{TG}/varsel/0/alternativElektroniskForsendelsesmaate"
    assert _found(doc, "2.0") == set()
    assert _found(doc, "1.1") == {("MODELL_FELT_IKKE_I_VERSJON", where)}


@pytest.mark.parametrize(
    ("alternative", "ours", "path"),
    [
        ("innsenderProsessfullmektig", "innsendersProsessfullmektig", ("innsender",)),
        ("kreverFritattRettsgebyr", "kreverFritakRettsgebyr", ()),
        (
            "alternativElektroniskForesendelsesmåte",
            "alternativElektroniskForsendelsesmaate",
            (
                "begjaeringensTvangsgrunnlag",
                0,
                "saerligTvangsgrunnlag",
                "skriftligMeddelelse",
                "forsendelsesmaate",
            ),
        ),
        (
            "forsendelsesmåtetype",
            "forsendelsemaateType",
            ("begjaeringensTvangsgrunnlag", 0, "varsel", 0),
        ),
    ],
)
def test_alternative_spellings_are_accepted_and_normalised(
    alternative: str, ours: str, path: tuple[Any, ...]
) -> None:
    """§2.10: an alternative spelling is accepted on input and written back in ours."""
    doc = base()
    values: dict[str, Any] = {
        "kreverFritakRettsgebyr": {
            "kreverFritakRettsgebyr": True,
            "aarsakTilFritak": "rettsgebyrloven§14FørsteLeddAndrePunktum",
        },
        "alternativElektroniskForsendelsesmaate": {
            "kanalForMeddelelse": "sms",
            "akseptKanalvalg": doc["vedlegg"][0],
        },
        "forsendelsemaateType": "eBoks",
    }
    node: Any = doc
    for part in path:
        node = node[part]
    if ours in node:
        node[alternative] = node.pop(ours)
    else:
        node[alternative] = values[ours]
    assert validate(doc, ctx()) == []
    out: Any = parse_begjaering(doc).to_json()
    for part in path:
        out = out[part]
    assert ours in out and alternative not in out


def test_both_spellings_at_once_are_refused() -> None:
    """Ours and an alternative together: the alternative is reported as unknown."""
    doc = base()
    doc["innsender"]["innsenderProsessfullmektig"] = doc["innsender"]["innsendersProsessfullmektig"]
    assert ("MODELL_UKJENT_FELT", "/innsender/innsenderProsessfullmektig") in _found(doc)


@pytest.mark.parametrize("value", ["3", 3, "99", 1])
def test_priority_is_accepted_as_int_or_digit_string_and_kept(value: object) -> None:
    """prioritetISak keeps what was sent (examples use strings, the diagram integers)."""
    doc = base()
    for krav in doc["kravTilInnkreving"]:
        krav["prioritetISak"] = value
    assert validate(doc, ctx()) == []
    assert parse_begjaering(doc).to_json()["kravTilInnkreving"][0]["prioritetISak"] == value


@pytest.mark.parametrize("value", ["0", 0, 100, "3a", 2.5, True])
def test_priority_outside_1_to_99_is_refused(value: object) -> None:
    """A priority must be a whole number from 1 to 99."""
    doc = base()
    doc["kravTilInnkreving"][0]["prioritetISak"] = value
    assert _found(doc) == {("MODELL_UGYLDIG_VERDI", "/kravTilInnkreving/0/prioritetISak")}


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (
            lambda d: d["saksoekt"][0]["saksoekt"].update(sammenslutning={"navn": "LAGET"}),
            "/saksoekt/0/saksoekt",
        ),
        (
            lambda d: d["saksoeker"][0]["saksoeker"]["adresse"][0].pop("adresseInnland"),
            "/saksoeker/0/saksoeker/adresse/0",
        ),
        (
            lambda d: d["saksoekt"][0]["saksoekt"]["person"]["identifikator"].update(
                annenOffisiellIdentifikator="X1"
            ),
            "/saksoekt/0/saksoekt/person/identifikator",
        ),
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0].update(
                alminneligTvangsgrunnlag={"type": "forelegg"}
            ),
            TG,
        ),
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0]["saerligTvangsgrunnlag"].update(
                gjeldsbrev={"skyldnererklaering": True, "inndrivelsesklausul": True}
            ),
            f"{TG}/saerligTvangsgrunnlag",
        ),
        (
            lambda d: d["saksoekt"][0]["saksoekt"]["adresse"][0].update(
                ukjentBosted={"begrunnelse": "x"}
            ),
            "/saksoekt/0/saksoekt/adresse/0",
        ),
        (
            lambda d: d["kravTilInnkreving"][0]["rentebaerendeKrav"].update(avtaltRentesats=5),
            "/kravTilInnkreving/0/rentebaerendeKrav",
        ),
        (
            lambda d: d["begjaeringensTvangsgrunnlag"][0]["saerligTvangsgrunnlag"][
                "skriftligMeddelelse"
            ]["forsendelsesmaate"].pop("forsendelsesmaate"),
            f"{TG}/saerligTvangsgrunnlag/skriftligMeddelelse/forsendelsesmaate",
        ),
    ],
)
def test_valg_groups_need_exactly_one_alternative(mutate: Any, where: str) -> None:
    """Each «valg» group with none or two alternatives is a MODELL_VALG at the group."""
    doc = base()
    mutate(doc)
    assert ("MODELL_VALG", where) in _found(doc)
    assert {r for r, _ in _found(doc)} == {"MODELL_VALG"}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (12.5, "MODELL_UGYLDIG_VERDI"),
        ("12.50", "MODELL_UGYLDIG_VERDI"),
        (None, "MODELL_MANGLER_FELT"),
    ],
)
def test_amount_must_be_a_json_number(value: object, code: str) -> None:
    """beloep is a JSON number; a string is a type error, a missing one a missing field."""
    doc = base()
    target = doc["kravTilInnkreving"][0]["opprinneligBeloep"]
    if value is None:
        del target["beloep"]
    else:
        target["beloep"] = value
    found = _found(doc)
    if value == 12.5:
        assert found == set()
    else:
        assert found == {(code, "/kravTilInnkreving/0/opprinneligBeloep/beloep")}


def test_structure_check_of_a_non_object_names_the_whole_document() -> None:
    """A JSON array instead of an object is one finding at the root pointer."""
    assert [(i.code, i.location) for i in check_structure([1, 2], "2.0")] == [
        ("MODELL_UGYLDIG_VERDI", "")
    ]


def test_normalise_copies_only_what_it_renames_and_leaves_the_input_alone() -> None:
    """A renamed spelling deep in a list is copied out with its parents; the input is
    unchanged, and a payload with nothing to rename comes back as the same object."""
    doc = base()
    assert normalise(doc) is doc
    varsel = {"forsendelsesmåtetype": "eBoks"}  # an alternative spelling of ours
    doc["begjaeringensTvangsgrunnlag"][0]["varsel"] = [varsel]
    before = copy.deepcopy(doc)
    out = normalise(doc)
    assert doc == before
    assert out["begjaeringensTvangsgrunnlag"][0]["varsel"] == [{"forsendelsemaateType": "eBoks"}]
    assert (
        out is not doc
        and out["begjaeringensTvangsgrunnlag"] is not doc["begjaeringensTvangsgrunnlag"]
    )
    assert out["vedlegg"] is doc["vedlegg"]  # nothing renamed under it: shared, not copied
