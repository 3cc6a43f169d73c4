"""The rules only the server can decide, as pure functions of the payload and what it knows.

The local rules come from `provning.validate` (the same code the gateway runs); this adds
DUPLIKAT_INNSENDING, INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING, the VEDLEGG_* rules from
attachment states, SAKSOEKT_GAMMELT_REGELVERK and, for changes, UAVKLART_STATUS,
UGYLDIG_STATUS and ULOVLIG_ENDRING_*. Messages come from `provning.RULES` when it knows
the rule (its `%placeholder`s filled in), else from the fallback texts below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from utlegg_gateway import provning
from utlegg_gateway.model._versions import rule_active
from utlegg_gateway.provning import Finding, ProvingContext
from utlegg_gateway.sandbox.register import RegisterEntry, register_findings

__all__ = [
    "CHANGE_LOCKED_STATUSES",
    "EICAR",
    "UploadView",
    "attachment_refs",
    "attachment_state",
    "case_status",
    "classify_upload",
    "findings_for",
    "message",
    "timings_for",
]

# The EICAR anti-virus test string: any file containing it "has a virus".
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# Statuses in which a case can no longer be changed (UGYLDIG_STATUS).
CHANGE_LOCKED_STATUSES = frozenset({"sakBesluttet", "sakAvsluttet", "sakHevet", "sakNektetFremmet"})

_FALLBACK = {
    "DUPLIKAT_INNSENDING": "Det er allerede sendt inn en sak med begjæringsdato "
    "%begjæringsdato og innsenderReferanse %innsenderReferanse",
    "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING": "Innsenders organisasjonsnummer "
    "%innsenderOrgnr samsvarer ikke med pålogget organisasjon %påloggetOrgnr",
    "VEDLEGG_SKAL_HA_UUID": "Vedlegg mangler uuid",
    "VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN": "Vedlegg '%s' er lagret med referanse til "
    "en annen begjæring; last opp vedlegg pånytt med referanse til '%s'",
    "VEDLEGG_SKAL_VAERE_TILGJENGELIG": "Vedlegg '%s' med id '%s' finnes ikke, er slettet, "
    "kassert eller inneholder virus",
    "VEDLEGG_SKAL_IKKE_HA_FEILET": "Validering eller konvertering av vedlegg '%s' (%s) til "
    "PDF feilet; last opp vedlegget pånytt",
    "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT": "Vedlegg '%s' (%s) er ikke "
    "ferdig virussjekket, validert og konvertert; prøv igjen senere",
    "SAKSOEKT_GAMMELT_REGELVERK": "Saksøkt %identifikator skal behandles etter tidligere "
    "regelverk; send inn via ELSA",
    "UAVKLART_STATUS": "Tidligere innsendinger på sak %eksternSaksreferanse er ikke "
    "ferdig behandlet; prøv igjen senere",
    "UGYLDIG_STATUS": "Sak %eksternSaksreferanse har status %tilstand og kan ikke endres",
    "ULOVLIG_ENDRING_BEGJAERINGSDATO": "Begjæringsdato kan ikke endres",
    "ULOVLIG_ENDRING_INNSENDER": "Innsender kan ikke endres",
    "ULOVLIG_ENDRING_UNDERSKRIFT": "Underskrift kan ikke endres",
    "ULOVLIG_ENDRING_SAKSOEKER": "Saksøker kan ikke endres",
    "ULOVLIG_ENDRING_SAKSOEKT": "Ny saksøkt kan ikke behandles etter nytt regelverk; "
    "send korrigeringen på papir",
}


def message(rule: str, *args: object, **values: object) -> str:
    """The rule's message: named `%name` placeholders from `values`, positional `%s` from args."""
    info = provning.RULES.get(rule)
    formatter = getattr(info, "format", None)
    if callable(formatter):
        return str(formatter(*args, **values))
    text = info.message if info is not None else _FALLBACK.get(rule, rule)
    # Longest names first so `%innsenderReferanse` is not eaten by a shorter `%innsender`.
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(f"%{name}", str(values[name]))
    for arg in args:
        text = text.replace("%s", str(arg), 1)
    return text


@dataclass(frozen=True)
class UploadView:
    """What the rules need to know of an upload."""

    org: str
    innsender_referanse: str
    state: str  # scanning | ready | virus | failed


def attachment_state(outcome: str, received_at: float, now: float, scanning: float) -> str:
    """An upload is `scanning` until `scanning` seconds have passed, then its outcome."""
    return "scanning" if now < received_at + scanning else outcome


_CONVERTIBLE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
)


def classify_upload(content: bytes) -> str:
    """The state an upload ends in: `virus` (EICAR), `ready` (PDF or convertible), `failed`."""
    if EICAR in content:
        return "virus"
    if content.startswith(b"%PDF-"):
        return "ready"
    if content.startswith(_CONVERTIBLE_MAGIC):
        return "ready"
    # Plain text converts to PDF; anything else binary (zip, exe, random bytes) does not.
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "failed"
    return "ready" if text.strip() and "\x00" not in text else "failed"


def case_status(
    submitted_at: float,
    now: float,
    timings: tuple[tuple[str, float], ...],
    override: str | None = None,
) -> str:
    """A case's status on the sandbox clock: the last timing entry that is due."""
    if override:
        return override
    status = "sakOpprettet"
    for name, after in timings:
        if now >= submitted_at + after:
            status = name
    return status


def timings_for(
    innsender_referanse: str,
    timings: tuple[tuple[str, float], ...],
    outcomes: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, float], ...]:
    """The status path of one case: the default, or cut short by an outcome suffix."""
    for suffix, final in outcomes:
        if innsender_referanse.endswith(suffix) and len(timings) >= 2:
            return (timings[0], (final, timings[1][1]))
    return timings


def _walk(node: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, Mapping):
        for key, value in node.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            yield from _walk(value, f"{pointer}/{escaped}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{i}")


def attachment_refs(payload: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every Vedlegg object `{type, filnavn, uuid}` in the payload, with its JSON pointer."""
    return [
        (pointer, node)
        for pointer, node in _walk(payload, "")
        if isinstance(node, Mapping) and "filnavn" in node and ("uuid" in node or "type" in node)
    ]


def _get(payload: Any, *path: str | int) -> Any:
    node = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return None
        elif not isinstance(node, Mapping):
            return None
        node = node[step] if isinstance(step, int) else node.get(step)
    return node


def _party_id(entry: Any) -> tuple[str | None, str]:
    """(identifier, pointer suffix) of a party's person/virksomhet/sammenslutning."""
    for kind in ("person", "virksomhet", "sammenslutning"):
        ident = _get(entry, kind, "identifikator", "taxIdentificationNumber")
        if isinstance(ident, str):
            return ident, f"/{kind}/identifikator/taxIdentificationNumber"
    return None, ""


def _saksoekte(payload: Mapping[str, Any]) -> list[tuple[int, str | None, str]]:
    out = []
    for i, entry in enumerate(_get(payload, "saksoekt") or []):
        ident, suffix = _party_id(_get(entry, "saksoekt"))
        out.append((i, ident, f"/saksoekt/{i}/saksoekt{suffix}"))
    return out


@dataclass(frozen=True)
class ChangeContext:
    """What a change is checked against: the case as it stands."""

    ekstern_saksreferanse: str
    previous: Mapping[str, Any]
    status: str
    seconds_since_last_version: float
    unsettled_seconds: float


def _server_findings(
    payload: Mapping[str, Any],
    *,
    org: str,
    version: str,
    uploads: Callable[[str], UploadView | None],
    duplicate_ref: str | None,
    old_debtors: set[str],
    change: ChangeContext | None,
    register: Mapping[str, RegisterEntry],
) -> list[Finding]:
    out: list[Finding] = []
    for found in register_findings(payload, register):
        if rule_active(provning.RULES[found.rule].since, version):
            out.append(Finding(found.rule, message(found.rule), found.pointer))
    innsender_ref = payload.get("innsenderReferanse")
    if change is None and duplicate_ref is not None:
        out.append(
            Finding(
                "DUPLIKAT_INNSENDING",
                message(
                    "DUPLIKAT_INNSENDING",
                    begjæringsdato=payload.get("begjaeringsdato"),
                    begjaeringsdato=payload.get("begjaeringsdato"),
                    innsenderReferanse=innsender_ref,
                ),
                "/innsenderReferanse",
            )
        )
    pointer = "/innsender/innsender/virksomhet/identifikator/taxIdentificationNumber"
    innsender_org = _get(payload, "innsender", "innsender", "virksomhet", "identifikator")
    innsender_org = _get(innsender_org, "taxIdentificationNumber")
    if isinstance(innsender_org, str) and innsender_org != org:
        out.append(
            Finding(
                "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING",
                message(
                    "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING",
                    innsenderOrgnr=innsender_org,
                    påloggetOrgnr=org,
                ),
                pointer,
            )
        )
    for ref_pointer, ref in attachment_refs(payload):
        uid = ref.get("uuid")
        if not isinstance(uid, str) or not uid:
            out.append(
                Finding("VEDLEGG_SKAL_HA_UUID", message("VEDLEGG_SKAL_HA_UUID"), ref_pointer)
            )
            continue
        upload = uploads(uid)
        if upload is None or upload.org != org or upload.state == "virus":
            rule = "VEDLEGG_SKAL_VAERE_TILGJENGELIG"
        elif upload.state == "failed":
            rule = "VEDLEGG_SKAL_IKKE_HA_FEILET"
        elif upload.state == "scanning":
            rule = "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT"
        elif upload.innsender_referanse != innsender_ref:
            rule = "VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN"
        else:
            continue
        filnavn = ref.get("filnavn")
        second = innsender_ref if rule == "VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN" else uid
        text = message(rule, filnavn, second, uuid=uid, innsenderReferanse=innsender_ref)
        out.append(Finding(rule, text, ref_pointer))
    for _, ident, ident_pointer in _saksoekte(payload):
        if ident is not None and ident in old_debtors:
            out.append(
                Finding(
                    "SAKSOEKT_GAMMELT_REGELVERK",
                    message("SAKSOEKT_GAMMELT_REGELVERK", identifikator=ident),
                    ident_pointer,
                )
            )
    if change is not None:
        out.extend(_change_findings(payload, change, version))
    return out


def _change_findings(
    payload: Mapping[str, Any], change: ChangeContext, version: str
) -> list[Finding]:
    out: list[Finding] = []
    ref = change.ekstern_saksreferanse
    if change.status in CHANGE_LOCKED_STATUSES:
        out.append(
            Finding(
                "UGYLDIG_STATUS",
                message("UGYLDIG_STATUS", eksternSaksreferanse=ref, tilstand=change.status),
                "",
            )
        )
    elif change.seconds_since_last_version < change.unsettled_seconds:
        out.append(
            Finding("UAVKLART_STATUS", message("UAVKLART_STATUS", eksternSaksreferanse=ref), "")
        )
    prev = change.previous
    checks = [
        ("ULOVLIG_ENDRING_BEGJAERINGSDATO", "begjaeringsdato"),
        ("ULOVLIG_ENDRING_INNSENDER", "innsender"),
        ("ULOVLIG_ENDRING_UNDERSKRIFT", "underskrift"),
    ]
    if version != "1.1":
        checks.append(("ULOVLIG_ENDRING_SAKSOEKER", "saksoeker"))
    for rule, key in checks:
        if payload.get(key) != prev.get(key):
            out.append(Finding(rule, message(rule), f"/{key}"))
    if version != "1.1":
        before = {ident for _, ident, _ in _saksoekte(prev)}
        for i, ident, _ in _saksoekte(payload):
            if ident not in before:
                out.append(
                    Finding(
                        "ULOVLIG_ENDRING_SAKSOEKT",
                        message("ULOVLIG_ENDRING_SAKSOEKT"),
                        f"/saksoekt/{i}",
                    )
                )
    return out


def findings_for(
    payload: Mapping[str, Any],
    ctx: ProvingContext,
    *,
    org: str,
    uploads: Callable[[str], UploadView | None],
    duplicate_ref: str | None,
    old_debtors: set[str],
    change: ChangeContext | None = None,
    register: Mapping[str, RegisterEntry] | None = None,
) -> list[Finding]:
    """Local prøving first, then the server-only rules it did not already report."""
    local = provning.validate(payload, ctx)
    seen = {f.rule for f in local}
    server = _server_findings(
        payload,
        org=org,
        version=ctx.version,
        uploads=uploads,
        duplicate_ref=duplicate_ref,
        old_debtors=old_debtors,
        change=change,
        register=register or {},
    )
    return local + [f for f in server if f.rule not in seen]
