"""Everything that differs between model versions, declared in this one place.

The pydantic classes in `_types.py` describe the union of the versions (plus the 1.0
fields the 1.1 change log removed, so old payloads still parse). What a given version
allows is read from `SPECS[version]`: its code lists, the fields it does not know, the
fields it requires beyond the union, and which of the server's rules it runs. Nothing
else in the package branches on the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from utlegg_gateway.config import ModelVersion

__all__ = [
    "CODE_LIST_NAMES",
    "SPECS",
    "SUPPORTED_VERSIONS",
    "VersionSpec",
    "rule_active",
]

SUPPORTED_VERSIONS: tuple[ModelVersion, ...] = ("1.1", "2.0")

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
    "2.0": _REMOVED_IN_1_1,
}

# Fields required in a version although the union model has them optional.
_REQUIRED: dict[ModelVersion, frozenset[str]] = {
    # 2.0 change log item 1 made eksternSaksreferanse optional ("for fremtidig bruk").
    "1.1": frozenset({"/begjaeringensTvangsgrunnlag/*/eksternSaksreferanse"}),
    # The 1.1 change log says forsendelsemaateType "will be required in the next
    # version", but the 2.0 change log does not make it so: we keep it optional.
    "2.0": frozenset(),
}

# Which "since" tags of the rule catalogue a version runs (api-notes §3.4). The rules
# added in Feb 2026 (KRAV_MANGLER_FORFALLSDATO, KRAV_OPPGIS_UTEN_FORFALLSDATO) belong to
# 2.0 here: the official 1.1 examples break them and must stay clean under 1.1.
_RULE_SINCE: dict[ModelVersion, frozenset[str]] = {
    "1.1": frozenset({"0.9", "1.0", "own"}),
    "2.0": frozenset({"0.9", "1.0", "Feb26", "2.0", "own"}),
}


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """What one model version allows."""

    version: ModelVersion
    code_lists: Mapping[str, frozenset[str]]
    not_in_version: frozenset[str]
    required: frozenset[str]
    rule_since: frozenset[str]


SPECS: dict[ModelVersion, VersionSpec] = {
    v: VersionSpec(
        version=v,
        code_lists=_CODES[v],
        not_in_version=_NOT_IN[v],
        required=_REQUIRED[v],
        rule_since=_RULE_SINCE[v],
    )
    for v in SUPPORTED_VERSIONS
}


def rule_active(since: str, version: ModelVersion) -> bool:
    """True when a rule first documented in `since` is run under `version`."""
    return since in SPECS[version].rule_since
