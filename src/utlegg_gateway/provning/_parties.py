"""Rules on parties, addresses, identifiers, payment information and changes (endring)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from utlegg_gateway._logging import mask_identifier
from utlegg_gateway.model import identifiers as ids
from utlegg_gateway.model.pointer import pointer
from utlegg_gateway.provning._emit import (
    Emitter,
    actor_id,
    arr,
    describe_actor,
    identity,
    is_object,
    obj,
    text,
)

__all__ = ["check_changes", "check_identifiers", "check_parties", "check_payment"]


def _actors(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Aktør in the begjæring with its pointer."""
    for role, pf in (
        ("saksoeker", "saksoekersProsessfullmektig"),
        ("saksoekt", "saksoektesProsessfullmektig"),
    ):
        for i, raw in enumerate(arr(doc.get(role))):
            party = obj(raw)
            if isinstance(party.get(role), Mapping):
                yield pointer(role, i, role), party[role]
            actor = obj(obj(party.get(pf)).get("prosessfullmektig"))
            if actor:
                yield pointer(role, i, pf, "prosessfullmektig"), actor
    innsender = obj(doc.get("innsender"))
    if isinstance(innsender.get("innsender"), Mapping):
        yield "/innsender/innsender", innsender["innsender"]
    actor = obj(obj(innsender.get("innsendersProsessfullmektig")).get("prosessfullmektig"))
    if actor:
        yield "/innsender/innsendersProsessfullmektig/prosessfullmektig", actor


def _representatives(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for role, pf in (
        ("saksoeker", "saksoekersProsessfullmektig"),
        ("saksoekt", "saksoektesProsessfullmektig"),
    ):
        for i, party in enumerate(arr(doc.get(role))):
            rep = obj(obj(party).get(pf))
            if rep:
                yield pointer(role, i, pf), rep
    rep = obj(obj(doc.get("innsender")).get("innsendersProsessfullmektig"))
    if rep:
        yield "/innsender/innsendersProsessfullmektig", rep


def _kind(actor: Mapping[str, Any]) -> str:
    for kind in ("virksomhet", "person", "sammenslutning"):
        if is_object(actor.get(kind)):
            return kind
    return ""


def _full_name(actor: Mapping[str, Any]) -> bool:
    kind = _kind(actor)
    if kind == "person":
        navn = obj(obj(actor["person"]).get("personnavn"))
        return bool(text(navn.get("fornavn")) and text(navn.get("etternavn")))
    return bool(kind and text(obj(actor[kind]).get("navn")))


def _has_address(actor: Mapping[str, Any]) -> bool:
    return any(isinstance(a, Mapping) for a in arr(actor.get("adresse")))


def _identified(actor: Mapping[str, Any], *, saksoekt: bool) -> bool:
    kind = _kind(actor)
    has_id = actor_id(actor) is not None
    if kind == "person":
        person = obj(actor["person"])
        named = _full_name(actor)
        born = person.get("foedselsdato") is not None
        if saksoekt:
            return named and (has_id or (born and _has_address(actor)))
        return named and (has_id or born)
    if not kind:
        return False
    named = _full_name(actor)
    if saksoekt:
        return named and has_id
    return named and (has_id or _has_address(actor))


_ADDRESS_RULES = {
    "saksoeker": ("SAKSOEKERS_INNENLANDS_ADRESSE_UGYLDIG", "SAKSOEKERS_UTENLANDS_ADRESSE_UGYLDIG"),
    "saksoekt": ("SAKSØKTES_INNENLANDS_ADRESSE_UGYLDIG", "SAKSØKTES_UTENLANDS_ADRESSE_UGYLDIG"),
}


def check_parties(doc: Mapping[str, Any], em: Emitter) -> None:
    """Identification, duplicates, addresses, innsender and representatives."""
    keys: dict[str, set[tuple[str, ...]]] = {"saksoeker": set(), "saksoekt": set()}
    for role in ("saksoeker", "saksoekt"):
        placeholder = "saksøker" if role == "saksoeker" else "saksøkt"
        innland, utland = _ADDRESS_RULES[role]
        for i, party in enumerate(arr(doc.get(role))):
            actor = obj(obj(party).get(role))
            where = pointer(role, i, role)
            if not actor:
                continue
            label = describe_actor(actor)
            if not _identified(actor, saksoekt=role == "saksoekt"):
                rule = (
                    "MANGLER_OPPLYSNINGER_OM_SAKSOEKT"
                    if role == "saksoekt"
                    else ("MANGLER_OPPLYSNINGER_OM_SAKSOEKER")
                )
                em.add(rule, where, **{placeholder: label})
            key = identity(actor)
            if key is not None:
                if key in keys[role]:
                    dup = "DUPLIKAT_SAKSOEKT" if role == "saksoekt" else "DUPLIKAT_SAKSOEKER"
                    em.add(dup, pointer(role, i))
                elif role == "saksoekt" and key in keys["saksoeker"]:
                    em.add("SAMME_SAKSOEKT_SOM_SAKSOEKER", pointer(role, i))
                keys[role].add(key)
            for k, raw_adresse in enumerate(arr(actor.get("adresse"))):
                adresse = obj(raw_adresse)
                inn, ut = obj(adresse.get("adresseInnland")), obj(adresse.get("adresseUtland"))
                if "adresseInnland" in adresse and not (
                    text(inn.get("adressetekst")) and text(inn.get("postnummer"))
                ):
                    em.add(innland, f"{where}/adresse/{k}/adresseInnland", **{placeholder: label})
                if "adresseUtland" in adresse and not (
                    text(ut.get("poststedUtland")) and text(ut.get("landkode"))
                ):
                    em.add(utland, f"{where}/adresse/{k}/adresseUtland", **{placeholder: label})
    for where, actor in _actors(doc):
        types: set[str] = set()
        for k, adresse in enumerate(arr(actor.get("adresse"))):
            kind = obj(adresse).get("adressetype")
            if isinstance(kind, str):
                if kind in types:
                    # The server's text lists the types, the first written as a
                    # placeholder (%ukjentBosted): fill it with its own name.
                    em.add(
                        "MAKS_EN_ADRESSE_AV_HVER_TYPE",
                        f"{where}/adresse/{k}/adressetype",
                        ukjentBosted="ukjentBosted",
                    )
                types.add(kind)
    _innsender(doc, em)
    _representative_rules(doc, em)


def _innsender(doc: Mapping[str, Any], em: Emitter) -> None:
    actor = obj(obj(doc.get("innsender")).get("innsender"))
    if not actor:
        em.add("INNSENDER_MANGLER", "/innsender")
        return
    label = describe_actor(actor)
    if _kind(actor) == "person":
        em.add("INNSENDER_IKKE_ORGANISASJON", "/innsender/innsender/person", innsender=label)
        return
    orgnr = actor_id(actor)
    if orgnr is None:
        em.add("INNSENDER_IKKE_IDENTIFISERBAR", "/innsender/innsender", innsender=label)
        return
    wanted = em.ctx.authenticated_orgnr
    if wanted is not None and orgnr.replace(" ", "") != wanted:
        kind = _kind(actor)
        em.add(
            "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING",
            f"/innsender/innsender/{kind}/identifikator",
            innsenderOrgnr=orgnr,
            påloggetOrgnr=wanted,
        )


def _representative_rules(doc: Mapping[str, Any], em: Emitter) -> None:
    innsender = obj(doc.get("innsender"))
    agency = obj(obj(innsender.get("innsender")).get("virksomhet"))
    # 2.1 wants the agency as saksøkers prosessfullmektig too and phases the innsender's
    # out: either representative carries the bevillingshaver.
    represented = innsender.get("innsendersProsessfullmektig") or any(
        obj(s).get("saksoekersProsessfullmektig") for s in arr(doc.get("saksoeker"))
    )
    if agency.get("virksomhetstype") == "inkassovirksomhet" and not represented:
        # A collection agency sends innsender, innsendersProsessfullmektig and
        # bevillingshaver (AD-2.0 "Parter"): without the representative there is none.
        em.add(
            "MANGLER_OPPLYSNINGER_BEVILLINGSHAVER",
            "/innsender/innsendersProsessfullmektig",
            prosessfullmektig=describe_actor(obj(innsender.get("innsender"))),
        )
    for where, rep in _representatives(doc):
        actor = obj(rep.get("prosessfullmektig"))
        if not actor:
            continue
        label = describe_actor(actor)
        # "orgnummer eller navn og adresse": a representative given as an organisation
        # with an identifier passes (the simple 1.1 example); otherwise full name + address.
        if not (
            (_kind(actor) != "person" and actor_id(actor))
            or (_full_name(actor) and _has_address(actor))
        ):
            em.add(
                "MANGLER_OPPLYSNINGER_PROSESSFULLMEKTIG_PERSON",
                f"{where}/prosessfullmektig",
                prosessfullmektig=label,
            )
        virksomhet = obj(actor.get("virksomhet"))
        kind = virksomhet.get("virksomhetstype")
        # 2.1 made virksomhetstype optional: without it a representative is an agency
        # only when it names a bevillingshaver (whose name must then be complete).
        if kind != "inkassovirksomhet" and not (
            kind is None and virksomhet and "bevillingshaver" in rep
        ):
            continue
        navn = obj(obj(rep.get("bevillingshaver")).get("navn"))
        if not (text(navn.get("fornavn")) and text(navn.get("etternavn"))):
            em.add(
                "MANGLER_OPPLYSNINGER_BEVILLINGSHAVER",
                f"{where}/bevillingshaver",
                prosessfullmektig=label,
            )
        ident = obj(virksomhet.get("identifikator"))
        number = text(ident.get("taxIdentificationNumber"))
        id_where = f"{where}/prosessfullmektig/virksomhet/identifikator"
        reason = ids.check_orgnr(number, "test") if number else "mangler"
        if reason is not None:
            em.add(
                "UGYLDIG_ORGNR_PROSESSFULLMEKTIG",
                f"{id_where}/taxIdentificationNumber" if number else id_where,
                prosessfullmektig=label,
            )


def check_identifiers(doc: Mapping[str, Any], em: Emitter) -> None:
    """Every Norwegian taxIdentificationNumber: fnr/D-nummer (11) or orgnr (9)."""
    environment = em.ctx.environment

    def one(value: str, where: str) -> None:
        number = value.replace(" ", "")
        if len(number) == 11 and number.isdigit():
            masked = mask_identifier(number)
            reason = ids.check_person_number(number, environment)
            if reason == ids.SYNTHETIC:
                em.add("SYNTETISK_IDENTITET_I_PROD", where, identifikator=masked)
            elif reason is not None:
                em.add("UGYLDIG_FOEDSELSNUMMER", where, identifikator=masked, grunn=reason)
        elif len(number) == 9 and number.isdigit():
            reason = ids.check_orgnr(number, environment)
            if reason == ids.SYNTHETIC:
                em.add("SYNTETISK_IDENTITET_I_PROD", where, identifikator=number)
            elif reason is not None:
                em.add("UGYLDIG_ORGANISASJONSNUMMER", where, identifikator=number, grunn=reason)
        else:
            shown = mask_identifier(number) if len(number) > 4 else number
            em.add("UGYLDIG_IDENTIFIKATOR", where, identifikator=shown)

    for path, node in em.objects(doc):
        value = node.get("taxIdentificationNumber")
        if isinstance(value, str) and node.get("landkodeIdentifikator", "NO") == "NO":
            where = pointer(*path, "taxIdentificationNumber")
            if not em.reported(where):
                one(value, where)


def check_payment(doc: Mapping[str, Any], em: Emitter) -> None:
    """Account and KID."""
    info = obj(doc.get("betalingsinformasjon"))
    if not info:
        return
    konto = info.get("kontoinformasjon")
    if isinstance(konto, Mapping) and not any(text(v) for v in konto.values()):
        em.add("MANGELFULLE_KONTOOPPLYSNINGER", "/betalingsinformasjon/kontoinformasjon")
    kontonummer = text(obj(konto).get("kontonummer"))
    if kontonummer and info.get("norskKonto") is True:
        digits = kontonummer.replace(".", "").replace(" ", "")
        if ids.check_kontonummer(digits) is not None:
            em.add(
                "UGYLDIG_KONTONR",
                "/betalingsinformasjon/kontoinformasjon/kontonummer",
                kontonummer=mask_identifier(digits),
            )
    kid = text(info.get("kidnummer"))
    if kid and ids.check_kid(kid) is not None:
        em.add("UGYLDIG_KID", "/betalingsinformasjon/kidnummer", kidnummer=kid)


def _keys(doc: Mapping[str, Any], role: str) -> list[tuple[str, ...] | None]:
    return [identity(obj(obj(p).get(role))) for p in arr(doc.get(role))]


def check_changes(doc: Mapping[str, Any], previous: Mapping[str, Any], em: Emitter) -> None:
    """The change-only rules: what an endring may not alter."""
    for field, rule in (
        ("begjaeringsdato", "ULOVLIG_ENDRING_BEGJAERINGSDATO"),
        ("underskrift", "ULOVLIG_ENDRING_UNDERSKRIFT"),
    ):
        if doc.get(field) != previous.get(field):
            em.add(rule, f"/{field}")
    before = identity(obj(obj(previous.get("innsender")).get("innsender")))
    after = identity(obj(obj(doc.get("innsender")).get("innsender")))
    if before != after:
        em.add("ULOVLIG_ENDRING_INNSENDER", "/innsender")
    if sorted(map(str, _keys(doc, "saksoeker"))) != sorted(map(str, _keys(previous, "saksoeker"))):
        em.add("ULOVLIG_ENDRING_SAKSOEKER", "/saksoeker")
    known = set(_keys(previous, "saksoekt"))
    for i, key in enumerate(_keys(doc, "saksoekt")):
        if key not in known:
            em.add("ULOVLIG_ENDRING_SAKSOEKT", pointer("saksoekt", i))
