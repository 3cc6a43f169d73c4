"""Local prøving: the server's validation rules, same rule names, run before anything is sent.

Public surface (other stages code against exactly this):

    validate(payload, ctx) -> list[Finding]     model + every locally decidable rule
    Finding(rule, message, location, serverMessage)  location is a JSON pointer into the
                                                payload; message English, serverMessage
                                                the server's Norwegian text (None: own code)
    ProvingContext(today, version, environment, previous, authenticated_orgnr,
                   allow_upload_placeholders)
    RULES                                       every documented rule + our codes: name -> RuleInfo
    SERVER_ONLY_RULES                           the rules only the server can decide
    NOT_DECIDABLE_RULES                         documented, but neither we nor a sandbox decide them
    finding(name, location, *args, **values)    a Finding with the rule's message filled in
    explain_server(rule, text) -> str | None    the English line of ELAN's Norwegian text
                                                for `rule` (None: unknown rule or text)
    validate_file(path, ctx) -> list[Finding]   read a JSON file (InputFileError) and validate
    deprecations(payload, ctx) -> list[Finding] warnings (MODELL_FELT_UTGAAR): accepted fields
                                                the version plans to remove; never errors
    format_finding(finding) -> str              "RULE  location  message"
    value_rule(location) -> str | None          the server rule a malformed value at this
                                                JSON pointer breaks (mapping errors name it)

`RULES[name].format(**values)` fills a rule's Norwegian message the way the server
does; the sandbox uses it for its 422 answers. `RULES[name].explain(**values)` fills the
gateway's English line (the `message` of a local finding). docs/rules.md lists every rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utlegg_gateway._logging import get_logger
from utlegg_gateway.errors import InputFileError
from utlegg_gateway.model import check_deprecated, check_normalised, normalise
from utlegg_gateway.model.pointer import sort_key
from utlegg_gateway.provning._catalog import (
    NOT_DECIDABLE_RULES,
    OWN_CODES,
    RULES,
    SERVER_ONLY_RULES,
)
from utlegg_gateway.provning._claims import (
    check_amounts,
    check_claims,
    check_grunnlag,
    check_vedlegg,
)
from utlegg_gateway.provning._emit import Emitter, _finding
from utlegg_gateway.provning._parties import (
    check_changes,
    check_identifiers,
    check_parties,
    check_payment,
)
from utlegg_gateway.provning._text import check_text
from utlegg_gateway.provning._types import Finding, ProvingContext, RuleInfo

__all__ = [
    "INTERNAL_ERROR",
    "NOT_DECIDABLE_RULES",
    "OWN_CODES",
    "RULES",
    "SERVER_ONLY_RULES",
    "Document",
    "Finding",
    "ProvingContext",
    "RuleInfo",
    "deprecations",
    "explain_server",
    "finding",
    "format_finding",
    "load_documents",
    "load_payload",
    "validate",
    "validate_file",
    "value_rule",
]

log = get_logger(__name__)

# Reported when a check itself fails on some odd input: validate() never raises.
INTERNAL_ERROR = "PROVING_INTERN_FEIL"

# Order matters: the parties' checks claim identifier locations the generic walk skips.
_CHECKS: tuple[Callable[[Mapping[str, Any], Emitter], None], ...] = (
    check_grunnlag,
    check_claims,
    check_parties,
    check_identifiers,
    check_payment,
    check_amounts,
    check_vedlegg,
    check_text,
)


def finding(name: str, location: str, *args: object, **values: object) -> Finding:
    """A Finding for rule `name` at `location`: English message, the server's text beside."""
    return _finding(name, location, args, values)


def _sorted(findings: list[Finding]) -> list[Finding]:
    unique = set(findings)
    return sorted(unique, key=lambda f: (sort_key(f.location), f.rule, f.message))


def validate(payload: Mapping[str, Any], ctx: ProvingContext) -> list[Finding]:
    """Check one begjæring; an empty list means it passes everything decidable locally."""
    # One normalised document serves the model check and the rules (it was made twice).
    doc = normalise(payload)
    findings = [Finding(i.code, i.message, i.location) for i in check_normalised(doc, ctx.version)]
    if not isinstance(doc, Mapping):  # callers pass whatever JSON they read
        return findings
    emitter = Emitter(ctx)
    checks: list[Callable[[Mapping[str, Any], Emitter], None]] = list(_CHECKS)
    if ctx.previous is not None:
        previous = normalise(ctx.previous)
        checks.append(lambda d, e: check_changes(d, previous, e))
    for check in checks:
        try:
            check(doc, emitter)
        except Exception:  # a check must never take the caller down on odd input
            log.exception("local prøving check failed")
            findings.append(Finding(INTERNAL_ERROR, "Internal error in local prøving", ""))
    return _sorted(findings + emitter.findings)


def deprecations(payload: Any, ctx: ProvingContext) -> list[Finding]:
    """Warnings for fields `ctx.version` accepts but plans to remove; not part of validate().

    Kept apart so that every caller that treats a finding as an error (the pipeline,
    the sandbox) goes on accepting a deprecated field, as the server does.
    """
    return [
        Finding(i.code, i.message, i.location)
        for i in check_deprecated(normalise(payload), ctx.version)
    ]


def load_payload(path: Path) -> Any:
    """The JSON document in `path`; InputFileError when it cannot be read or parsed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path} is not UTF-8 text", file=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{path} is not valid JSON: {exc.msg}",
            file=str(path),
            row=exc.lineno,
            column=str(exc.colno),
        ) from exc


@dataclass(frozen=True, slots=True)
class Document:
    """One begjæring to validate: from a JSON file, or one case of `map` output."""

    case: str | None  # the case of a `map` output line; None for a plain JSON file
    payload: Any  # None when `map` could not build the case
    map_errors: int = 0  # how many errors `map` reported for the case
    # `map` output: the Vedlegg uuids are "<upload:FILE>" placeholders (uploads to come).
    placeholders: bool = False


def load_documents(path: Path) -> list[Document]:
    """The begjæringer in `path`: a JSON begjæring, or what `utlegg-gateway map` wrote.

    `map` writes one JSON line per case (`{"case", "ok", "begjaering" | "errors"}`) with
    Vedlegg objects that have no `uuid` yet: the uploads come later. Each such Vedlegg
    gets the placeholder `<upload:FILE>` (accepted only so), so validating map output does
    not report VEDLEGG_SKAL_HA_UUID for what the gateway fills in itself.
    """
    try:
        return [_document(load_payload(path))]
    except InputFileError as exc:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            raise exc from None
        lines = [line for line in text.splitlines() if line.strip()]
        docs = []
        for number, line in enumerate(lines, start=1):
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                raise exc from None
            if not _is_map_line(doc):
                raise InputFileError(
                    f"{path} line {number} is not a line of `map` output", file=str(path)
                ) from None
            docs.append(_document(doc))
        if not docs:
            raise exc from None
        return docs


def _is_map_line(doc: Any) -> bool:
    return isinstance(doc, dict) and "case" in doc and "ok" in doc


def _document(doc: Any) -> Document:
    if not _is_map_line(doc):
        return Document(None, doc)
    case = str(doc["case"])
    if not doc["ok"] or not isinstance(doc.get("begjaering"), dict):
        return Document(case, None, map_errors=len(doc.get("errors") or ()) or 1)
    payload = doc["begjaering"]
    _fill_placeholders(payload)
    return Document(case, payload, placeholders=True)


def _fill_placeholders(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _fill_placeholders(item)
    elif isinstance(node, dict):
        if set(node) == {"type", "filnavn"} and isinstance(node["filnavn"], str):
            node["uuid"] = f"<upload:{node['filnavn']}>"
            return
        for value in node.values():
            _fill_placeholders(value)


def validate_file(path: Path, ctx: ProvingContext) -> list[Finding]:
    """Read a begjæring from a JSON file and validate it."""
    return validate(load_payload(path), ctx)


# The field a value sits in -> the server rule that judges its form (UGYLDIG_BELOEP:
# "maks to desimaler og ikke negativt", and so on); the same fields the checks walk.
_VALUE_RULES: dict[str, str] = {
    "beloep": "UGYLDIG_BELOEP",
    "paalydendeBeloep": "UGYLDIG_BELOEP",
    "avtaltRentesats": "UGYLDIG_RENTE",
    "beregnetMedAvtaltRentesats": "UGYLDIG_RENTE",
    "kidnummer": "UGYLDIG_KID",
    "kontonummer": "UGYLDIG_KONTONR",
}


def value_rule(location: str) -> str | None:
    """The server rule a malformed value at JSON pointer `location` corresponds to, if any.

    Dates have none: the server answers a malformed date with HTTP 400, not a rule.
    Identifiers have one only for a prosessfullmektig's orgnr (UGYLDIG_ORGNR_PROSESSFULLMEKTIG);
    other fødsels- and organisasjonsnumre are our own codes.
    """
    parts = [p for p in location.split("/") if p and not p.isdigit()]
    if not parts:
        return None
    last = parts[-1]
    if last == "taxIdentificationNumber" and "prosessfullmektig" in parts:
        return "UGYLDIG_ORGNR_PROSESSFULLMEKTIG"
    return _VALUE_RULES.get(last)


def explain_server(rule: str, text: str) -> str | None:
    """The gateway's English line for a server answer's rule text, None if it cannot say."""
    info = RULES.get(rule)
    return None if info is None or info.since == "own" else info.explain_server(text)


def format_finding(f: Finding) -> str:
    """One line for people: rule, location, message."""
    return f"{f.rule}  {f.location or '/'}  {f.message}"
