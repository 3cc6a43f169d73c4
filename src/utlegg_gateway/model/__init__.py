"""The ELAN begjæring model: parse, check structure, serialise (`Begjaering.to_json`).

    parse_begjaering(payload, version) -> Begjaering     raises CaseError when invalid
    check_structure(payload, version) -> list[ModelIssue] never raises
    check_normalised(data, version) -> list[ModelIssue]  the same, for normalise's output
    normalise(payload) -> dict                           §2.10 spellings, copied where renamed

Pydantic's ValidationError is translated here and nowhere else, into `ModelIssue`s
with our own documented codes (docs/rules.md) and JSON pointers into the payload.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple

from pydantic import ValidationError

from utlegg_gateway.errors import CaseError
from utlegg_gateway.model._types import Begjaering
from utlegg_gateway.model._versions import (
    DEFAULT_MODEL_VERSION,
    SPECS,
    SUPPORTED_VERSIONS,
    ModelVersion,
    VersionSpec,
    declare_version,
)
from utlegg_gateway.model.pointer import expand, pointer, sort_key

__all__ = [
    "ALTERNATIVE_SPELLINGS",
    "DEFAULT_MODEL_VERSION",
    "MODEL_CODES",
    "SPECS",
    "SUPPORTED_VERSIONS",
    "Begjaering",
    "ModelIssue",
    "ModelVersion",
    "VersionSpec",
    "check_deprecated",
    "check_normalised",
    "check_structure",
    "declare_version",
    "normalise",
    "parse_begjaering",
]


class ModelIssue(NamedTuple):
    """One structural problem: our own code, an English message, a JSON pointer."""

    code: str
    message: str
    location: str


# Our own codes for structural problems (the server answers these with HTTP 400, for
# which no rule names are published).
MODEL_CODES: dict[str, str] = {
    "MODELL_MANGLER_FELT": "A required field is missing",
    "MODELL_UKJENT_FELT": "The field is not in the model (probably a mistake in the mapping)",
    "MODELL_UGYLDIG_VERDI": "The value has the wrong type or format",
    "MODELL_UGYLDIG_KODE": "The value is not in the code list of the model version",
    "MODELL_VALG": "A choice (valgEgenskap) needs exactly one alternative",
    "MODELL_FELT_IKKE_I_VERSJON": "The field is not in the chosen model version",
    # A warning, not an error: the version accepts the field but plans to remove it.
    "MODELL_FELT_UTGAAR": (
        "The field is deprecated and planned for removal in the next model version"
    ),
}

# §2.10: where the published sources spell a property several ways, one spelling is
# ours (the key) and the others are accepted on input and renamed to it.
ALTERNATIVE_SPELLINGS: dict[str, tuple[str, ...]] = {
    # Diagrams 1.0/1.1 and the 2.0 change log spell "Forsendelses"; the 1.0 change log
    # and examples have a typo ("Foresendelses") and one keeps a literal "å".
    "alternativElektroniskForsendelsesmaate": (
        "alternativElektroniskForesendelsesmaate",
        "alternativElektroniskForesendelsesmåte",
        "alternativElektroniskForsendelsesmåte",
    ),
    # The 1.0 figure alone drops the genitive s.
    "innsendersProsessfullmektig": ("innsenderProsessfullmektig",),
    # The 1.1 change log and the 2.0 text say kreverFritakRettsgebyr; the figure says
    # kreverFritattRettsgebyr.
    "kreverFritakRettsgebyr": ("kreverFritattRettsgebyr",),
    "aarsakTilFritak": ("årsakTilFritak",),
    # The 1.1 change log and example say forsendelsemaateType; the figure says
    # forsendelsesmåtetype.
    "forsendelsemaateType": (
        "forsendelsesmaateType",
        "forsendelsesmaatetype",
        "forsendelsesmåtetype",
    ),
}
_RENAME = {alt: canon for canon, alts in ALTERNATIVE_SPELLINGS.items() for alt in alts}


# JSON's leaf types (exact): returned as they are without a call or an ABC check.
_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR_ONLY = frozenset({str})


def normalise(payload: Any) -> Any:
    """`payload` with §2.10 alternative spellings renamed to ours (unless ours is present too).

    An object or array is copied only where something under it is renamed; the rest is
    returned as it is (callers only read it). A mapping's output has nothing to rename,
    and copying all of it cost a dict or list per node of every case.
    """
    if (
        type(payload) is dict
        and _RENAME.keys().isdisjoint(payload)
        and set(map(type, payload)) <= _STR_ONLY
    ):
        # The usual object: text keys, none to rename (both tests run in C). A loop, not
        # a comprehension: that would cost a second stack frame per level of nesting.
        changed: dict[str, Any] | None = None
        for key, value in payload.items():
            if type(value) not in _SCALARS:
                new = normalise(value)
                if new is not value:
                    if changed is None:
                        changed = {}
                    changed[key] = new
        if changed is None:
            return payload
        return {key: changed.get(key, value) for key, value in payload.items()}
    if type(payload) is dict or isinstance(payload, Mapping):
        out: dict[str, Any] = {}
        for key, value in payload.items():
            canon: str = _RENAME.get(key, key) if isinstance(key, str) else str(key)
            if canon != key and canon in payload:
                canon = key  # both given: keep it, the model reports the unknown one
            out[canon] = value if type(value) in _SCALARS else normalise(value)
        return out
    if type(payload) is list:
        copied: list[Any] | None = None
        for i, value in enumerate(payload):
            if type(value) not in _SCALARS:
                new = normalise(value)
                if new is not value:
                    if copied is None:
                        copied = list(payload)
                    copied[i] = new
        return payload if copied is None else copied
    if isinstance(payload, list):
        return [v if type(v) in _SCALARS else normalise(v) for v in payload]
    return payload


_TYPE_TEXT = {
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "model_attributes_type": "must be an object",
    "string_pattern_mismatch": "has the wrong format",
}


def _issue(err: Mapping[str, Any], version: ModelVersion) -> ModelIssue:
    loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
    where = pointer(*loc)
    kind = err["type"]
    if kind == "missing":
        return ModelIssue("MODELL_MANGLER_FELT", f"Field {loc[-1]} is missing", where)
    if kind == "extra_forbidden":
        return ModelIssue(
            "MODELL_UKJENT_FELT", f"Field {loc[-1]} is not in model version {version}", where
        )
    if kind == "too_short":
        return ModelIssue("MODELL_MANGLER_FELT", "The list needs at least one element", where)
    if kind == "valg":
        return ModelIssue("MODELL_VALG", str(err["msg"]), where)
    if kind == "kode":
        return ModelIssue("MODELL_UGYLDIG_KODE", str(err["msg"]), where)
    text = _TYPE_TEXT.get(kind) or str(err["msg"])
    return ModelIssue("MODELL_UGYLDIG_VERDI", f"The value {text}", where)


def _version_issues(payload: Mapping[str, Any], spec: VersionSpec) -> list[ModelIssue]:
    out: list[ModelIssue] = []
    for pattern in sorted(spec.not_in_version):
        for where, _, present in expand(payload, pattern):
            if present:
                name = pattern.rsplit("/", 1)[-1]
                out.append(
                    ModelIssue(
                        "MODELL_FELT_IKKE_I_VERSJON",
                        f"Field {name} is not in model version {spec.version}",
                        where,
                    )
                )
    for pattern in sorted(spec.required):
        for where, _, present in expand(payload, pattern):
            if not present:
                name = pattern.rsplit("/", 1)[-1]
                out.append(
                    ModelIssue(
                        "MODELL_MANGLER_FELT",
                        f"Field {name} is required in model version {spec.version}",
                        where,
                    )
                )
    return out


def check_deprecated(data: Any, version: ModelVersion) -> list[ModelIssue]:
    """Warnings (`MODELL_FELT_UTGAAR`) for deprecated fields present in normalised `data`."""
    spec = SPECS[version]
    out: list[ModelIssue] = []
    if not isinstance(data, Mapping):
        return out
    for pattern, replacement in sorted(spec.deprecated.items()):
        for where, _, present in expand(data, pattern):
            if present:
                name = pattern.rsplit("/", 1)[-1]
                instead = f"; use {replacement}" if replacement else ""
                out.append(
                    ModelIssue(
                        "MODELL_FELT_UTGAAR",
                        f"Field {name} is deprecated in model version {spec.version} and"
                        f" planned for removal{instead}",
                        where,
                    )
                )
    return sorted(out, key=lambda i: (sort_key(i.location), i.message))


def _validate(payload: Any, version: ModelVersion) -> tuple[Begjaering | None, list[ModelIssue]]:
    if not isinstance(payload, Mapping):
        return None, [ModelIssue("MODELL_UGYLDIG_VERDI", "The begjæring must be a JSON object", "")]
    try:
        model = Begjaering.model_validate(payload, context={"version": version})
    except ValidationError as exc:
        return None, [_issue(e, version) for e in exc.errors()]
    return model, []


def check_structure(payload: Any, version: ModelVersion) -> list[ModelIssue]:
    """Every structural problem of `payload` under `version`, sorted; never raises."""
    return check_normalised(normalise(payload), version)


def check_normalised(data: Any, version: ModelVersion) -> list[ModelIssue]:
    """`check_structure` of data `normalise` already returned (validate() needs both)."""
    _, issues = _validate(data, version)
    if isinstance(data, Mapping):
        issues.extend(_version_issues(data, SPECS[version]))
    return sorted(set(issues), key=lambda i: (sort_key(i.location), i.code, i.message))


def _without_unknown(data: Any, version: ModelVersion) -> Any:
    """A copy of `data` without the fields the model reports as unknown."""
    try:
        Begjaering.model_validate(data, context={"version": version})
    except ValidationError as exc:
        out = copy.deepcopy(data)
        for err in exc.errors():
            if err["type"] != "extra_forbidden":
                continue
            node: Any = out
            for part in err["loc"][:-1]:
                node = node[part]
            node.pop(err["loc"][-1], None)
        return out
    return data


def parse_begjaering(
    payload: Any, version: ModelVersion = DEFAULT_MODEL_VERSION, *, ignore_unknown: bool = False
) -> Begjaering:
    """The typed begjæring; raises CaseError naming the first problems when invalid.

    With `ignore_unknown` fields the model does not know are dropped (tolerant reading,
    e.g. of 1.0 payloads); otherwise they are errors, like every other problem. The
    version table's own findings (fields of other versions) are `check_structure`'s job.
    """
    data = normalise(payload)
    if ignore_unknown and isinstance(data, Mapping):
        data = _without_unknown(data, version)
    model, issues = _validate(data, version)
    if model is None:
        first = issues[0]
        more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
        raise CaseError(
            f"the begjæring does not follow model {version}: {first.message}{more}",
            field=first.location or "/",
            rule=first.code,
        )
    return model
