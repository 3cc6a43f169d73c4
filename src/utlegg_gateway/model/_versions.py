"""Everything that differs between model versions, declared in this one place.

The pydantic classes in `_types.py` describe the union of the versions (plus the 1.0
fields the 1.1 change log removed, so old payloads still parse). What a given version
allows is read from `SPECS[version]`: its code lists, the fields it does not know, the
fields it requires beyond the union, and which of the server's rules it runs. Nothing
else in the package branches on the version.

A new version (3.0, say) is a new entry here, made with `declare_version`: the
configuration, the CLI choices, the sandbox and prøving read the versions from `SPECS`.
`ModelVersion` is therefore plain text, checked against `SPECS` where it enters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CODE_LIST_NAMES",
    "DEFAULT_MODEL_VERSION",
    "SPECS",
    "SUPPORTED_VERSIONS",
    "ModelVersion",
    "VersionSpec",
    "declare_version",
    "known_version",
    "rule_active",
]

# A key of SPECS ("1.1", "2.0", "2.1"); text, so a new version needs no new type.
ModelVersion = str

SUPPORTED_VERSIONS: tuple[ModelVersion, ...] = ("1.1", "2.0", "2.1")
# The newest published model (AD-2.1, 2026-05-26): what a new configuration gets.
DEFAULT_MODEL_VERSION: ModelVersion = "2.1"

# Code lists that are the same in 1.1 and 2.0 (api-notes §2.7).
_COMMON: dict[str, frozenset[str]] = {
    "Tvangsfullbyrdelsestype": frozenset({"utlegg", "utleggOgForliksklageKombinert"}),
    "VedleggType": frozenset(
        {
            "betalingsoppfordring",
            "fullmakt",
            "transporterklæring",
            "tvangsgrunnlag",
            "tvangskraftgrunnlag",
            "annet",
        }
    ),
    "VirksomhetsType": frozenset(
        {"inkassovirksomhet", "advokatfirma", "rettshjelper", "annet", "kommune"}
    ),
    "AdresseType": frozenset(
        {"ukjentBosted", "postadresse", "bopelsadresse", "forretningsadresse", "postboks"}
    ),
    "BokstavDekningsloven": frozenset({"a", "b", "c", "d", "e"}),
    "TilleggsfristForeldelseGrunnlag": frozenset(
        {
            "uvitenhet",
            "lovmessigeHindringer",
            "skyldnerIUtlandet",
            "kravMotVerge",
            "kravOmInnskuddISelskap",
            "proklama",
        }
    ),
    "AlminneligTvangsgrunnlagType": frozenset(
        {
            "domEllerKjennelse",
            "avgjørelseSomHarVirkningSomDom",
            "forelegg",
            "voldgiftsdom",
            "avgjørelseAvUtenlandskDomstolKonvensjon",
            "avgjørelseAvUtenlandskDomstol",
            "avgjørelseAvInternasjonalDomstol",
            "rettsforlik",
        }
    ),
    "TvangsmulktLovbestemmelseType": frozenset({"tvangsmulkt", "lovbestemmelse"}),
    "ÅrsakTilFritakRettsgebyr": frozenset(
        {
            "rettsgebyrloven§14FørsteLeddAndrePunktum",
            "rettsgebyrloven§14FørsteLeddTredjePunktum",
        }
    ),
    # Transcribed from the 1.0 figure (api-notes §2.7); the text must match exactly.
    "Namsmannsdistrikt": frozenset(
        {
            "Namsfogden i Oslo, Asker og Bærum",
            "Namsfogden i Øst",
            "Namsfogden i Innlandet",
            "Namsfogden i Sør-Øst",
            "Namsfogden i Agder",
            "Egersund politistasjonsdistrikt",
            "Etne og Vindafjord politistasjonsdistrikt",
            "Haugesund politistasjonsdistrikt",
            "Jæren politistasjonsdistrikt",
            "Karmøy politistasjonsdistrikt",
            "Namsfogden i Stavanger og Sandnes",
            "Sauda og Suldal politistasjonsdistrikt",
            "Stord politistasjonsdistrikt",
            "Søre Ryfylke politistasjonsdistrikt",
            "Bjørnafjorden og Austevoll politistasjonsdistrikt",
            "Hardanger politistasjonsdistrikt",
            "Kvam, Samnanger og Tysnes politistasjonsdistrikt",
            "Kvinnherad politistasjonsdistrikt",
            "Namsfogden i Bergen",
            "Nordfjord politistasjonsdistrikt",
            "Nordhordland politistasjonsdistrikt",
            "Sogn politistasjonsdistrikt",
            "Sunnfjord politistasjonsdistrikt",
            "Voss politistasjonsdistrikt",
            "Indre Sunnmøre politistasjonsdistrikt",
            "Kristiansund politistasjonsdistrikt",
            "Molde politistasjonsdistrikt",
            "Namsfogden i Ålesund",
            "Namsfogden i Trøndelag",
            "Namsfogden i Nordland",
            "Namsfogden i Troms",
            "Namsfogden i Finnmark",
            "Sysselmesteren på Svalbard",
        }
    ),
}

_VARSEL_TYPES_2_0 = frozenset({"varselTvfbl418", "varselTvfbl419"})
_UNNLAT_2_0 = frozenset({"ingenMulighetForVarsling", "fullbyrdelsenKanBliVanskeliggjort"})
_FORSENDELSE_2_0 = frozenset(
    {"altinn", "digipost", "alminneligPostMenIRetur", "alminneligPost", "eBoks", "eFaktura"}
)

_CODES: dict[ModelVersion, dict[str, frozenset[str]]] = {
    "1.1": {
        **_COMMON,
        "VarselType": _VARSEL_TYPES_2_0
        | {"oppfyllelsesfrist", "erklærtTvangskraftig", "vedtattForelegg", "inkassovarsel"},
        "BegrunnelseUnnlatVarselType": _UNNLAT_2_0
        | {
            "ukjentOppholdsstedSakssøkt",
            "ukjentFullmektigMedKjentOppholdssted",
            "ukjentElektroniskKontaktinformasjon",
        },
        "ForsendelsesmaateType": _FORSENDELSE_2_0 | {"ebox", "epost"},
    },
    # 2.0 change log items 2-4: the codes 1.1 announced as going are gone.
    "2.0": {
        **_COMMON,
        "VarselType": _VARSEL_TYPES_2_0,
        "BegrunnelseUnnlatVarselType": _UNNLAT_2_0,
        "ForsendelsesmaateType": _FORSENDELSE_2_0,
    },
}
# The 2.1 change log changes no code list.
_CODES["2.1"] = _CODES["2.0"]

CODE_LIST_NAMES: frozenset[str] = frozenset(_CODES["1.1"]) | frozenset(_CODES["2.0"])

# JSON pointer patterns ("*" = any list index) of fields a version does not have.
# The 1.0-only fields are removed by the 1.1 change log (items 1-4); the model still
# parses them so 1.0 payloads can be read and reported instead of refused wholesale.
_REMOVED_IN_1_1 = frozenset(
    {
        "/saksreferanse",
        "/begjaeringensTvangsgrunnlag/*/saerligTvangsgrunnlag/paalydendeBeloep",
        "/begjaeringensTvangsgrunnlag/*/alminneligTvangsgrunnlag/domsslutningInformasjon/*"
        "/beloepSlutningGenerell",
        "/begjaeringensTvangsgrunnlag/*/alminneligTvangsgrunnlag/domsslutningInformasjon/*"
        "/beloepSlutningSaksomkostninger",
    }
)

_NOT_IN: dict[ModelVersion, frozenset[str]] = {
    # 2.0 change log item 6: the alternative channel under varsel is new in 2.0.
    "1.1": _REMOVED_IN_1_1
    | {"/begjaeringensTvangsgrunnlag/*/varsel/*/alternativElektroniskForsendelsesmaate"},
    "2.0": _REMOVED_IN_1_1 | {"/kreverRettsgebyrErstattet/kreverRenterAvRettsgebyr"},
    # 2.1 change log: kreverRenterAvRettsgebyr is new under KreverRettsgebyrErstattet.
    "2.1": _REMOVED_IN_1_1,
}
_NOT_IN["1.1"] = _NOT_IN["1.1"] | {"/kreverRettsgebyrErstattet/kreverRenterAvRettsgebyr"}

_TG = "/begjaeringensTvangsgrunnlag/*"
_SAERLIG = _TG + "/saerligTvangsgrunnlag"
_DOMSSLUTNING = _TG + "/alminneligTvangsgrunnlag/domsslutningInformasjon/*"
# Every Aktoer of the begjæring; a Virksomhet stands under one, directly or as the
# owner of a person's enkeltpersonforetak.
_AKTOERER = (
    "/saksoeker/*/saksoeker",
    "/saksoeker/*/saksoekersProsessfullmektig/prosessfullmektig",
    "/saksoekt/*/saksoekt",
    "/saksoekt/*/saksoektesProsessfullmektig/prosessfullmektig",
    "/innsender/innsender",
    "/innsender/innsendersProsessfullmektig/prosessfullmektig",
)
_VIRKSOMHET = tuple(
    v for a in _AKTOERER for v in (a + "/virksomhet", a + "/person/innehaverEnkeltpersonforetak/*")
)

# Fields the union model has optional because 2.1 made them so (2.1 change log), but
# which 1.1 and 2.0 require.
_OPTIONAL_IN_2_1 = frozenset(
    {
        *(v + "/virksomhetstype" for v in _VIRKSOMHET),
        _TG + "/varsel/*/type",
        _DOMSSLUTNING + "/forpliktet",
        _DOMSSLUTNING + "/berettiget",
        _SAERLIG + "/skyldner",
        _SAERLIG + "/kreditor",
        _SAERLIG + "/skriftligMeddelelse/kravetsGrunnlag",
        _SAERLIG + "/gjeldsbrev/inndrivelsesklausul",
        _SAERLIG + "/elektroniskGjeldserklaering/inndrivelsesklausul",
    }
)

# 2.1 change log: optional and "planlagt fjernet helt fra modellen i neste versjon".
# The value is the replacement where the documentation names one, else "".
_DEPRECATED_2_1: dict[str, str] = {
    _TG + "/eksternSaksreferanse": "",
    _TG + "/varsel/*/type": "",
    _DOMSSLUTNING + "/forkynnelsesdato": "",
    _DOMSSLUTNING + "/forpliktet": "saksoekt",
    _DOMSSLUTNING + "/berettiget": "saksoeker",
    _SAERLIG + "/skyldner": "saksoekt",
    _SAERLIG + "/kreditor": "saksoeker",
    _SAERLIG + "/tvangsmulktEllerLovbestemmelse/vedtakendeMyndighet": "",
    _SAERLIG + "/skriftligMeddelelse/kravetsGrunnlag": "",
    _SAERLIG + "/gjeldsbrev/vitne": "",
    # The change log names only this one; the model guide says the Gjeldsbrev one
    # "vil bli fjernet i neste versjon" too.
    _SAERLIG + "/elektroniskGjeldserklaering/inndrivelsesklausul": "",
    _SAERLIG + "/gjeldsbrev/inndrivelsesklausul": "",
    "/kravTilInnkreving/*/rentekrav": "",
    # "Dette feltet er vil fases ut"; 2.1 wants the agency as saksøkers fullmektig.
    "/innsender/innsendersProsessfullmektig": "saksoeker/*/saksoekersProsessfullmektig",
}

# Fields required in a version although the union model has them optional.
_REQUIRED: dict[ModelVersion, frozenset[str]] = {
    # 2.0 change log item 1 made eksternSaksreferanse optional ("for fremtidig bruk").
    "1.1": frozenset({"/begjaeringensTvangsgrunnlag/*/eksternSaksreferanse"}),
    # The 1.1 change log says forsendelsemaateType "will be required in the next
    # version", but the 2.0 change log does not make it so: we keep it optional.
    "2.0": _OPTIONAL_IN_2_1,
    "2.1": frozenset(),
}
_REQUIRED["1.1"] = _REQUIRED["1.1"] | _OPTIONAL_IN_2_1

_DEPRECATED: dict[ModelVersion, Mapping[str, str]] = {
    "1.1": {},
    "2.0": {},
    "2.1": _DEPRECATED_2_1,
}

# Which "since" tags of the rule catalogue a version runs (api-notes §3.4). The rules
# added in Feb 2026 (KRAV_MANGLER_FORFALLSDATO, KRAV_OPPGIS_UTEN_FORFALLSDATO) belong to
# 2.0 here: the official 1.1 examples break them and must stay clean under 1.1.
_RULE_SINCE: dict[ModelVersion, frozenset[str]] = {
    "1.1": frozenset({"0.9", "1.0", "own"}),
    "2.0": frozenset({"0.9", "1.0", "Feb26", "2.0", "own"}),
    # The 72 rules of AD-2.1 are those of 2.0 (same names and texts).
    "2.1": frozenset({"0.9", "1.0", "Feb26", "2.0", "own"}),
}


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """What one model version allows."""

    version: ModelVersion
    code_lists: Mapping[str, frozenset[str]]
    not_in_version: frozenset[str]
    required: frozenset[str]
    rule_since: frozenset[str]
    # Pattern -> replacement ("" when none is named): accepted, reported as a warning.
    deprecated: Mapping[str, str] = field(default_factory=dict)


SPECS: dict[ModelVersion, VersionSpec] = {
    v: VersionSpec(
        version=v,
        code_lists=_CODES[v],
        not_in_version=_NOT_IN[v],
        required=_REQUIRED[v],
        rule_since=_RULE_SINCE[v],
        deprecated=_DEPRECATED[v],
    )
    for v in SUPPORTED_VERSIONS
}


def declare_version(spec: VersionSpec) -> VersionSpec:
    """Make `spec.version` known everywhere (config, CLI, sandbox, prøving)."""
    SPECS[spec.version] = spec
    return spec


def known_version(value: str) -> str:
    """`value` when it is a declared model version; ValueError naming the known ones."""
    if value not in SPECS:
        raise ValueError(f"unknown model version {value!r} (known: {', '.join(sorted(SPECS))})")
    return value


def rule_active(since: str, version: ModelVersion) -> bool:
    """True when a rule first documented in `since` is run under `version`."""
    return since in SPECS[version].rule_since
