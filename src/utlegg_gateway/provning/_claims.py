"""Rules on claims (krav), their links to tvangsgrunnlag, priorities, amounts, vedlegg."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from utlegg_gateway.model.pointer import expand, pointer
from utlegg_gateway.provning._emit import Emitter, arr, as_date, obj, text

__all__ = ["check_amounts", "check_claims", "check_grunnlag", "check_vedlegg"]

# KravdetaljerUtleggsbegjaering is an external code list we could not retrieve. The
# five values the documentation names drive the rules; any other value is treated as
# a cost or fee ("gebyr/kostnad"), the only class left in the rules' wording.
HOVEDSTOL = "hovedkrav"
RENTE = "rentekrav"
NEEDS_FORFALL = frozenset(
    {"hovedkrav", "utenrettsligekostnader", "tidligererettsligesakskostnader"}
)
NO_FORFALL = frozenset({"sakskostnaderforskriving", "rentekrav"})


@dataclass(frozen=True, slots=True)
class _Claim:
    index: int
    ref: str | None
    kind: str  # kravdetaljer, case-folded
    data: Mapping[str, Any]

    @property
    def where(self) -> str:
        return pointer("kravTilInnkreving", self.index)


def _claims(doc: Mapping[str, Any]) -> list[_Claim]:
    return [
        _Claim(
            i, text(c.get("innsendersKravreferanse")), str(c.get("kravdetaljer", "")).casefold(), c
        )
        for i, c in enumerate(arr(doc.get("kravTilInnkreving")))
        if isinstance(c, Mapping)
    ]


def _grunnlag_of(doc: Mapping[str, Any]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for g, grunnlag in enumerate(arr(doc.get("begjaeringensTvangsgrunnlag"))):
        for ref in arr(obj(grunnlag).get("innsendersKravreferanse")):
            if isinstance(ref, str):
                out.setdefault(ref, set()).add(g)
    return out


def check_grunnlag(doc: Mapping[str, Any], em: Emitter) -> None:
    """Claim references from tvangsgrunnlag, notices, påstand, forliksråd."""
    claims = _claims(doc)
    if not claims:
        em.add("MANGLER_KRAV", "/kravTilInnkreving")
    refs = {c.ref for c in claims if c.ref}
    seen: dict[str, int] = {}
    for g, raw in enumerate(arr(doc.get("begjaeringensTvangsgrunnlag"))):
        grunnlag = obj(raw)
        base = pointer("begjaeringensTvangsgrunnlag", g)
        for k, ref in enumerate(arr(grunnlag.get("innsendersKravreferanse"))):
            where = f"{base}/innsendersKravreferanse/{k}"
            if not isinstance(ref, str):
                continue
            if ref not in refs:
                em.add("TVANGSGRUNNLAG_UGYLDIGE_KRAVREFERANSER", where, kravreferanse=ref)
            elif seen.get(ref, g) != g:
                em.add("KRAV_I_FLERE_TVANGSGRUNNLAG", where)
            seen.setdefault(ref, g)
        saerlig = obj(grunnlag.get("saerligTvangsgrunnlag"))
        if saerlig:
            # 2.1 deprecates Varsel.type: a varsel without one is the § 4-18 varsel the
            # rule asks for (before 2.1 the model already requires the type).
            has_418 = any(
                obj(v).get("type", "varselTvfbl418") == "varselTvfbl418"
                for v in arr(grunnlag.get("varsel"))
            )
            if not has_418 and not text(grunnlag.get("begrunnelseUnnlatVarsel")):
                em.add("PARAGRAF_4_18_VARSEL_PAAKREVET", f"{base}/varsel")
        melding = obj(saerlig.get("skriftligMeddelelse"))
        if melding:
            where = f"{base}/saerligTvangsgrunnlag/skriftligMeddelelse"
            # The field lives in SkriftligMeddelelse and the rule states no condition:
            # every written demand must say whether Forliksrådet may hear it.
            if not isinstance(melding.get("kanBehandlesIForliksraadet"), bool):
                em.add(
                    "KAN_BEHANDLES_I_FORLIKSRAADET_PAAKREVET", f"{where}/kanBehandlesIForliksraadet"
                )
            if doc.get("tvangsfullbyrdelsestype") == "utleggOgForliksklageKombinert" and not text(
                melding.get("paastand")
            ):
                em.add("PAASTAND_PAAKREVET", f"{where}/paastand")
    for claim in claims:
        if claim.ref and claim.ref not in seen:
            em.add(
                "KRAV_IKKE_BENYTTET",
                f"{claim.where}/innsendersKravreferanse",
                kravreferanse=claim.ref,
            )


def check_claims(doc: Mapping[str, Any], em: Emitter) -> None:
    """References between claims, interest, due dates, priorities, payments."""
    claims = _claims(doc)
    by_ref: dict[str, _Claim] = {}
    for claim in claims:
        if claim.ref is None:
            continue
        if claim.ref in by_ref:
            em.add(
                "KRAV_DUPLIKATE_REFERANSER",
                f"{claim.where}/innsendersKravreferanse",
                kravreferanse=claim.ref,
            )
        else:
            by_ref[claim.ref] = claim
    grunnlag = _grunnlag_of(doc)
    begjaeringsdato = as_date(doc.get("begjaeringsdato"))
    for claim in claims:
        _relations(claim, by_ref, grunnlag, em)
        _interest(claim, begjaeringsdato, em)
        _due_date(claim, em)
        for k, payment in enumerate(arr(claim.data.get("innbetaling"))):
            booked = as_date(obj(payment).get("bokfoertDato"))
            if booked is not None and booked > em.ctx.today:
                em.add("INNBETALING_FRAM_I_TID", f"{claim.where}/innbetaling/{k}/bokfoertDato")
    _priorities(doc, claims, em)


def _relations(
    claim: _Claim, by_ref: Mapping[str, _Claim], grunnlag: Mapping[str, set[int]], em: Emitter
) -> None:
    related = arr(claim.data.get("relatertKrav"))
    rel_where = f"{claim.where}/relatertKrav"
    if claim.kind == HOVEDSTOL and related:
        em.add("HOVEDSTOL_SKAL_IKKE_HA_ET_RELATERT_KRAV", rel_where)
    if claim.kind == RENTE:
        if not related:
            em.add("RENTE_MAA_HA_RELATERT_KRAV", rel_where)
        elif len(related) > 1:
            em.add("RENTEKRAV_KAN_BARE_RELATERES_TIL_ETT_KRAV", rel_where)
    elif claim.kind != HOVEDSTOL and not related:
        # The rule's title says "uriktig eller manglende relasjon til hovedstol".
        em.add("GEBYR_ELLER_SAKSKOSTNAD_HAR_ET_RELATERTKRAV_SOM_IKKE_ER_HOVEDSTOL", rel_where)
    for j, ref in enumerate(related):
        where = f"{rel_where}/{j}"
        if not isinstance(ref, str):
            continue
        if ref == claim.ref:
            em.add("RELATERTE_KRAV_KAN_IKKE_PEKE_PÅ_SEG_SELV", where)
            continue
        target = by_ref.get(ref)
        if target is None:
            em.add(
                "RELATERTE_KRAV_UGYLDIGE_KRAVREFERANSER",
                where,
                hovedkravRef=claim.ref or "",
                relatertKravRef=ref,
            )
            continue
        mine = grunnlag.get(claim.ref or "", set())
        if mine and not mine & grunnlag.get(ref, set()):
            em.add("RELATERTE_KRAV_MÅ_FINNES", where)
        if claim.kind == RENTE:
            if target.kind == RENTE:
                em.add("RENTEKRAV_KAN_IKKE_HA_RENTEKRAV", where)
            elif not isinstance(target.data.get("rentebaerendeKrav"), Mapping):
                em.add("RENTE_MAA_HA_RELATERT_KRAV", where)
        elif HOVEDSTOL not in (claim.kind, target.kind):
            em.add("GEBYR_ELLER_SAKSKOSTNAD_HAR_ET_RELATERTKRAV_SOM_IKKE_ER_HOVEDSTOL", where)


def _interest(claim: _Claim, begjaeringsdato: Any, em: Emitter) -> None:
    rentekrav = claim.data.get("rentekrav")
    if claim.kind == RENTE and claim.data.get("rentebaerendeKrav") is not None:
        em.add("RENTEKRAV_KAN_IKKE_HA_RENTEOPPLYSNINGER", f"{claim.where}/rentebaerendeKrav")
    if rentekrav is None:
        return
    if claim.kind != RENTE:
        em.add("RENTEKRAV_TILKNYTTET_IKKE_RENTEKRAV", f"{claim.where}/rentekrav")
    periode = obj(obj(rentekrav).get("rentePeriode"))
    start, end = as_date(periode.get("startdato")), as_date(periode.get("sluttdato"))
    if start is None:
        return
    if (end is not None and start >= end) or (
        begjaeringsdato is not None and start >= begjaeringsdato
    ):
        em.add(
            "RENTEKRAV_PERIODE_MAA_HA_GYLDIG_PERIODE",
            f"{claim.where}/rentekrav/rentePeriode",
            innsenderskravreferasnse=claim.ref or "",
        )


def _due_date(claim: _Claim, em: Emitter) -> None:
    has = claim.data.get("kravforfall") is not None
    where = f"{claim.where}/kravforfall"
    # The server's placeholder is called %forfallsdato but names the claim.
    label = f"krav {claim.ref}" if claim.ref else "kravet"
    if claim.kind in NEEDS_FORFALL and not has:
        em.add("KRAV_MANGLER_FORFALLSDATO", where, forfallsdato=label)
    if claim.kind in NO_FORFALL and has:
        em.add("KRAV_OPPGIS_UTEN_FORFALLSDATO", where, forfallsdato=label[:1].upper() + label[1:])


def _priorities(doc: Mapping[str, Any], claims: list[_Claim], em: Emitter) -> None:
    # "Prioritet" in these rules is prioritetISak (prioritetDekningsloven is always
    # required); set on one claim, it is required on every claim, on every
    # interest-bearing claim's future interest, and on a claimed court fee.
    if not any(c.data.get("prioritetISak") is not None for c in claims):
        return
    for claim in claims:
        if claim.data.get("prioritetISak") is None:
            em.add("PRIORITET_MANGLER", f"{claim.where}/prioritetISak")
        renter = claim.data.get("rentebaerendeKrav")
        if isinstance(renter, Mapping) and renter.get("prioritetISakFremtidigRentekrav") is None:
            em.add(
                "PRIORITET_MANGLER_PÅ_RENTEOPPLYSNINGER",
                f"{claim.where}/rentebaerendeKrav/prioritetISakFremtidigRentekrav",
            )
    gebyr = obj(doc.get("kreverRettsgebyrErstattet"))
    if (
        gebyr.get("kreverRettsgebyrErstattet") is True
        and gebyr.get("prioritetISakRettsgebyr") is None
    ):
        em.add(
            "PRIORITET_MANGLER_PÅ_RETTSGEBYR",
            "/kreverRettsgebyrErstattet/prioritetISakRettsgebyr",
        )


def _bad_decimal(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False  # a non-number is a model error, not this rule
    exponent = Decimal(repr(value)).as_tuple().exponent
    return value < 0 or (isinstance(exponent, int) and exponent < -2)


_AMOUNT_KEYS = frozenset({"beloep", "paalydendeBeloep"})
_RATE_KEYS = frozenset({"avtaltRentesats", "beregnetMedAvtaltRentesats"})
_DECIMAL_KEYS = _AMOUNT_KEYS | _RATE_KEYS


def check_amounts(doc: Mapping[str, Any], em: Emitter) -> None:
    """Amounts and interest rates: at most two decimals, not negative."""

    for path, node in em.objects(doc):
        if _DECIMAL_KEYS.isdisjoint(node):
            continue
        for key, value in node.items():
            if key in _AMOUNT_KEYS and _bad_decimal(value):
                em.add("UGYLDIG_BELOEP", pointer(*path, key), beløp=value)
            elif key in _RATE_KEYS and _bad_decimal(value):
                em.add("UGYLDIG_RENTE", pointer(*path, key), rentesats=value)


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PLACEHOLDER = re.compile(r"^<upload:[^<>]+>$")

# Where Vedlegg objects sit, and the type each must have (None: any type).
_TG = "/begjaeringensTvangsgrunnlag/*"
_FULLMAKT = ("fullmakt", "UGYLDIG_VEDLEGG_FULLMAKT")
_ANY: tuple[None, None] = (None, None)
_VEDLEGG: tuple[tuple[str, str | None, str | None], ...] = (
    ("/vedlegg/*", *_ANY),
    ("/saksoeker/*/saksoekersProsessfullmektig/fullmakt/fullmakt", *_FULLMAKT),
    ("/innsender/innsendersProsessfullmektig/fullmakt/fullmakt", *_FULLMAKT),
    ("/saksoekt/*/saksoektesProsessfullmektig/fullmakt/fullmakt", *_FULLMAKT),
    (
        "/kravTilInnkreving/*/betalingsoppfordring/*/betalingsoppfordring",
        "betalingsoppfordring",
        "UGYLDIG_VEDLEGG_BETALINGSOPPFORDRING",
    ),
    (
        "/kravTilInnkreving/*/transporterklaering/*/transporterklaering",
        "transporterklæring",
        "UGYLDIG_VEDLEGG_TRANSPORTERKLÆRING",
    ),
    (f"{_TG}/tvangsgrunnlag", "tvangsgrunnlag", "UGYLDIG_VEDLEGG_TVANGSGRUNNLAG"),
    (
        f"{_TG}/varsel/*/tvangskraftgrunnlag",
        "tvangskraftgrunnlag",
        "UGYLDIG_VEDLEGG_TVANGSKRAFTGRUNNLAG",
    ),
    (f"{_TG}/varsel/*/alternativElektroniskForsendelsesmaate/akseptKanalvalg", *_ANY),
    (
        f"{_TG}/saerligTvangsgrunnlag/skriftligMeddelelse/forsendelsesmaate"
        "/alternativElektroniskForsendelsesmaate/akseptKanalvalg",
        *_ANY,
    ),
)


def check_vedlegg(doc: Mapping[str, Any], em: Emitter) -> None:
    """Attachments: the right type where the model expects one, and a uuid."""
    for pattern, wanted, rule in _VEDLEGG:
        for where, parent, present in expand(doc, pattern):
            if not present:
                continue
            key = where.rsplit("/", 1)[-1]
            vedlegg = obj(parent[int(key)] if isinstance(parent, list) else parent.get(key))
            if not vedlegg:
                continue
            filnavn = text(vedlegg.get("filnavn")) or ""
            if rule and wanted and vedlegg.get("type") != wanted:
                # The tvangsgrunnlag message names its betegnelse, the others the file.
                betegnelse = text(obj(parent).get("betegnelseAvTvangsgrunnlag")) or filnavn
                em.add(rule, f"{where}/type", filnavn=filnavn, betegnelse=betegnelse)
            uid = vedlegg.get("uuid")
            if not text(uid):
                em.add("VEDLEGG_SKAL_HA_UUID", f"{where}/uuid", filnavn)
            elif (
                isinstance(uid, str)
                and not _UUID.match(uid)
                and not (em.ctx.allow_upload_placeholders and _PLACEHOLDER.match(uid))
            ):
                em.add("VEDLEGG_UGYLDIG_UUID", f"{where}/uuid", filnavn=filnavn, uuid=uid)
