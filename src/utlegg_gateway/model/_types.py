"""The pydantic classes of the ELAN begjæring: the union of model 1.1 and 2.0.

Python attribute names are the exact JSON property names (æ/ø/å transliterated), so
`model_dump(by_alias=True)` needs no alias table. Code values keep Norwegian letters.
Code lists are checked against the version in the validation context (`_versions.py`);
«valg» (choice) groups are checked by each class's `_valg` validator.

Fields that carry one of the server's own rules (uuid, address minimums, innsender,
the claim list) are optional here on purpose: the rule reports them with the server's
rule name instead of a generic "missing field".
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from utlegg_gateway.model._versions import DEFAULT_MODEL_VERSION, SPECS

__all__ = ["Begjaering", "CodeCheck"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _version(info: ValidationInfo) -> Any:
    return (info.context or {}).get("version", DEFAULT_MODEL_VERSION)


class CodeCheck:
    """The check of a code-list field; `list_name` lets tools (mapping check, docs) read it."""

    def __init__(self, list_name: str) -> None:
        self.list_name = list_name

    def __call__(self, value: str, info: ValidationInfo) -> str:
        list_name = self.list_name
        version = _version(info)
        if value in SPECS[version].code_lists[list_name]:
            return value
        others = [v for v in sorted(SPECS) if value in SPECS[v].code_lists[list_name]]
        note = f" (it is in model version {', '.join(others)})" if others else ""
        raise PydanticCustomError(
            "kode",
            "'{verdi}' is not a value of the code list {kodeliste} in model version"
            " {versjon}{note}",
            {"verdi": value, "kodeliste": list_name, "versjon": version, "note": note},
        )


def _code(list_name: str) -> AfterValidator:
    return AfterValidator(CodeCheck(list_name))


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("dato", "må være en gyldig dato på formen ÅÅÅÅ-MM-DD")


def _number(value: Any) -> float | int:
    # bool is an int in Python; a JSON true is not an amount.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("tall", "må være et tall")


def _priority(value: Any) -> int | str:
    # The official examples send prioritetISak as a digit string ("3"), the diagram
    # types it Heltall: both are accepted and kept as sent, so a round trip is exact.
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    if number is None or not 1 <= number <= 99:
        raise PydanticCustomError("prioritet", "må være et heltall fra 1 til 99")
    kept: int | str = value
    return kept


def _text_or_texts(value: Any) -> str | list[str]:
    # mottakeradresseInnland.adressetekst: the diagram says Tekst [0..1], the official
    # examples send an array of lines. Both are accepted and kept as sent.
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise PydanticCustomError("tekst", "må være tekst eller en liste av tekster")


Dato = Annotated[dt.date, BeforeValidator(_iso_date)]
Tekst = Annotated[str, Field(strict=True)]
Beloep = Annotated[float | int, PlainValidator(_number), PlainSerializer(lambda v: v)]
Prioritet = Annotated[int | str, PlainValidator(_priority), PlainSerializer(lambda v: v)]
Tekster = Annotated[str | list[str], PlainValidator(_text_or_texts), PlainSerializer(lambda v: v)]
Valuta = Annotated[str, Field(strict=True, pattern=r"^[A-Z]{3}$")]
Landkode = Annotated[str, Field(strict=True, pattern=r"^[A-Z]{2}$")]


def _count(obj: BaseModel, names: tuple[str, ...]) -> int:
    return sum(getattr(obj, n) is not None for n in names)


def _valg(obj: BaseModel, names: tuple[str, ...], *, optional: bool = False) -> None:
    given = _count(obj, names)
    if given == 1 or (optional and given == 0):
        return
    wanted = "at most one" if optional else "exactly one"
    raise PydanticCustomError(
        "valg",
        "{wanted} of {felt} must be given (valg), found {antall}",
        {"wanted": wanted, "felt": ", ".join(names), "antall": given},
    )


class _Model(BaseModel):
    # Unknown fields in a request are most likely mapping mistakes: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vedlegg(_Model):
    type: Annotated[Tekst, _code("VedleggType")]
    filnavn: Tekst
    uuid: Tekst | None = None


class Kontaktinformasjon(_Model):
    epostAdresse: Tekst | None = None
    telefonnummer: Tekst | None = None


class Personnavn(_Model):
    fornavn: Tekst
    mellomnavn: Tekst | None = None
    etternavn: Tekst


class Partsidentifikator(_Model):
    """PartsidentifikatorForEksternBruk."""

    taxIdentificationNumber: Tekst | None = None
    annenOffisiellIdentifikator: Tekst | None = None
    landkodeIdentifikator: Landkode

    @model_validator(mode="after")
    def _choice(self) -> Partsidentifikator:
        _valg(self, ("taxIdentificationNumber", "annenOffisiellIdentifikator"))
        return self


class Virksomhet(_Model):
    navn: Tekst
    identifikator: Partsidentifikator
    # Optional since 2.1; required in 1.1/2.0 (_versions).
    virksomhetstype: Annotated[Tekst, _code("VirksomhetsType")] | None = None


class Person(_Model):
    personnavn: Personnavn
    foedselsdato: Dato | None = None
    identifikator: Partsidentifikator | None = None
    innehaverEnkeltpersonforetak: list[Virksomhet] | None = None


class Sammenslutning(_Model):
    navn: Tekst
    identifikator: Partsidentifikator | None = None


class AdresseInnland(_Model):
    """AdresseFrittFormatInnland; the minimum is a server rule, so all are optional."""

    adressetekst: Tekst | None = None
    poststedsnavn: Tekst | None = None
    kommunenummer: Tekst | None = None
    postnummer: Tekst | None = None


class AdresseUtland(_Model):
    """AdresseFrittFormatUtland; the minimum is a server rule, so all are optional."""

    adressetekst: Tekst | None = None
    poststedUtland: Tekst | None = None
    landkode: Landkode | None = None
    postnummerUtland: Tekst | None = None


class UkjentBosted(_Model):
    kommunenummer: Tekst | None = None
    begrunnelse: Tekst


class Adresse(_Model):
    """AdresseIBegjæring."""

    adressetype: Annotated[Tekst, _code("AdresseType")]
    adresseInnland: AdresseInnland | None = None
    adresseUtland: AdresseUtland | None = None
    ukjentBosted: UkjentBosted | None = None

    @model_validator(mode="after")
    def _choice(self) -> Adresse:
        _valg(self, ("adresseInnland", "adresseUtland", "ukjentBosted"))
        return self


class Aktoer(_Model):
    # The diagram says adresse [1..*]; the identification rules accept parties without
    # an address (orgnr + navn), so the rules, not the model, decide.
    adresse: list[Adresse] | None = None
    virksomhet: Virksomhet | None = None
    person: Person | None = None
    sammenslutning: Sammenslutning | None = None

    @model_validator(mode="after")
    def _choice(self) -> Aktoer:
        _valg(self, ("virksomhet", "person", "sammenslutning"))
        return self


class Fullmakt(_Model):
    fraDato: Dato
    tilDato: Dato | None = None
    fullmakt: Vedlegg


class Bevillingshaver(_Model):
    navn: Personnavn


class Prosessfullmektig(_Model):
    prosessfullmektig: Aktoer
    fullmakt: Fullmakt | None = None
    bevillingshaver: Bevillingshaver | None = None


class Saksoeker(_Model):
    saksoeker: Aktoer
    saksoekerKontaktinformasjon: Kontaktinformasjon | None = None
    saksoekersProsessfullmektig: Prosessfullmektig | None = None


class Saksoekt(_Model):
    saksoekt: Aktoer
    saksoektesProsessfullmektig: Prosessfullmektig | None = None


class Innsender(_Model):
    innsender: Aktoer | None = None  # INNSENDER_MANGLER reports its absence
    innsendersProsessfullmektig: Prosessfullmektig | None = None
    saksbehandler: Tekst | None = None
    saksbehandlersKontaktinformasjon: Kontaktinformasjon | None = None


class KreverRettsgebyrErstattet(_Model):
    kreverRettsgebyrErstattet: StrictBool
    # New in 2.1. Type not published (the figure is a PNG): a yes/no like its siblings.
    kreverRenterAvRettsgebyr: StrictBool | None = None
    prioritetISakRettsgebyr: Prioritet | None = None
    prioritetISakFremtidigRentekrav: Prioritet | None = None


class KreverFritakRettsgebyr(_Model):
    # Inner names by analogy with KreverRettsgebyrErstattet (see docs/rules.md, §2.10).
    kreverFritakRettsgebyr: StrictBool
    aarsakTilFritak: Annotated[Tekst, _code("ÅrsakTilFritakRettsgebyr")]


class Kontoinformasjon(_Model):
    bankkode: Tekst | None = None
    bankNavn: Tekst | None = None
    landkodeBank: Landkode | None = None
    kontovaluta: Valuta | None = None
    iban: Tekst | None = None
    bic: Tekst | None = None
    kontonummer: Tekst | None = None


class Betalingsinformasjon(_Model):
    kidnummer: Tekst | None = None
    norskKonto: StrictBool
    kontoinformasjon: Kontoinformasjon
    betalingsmottaker: Partsidentifikator | None = None


class ValgtNamsmannsdistrikt(_Model):
    namsmannsdistrikt: Annotated[Tekst, _code("Namsmannsdistrikt")]
    begrunnelse: Tekst | None = None


class BeloepValuta(_Model):
    beloep: Beloep  # required from 1.1
    valuta: Valuta | None = None


class Datoperiode(_Model):
    startdato: Dato  # required from 1.1
    sluttdato: Dato | None = None


class Rentekrav(_Model):
    rentePeriode: Datoperiode | None = None
    renteGrunnlag: BeloepValuta | None = None
    beregnetMedForsinkelsesrente: StrictBool | None = None
    beregnetMedAvtaltRentesats: Beloep | None = None

    @model_validator(mode="after")
    def _choice(self) -> Rentekrav:
        _valg(self, ("beregnetMedForsinkelsesrente", "beregnetMedAvtaltRentesats"), optional=True)
        return self


class Renteopplysninger(_Model):
    harForsinkelsesrente: StrictBool | None = None
    avtaltRentesats: Beloep | None = None
    prioritetISakFremtidigRentekrav: Prioritet | None = None

    @model_validator(mode="after")
    def _choice(self) -> Renteopplysninger:
        _valg(self, ("harForsinkelsesrente", "avtaltRentesats"))
        return self


class Kravforfall(_Model):
    forfallsdato: Dato


class Betalingsoppfordring(_Model):
    brevdato: Dato
    betalingsfrist: Dato
    betalingsoppfordring: Vedlegg


class TilleggsfristForeldelse(_Model):
    dato: Dato | None = None
    grunnlag: Annotated[Tekst, _code("TilleggsfristForeldelseGrunnlag")]
    begrunnelse: Tekst


class Innbetaling(_Model):
    bokfoertDato: Dato
    beloep: BeloepValuta


class KravEndring(_Model):
    nedjusteringAvInnsender: BeloepValuta
    dato: Dato


class Transporterklaering(_Model):
    dato: Dato
    beloep: BeloepValuta | None = None
    transportertFra: Partsidentifikator | None = None
    transportertTil: Partsidentifikator | None = None
    transporterklaering: Vedlegg


class Krav(_Model):
    # KravdetaljerUtleggsbegjaering is an external code list we could not retrieve:
    # any text is accepted, the known values drive the claim rules (docs/rules.md).
    kravdetaljer: Tekst
    kravbeskrivelse: Tekst | None = None
    prioritetISak: Prioritet | None = None
    prioritetDekningsloven: Annotated[Tekst, _code("BokstavDekningsloven")]
    innsendersKravreferanse: Tekst
    kravgrunnlagsidentifikator: Tekst | None = None
    relatertKrav: list[Tekst] | None = None
    opprinneligBeloep: BeloepValuta
    gjenstaaendeBeloep: BeloepValuta
    sisteFristavbrytendeTiltak: Tekst | None = None
    rentekrav: Rentekrav | None = None
    rentebaerendeKrav: Renteopplysninger | None = None
    kravforfall: Kravforfall | None = None  # 0..1 from 1.1; which claims need it is a rule
    betalingsoppfordring: list[Betalingsoppfordring] | None = None
    tilleggsfristForeldelse: list[TilleggsfristForeldelse] | None = None
    innbetaling: list[Innbetaling] | None = None
    kravEndring: list[KravEndring] | None = None
    transporterklaering: list[Transporterklaering] | None = None


class AlternativElektroniskKanal(_Model):
    kanalForMeddelelse: Tekst
    akseptKanalvalg: Vedlegg


class Varsel(_Model):
    """Tvangskraftgrunnlag in 1.1, renamed Varsel in 2.0 (no JSON impact)."""

    dato: Dato
    type: Annotated[Tekst, _code("VarselType")] | None = None  # required before 2.1
    tvangskraftgrunnlag: Vedlegg
    forsendelsemaateType: Annotated[Tekst, _code("ForsendelsesmaateType")] | None = None
    alternativElektroniskForsendelsesmaate: AlternativElektroniskKanal | None = None  # 2.0


class Forsendelsesmaate(_Model):
    forsendelsesmaate: Annotated[Tekst, _code("ForsendelsesmaateType")] | None = None
    alternativElektroniskForsendelsesmaate: AlternativElektroniskKanal | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Forsendelsesmaate:
        # The diagram makes this a choice, but both official 1.0 examples send both
        # alternatives: we require at least one and accept both (docs/rules.md).
        if _count(self, ("forsendelsesmaate", "alternativElektroniskForsendelsesmaate")) == 0:
            raise PydanticCustomError(
                "valg",
                "forsendelsesmaate eller alternativElektroniskForsendelsesmaate skal oppgis",
            )
        return self


class MottakeradresseInnland(_Model):
    adressetekst: Tekster | None = None
    poststedsnavn: Tekst | None = None
    kommunenummer: Tekst | None = None
    postnummer: Tekst | None = None


class SkriftligMeddelelse(_Model):
    kravetsGrunnlag: Tekst | None = None  # required before 2.1
    faktiskeForholdForKravet: Tekst
    paastand: Tekst | None = None  # PAASTAND_PAAKREVET
    kanBehandlesIForliksraadet: StrictBool | None = None  # KAN_BEHANDLES_I_..._PAAKREVET
    krevesFravaersdom: StrictBool
    forsendelsesmaate: Forsendelsesmaate
    # The examples put the «valg» Mottakeradresse directly here, without a wrapper.
    mottakeradresseInnland: MottakeradresseInnland | None = None
    mottakeradresseUtland: AdresseUtland | None = None

    @model_validator(mode="after")
    def _choice(self) -> SkriftligMeddelelse:
        _valg(self, ("mottakeradresseInnland", "mottakeradresseUtland"), optional=True)
        return self


class TvangsmulktEllerLovbestemmelse(_Model):
    type: Annotated[Tekst, _code("TvangsmulktLovbestemmelseType")]
    juridiskGrunnlag: Tekst | None = None
    vedtakendeMyndighet: Tekst | None = None


class Gjeldsbrev(_Model):
    skyldnererklaering: StrictBool
    inndrivelsesklausul: StrictBool | None = None  # required before 2.1
    vitne: list[Partsidentifikator] | None = None


class ElektroniskGjeldserklaering(_Model):
    skyldnererklaering: StrictBool
    inndrivelsesklausul: StrictBool | None = None  # required before 2.1


class SjekkEllerVeksel(_Model):
    sjekk: StrictBool | None = None
    veksel: StrictBool | None = None

    @model_validator(mode="after")
    def _choice(self) -> SjekkEllerVeksel:
        _valg(self, ("sjekk", "veksel"))
        return self


_SAERLIG_VALG = (
    "tvangsmulktEllerLovbestemmelse",
    "skriftligMeddelelse",
    "gjeldsbrev",
    "elektroniskGjeldserklaering",
    "sjekkEllerVeksel",
)


class SaerligTvangsgrunnlag(_Model):
    paalydendeBeloep: Beloep | None = None  # 1.0 only (removed in 1.1)
    # Optional since 2.1 (required before, see _versions); when given, not empty.
    skyldner: list[Partsidentifikator] | None = Field(default=None, min_length=1)
    kreditor: list[Partsidentifikator] | None = Field(default=None, min_length=1)
    tvangsmulktEllerLovbestemmelse: TvangsmulktEllerLovbestemmelse | None = None
    skriftligMeddelelse: SkriftligMeddelelse | None = None
    gjeldsbrev: Gjeldsbrev | None = None
    elektroniskGjeldserklaering: ElektroniskGjeldserklaering | None = None
    sjekkEllerVeksel: SjekkEllerVeksel | None = None

    @model_validator(mode="after")
    def _choice(self) -> SaerligTvangsgrunnlag:
        _valg(self, _SAERLIG_VALG)
        return self


class DomsslutningInformasjon(_Model):
    beloepSlutningGenerell: BeloepValuta | None = None  # 1.0 only
    beloepSlutningSaksomkostninger: BeloepValuta | None = None  # 1.0 only
    oppfyllelsesfrist: Dato
    forkynnelsesdato: Dato | None = None
    # Optional since 2.1 (required before, see _versions); when given, not empty.
    forpliktet: list[Partsidentifikator] | None = Field(default=None, min_length=1)
    berettiget: list[Partsidentifikator] | None = Field(default=None, min_length=1)


class AlminneligTvangsgrunnlag(_Model):
    type: Annotated[Tekst, _code("AlminneligTvangsgrunnlagType")]
    domsslutningInformasjon: list[DomsslutningInformasjon] | None = None


class BegjaeringensTvangsgrunnlag(_Model):
    betegnelseAvTvangsgrunnlag: Tekst
    tvangsgrunnlagsdato: Dato
    innsendersKravreferanse: list[Tekst] = Field(min_length=1)
    eksternSaksreferanse: Tekst | None = None  # required in 1.1 (see _versions)
    varsel: list[Varsel] | None = None
    begrunnelseUnnlatVarsel: Annotated[Tekst, _code("BegrunnelseUnnlatVarselType")] | None = None
    tvangsgrunnlag: Vedlegg
    alminneligTvangsgrunnlag: AlminneligTvangsgrunnlag | None = None
    saerligTvangsgrunnlag: SaerligTvangsgrunnlag | None = None

    @model_validator(mode="after")
    def _choice(self) -> BegjaeringensTvangsgrunnlag:
        _valg(self, ("alminneligTvangsgrunnlag", "saerligTvangsgrunnlag"))
        return self


class Begjaering(_Model):
    """Utleggsbegjæring («rotEntitetstype»)."""

    innsenderReferanse: Tekst | None = None
    tvangsfullbyrdelsestype: Annotated[Tekst, _code("Tvangsfullbyrdelsestype")]
    begjaeringsdato: Dato
    saksreferanse: Tekst | None = None  # 1.0 only (removed in 1.1)
    berOmInnkallingTilMoeteMedBegrunnelse: Tekst | None = None
    berOmUnnlattForeleggelseMedBegrunnelse: Tekst | None = None
    spesiellUtleggsgjenstand: list[Tekst] | None = None
    vedlegg: list[Vedlegg] | None = None
    underskrift: Tekst
    saksoeker: list[Saksoeker] = Field(min_length=1)
    innsender: Innsender | None = None  # INNSENDER_MANGLER
    saksoekt: list[Saksoekt] = Field(min_length=1)
    kravTilInnkreving: list[Krav] | None = None  # MANGLER_KRAV
    begjaeringensTvangsgrunnlag: list[BegjaeringensTvangsgrunnlag] = Field(min_length=1)
    kreverRettsgebyrErstattet: KreverRettsgebyrErstattet | None = None
    kreverFritakRettsgebyr: KreverFritakRettsgebyr | None = None
    betalingsinformasjon: Betalingsinformasjon
    valgtNamsmannsdistrikt: ValgtNamsmannsdistrikt | None = None

    def to_json(self) -> dict[str, Any]:
        """The API JSON: exact property names, absent optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
