"""Shared helpers of the rule checks: defensive JSON access and the finding collector."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeGuard

from utlegg_gateway._logging import mask_identifier
from utlegg_gateway.model._versions import rule_active
from utlegg_gateway.provning._catalog import RULES
from utlegg_gateway.provning._types import Finding, ProvingContext

__all__ = [
    "SCALARS",
    "Emitter",
    "Path",
    "arr",
    "as_date",
    "describe_actor",
    "identity",
    "is_object",
    "obj",
    "text",
]

_EMPTY: Mapping[str, Any] = {}

# JSON's leaf types (exact, not subclasses): the tree walks test `type(v) in SCALARS`
# inline and skip them without a call or an ABC isinstance check.
SCALARS = frozenset({str, int, float, bool, type(None)})


def is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """isinstance(value, Mapping), answered without the ABC for dicts, lists and leaves."""
    kind = type(value)
    return kind is dict or (kind is not list and kind not in SCALARS and isinstance(value, Mapping))


def obj(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one: rules never trip on bad shapes."""
    return value if is_object(value) else _EMPTY


def arr(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A non-blank string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def as_date(value: Any) -> dt.date | None:
    """An ISO date string as a date, else None (the model reports the bad format)."""
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _party(actor: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    for kind in ("virksomhet", "person", "sammenslutning"):
        if is_object(actor.get(kind)):
            return kind, actor[kind]
    return "", _EMPTY


def actor_id(actor: Mapping[str, Any]) -> str | None:
    """The identifier value of an Aktør (tax number or other official id), if any."""
    _, party = _party(actor)
    ident = obj(party.get("identifikator"))
    return text(ident.get("taxIdentificationNumber")) or text(
        ident.get("annenOffisiellIdentifikator")
    )


def identity(actor: Mapping[str, Any]) -> tuple[str, ...] | None:
    """What makes two Aktører the same party: the identifier, else name (+ birth date)."""
    kind, party = _party(actor)
    ident = actor_id(actor)
    if ident:
        return ("id", ident.replace(" ", ""))
    if kind == "person":
        navn = obj(party.get("personnavn"))
        first, last = text(navn.get("fornavn")), text(navn.get("etternavn"))
        if first and last:
            return ("person", first.casefold(), last.casefold(), str(party.get("foedselsdato")))
        return None
    name = text(party.get("navn"))
    return ("navn", name.casefold()) if name else None


def describe_actor(actor: Mapping[str, Any]) -> str:
    """A short label for messages; a person's identifier is masked (privacy)."""
    kind, party = _party(actor)
    ident = actor_id(actor)
    if kind == "person":
        navn = obj(party.get("personnavn"))
        name = " ".join(filter(None, (text(navn.get("fornavn")), text(navn.get("etternavn")))))
        label = name or "(no name)"
        return f"{label} ({mask_identifier(ident)})" if ident else label
    label = text(party.get("navn")) or "(no name)"
    return f"{label} ({ident})" if ident else label


Path = tuple[str | int, ...]


def _finding(
    rule: str, location: str, args: tuple[object, ...], values: dict[str, object]
) -> Finding:
    """The English message, and the server's text beside it when the rule is the server's."""
    info = RULES[rule]
    server = info.format(*args, **values) if info.since != "own" else None
    return Finding(rule, info.explain(*args, **values), location, server)


# (nearest key, path, text) of one string of the payload.
Text = tuple[str, Path, str]


def _walk(
    node: Any,
    key: str,
    path: Path,
    objects: list[tuple[Path, Mapping[str, Any]]],
    texts: list[Text],
) -> None:
    """Every object and every string under `node` (an object or array), in one walk."""
    if is_object(node):
        objects.append((path, node))
        for name, child in node.items():
            kind = type(child)
            if kind is str:
                texts.append((str(name), (*path, name), child))
            elif kind not in SCALARS:
                _walk(child, str(name), (*path, name), objects, texts)
    elif isinstance(node, list):
        for i, child in enumerate(node):
            kind = type(child)
            if kind is str:
                texts.append((key, (*path, i), child))
            elif kind not in SCALARS:
                _walk(child, key, (*path, i), objects, texts)


class Emitter:
    """Collects findings of the rules active in the context's model version."""

    def __init__(self, ctx: ProvingContext) -> None:
        self.ctx = ctx
        self.findings: list[Finding] = []
        self._where: set[str] = set()
        self._walked: tuple[Any, list[tuple[Path, Mapping[str, Any]]], list[Text]] | None = None

    def objects(self, doc: Any) -> list[tuple[Path, Mapping[str, Any]]]:
        """Every JSON object in `doc` (through objects and arrays), depth first, with its path.

        Collected once per validate(), in the same walk as `texts`: the checks that look
        everywhere (identifiers, amounts, characters) share one walk instead of three.
        The path stays a tuple until a finding needs its pointer (a pointer string for
        every node was half of validate()'s cost).
        """
        return self._walk(doc)[1]

    def texts(self, doc: Any) -> list[Text]:
        """Every string in `doc` with its path and nearest key (an array's items: its key)."""
        return self._walk(doc)[2]

    def _walk(self, doc: Any) -> tuple[Any, list[tuple[Path, Mapping[str, Any]]], list[Text]]:
        if self._walked is None or self._walked[0] is not doc:
            objects: list[tuple[Path, Mapping[str, Any]]] = []
            texts: list[Text] = []
            if isinstance(doc, str):
                texts.append(("", (), doc))
            else:
                _walk(doc, "", (), objects, texts)
            self._walked = (doc, objects, texts)
        return self._walked

    def active(self, rule: str) -> bool:
        """True when `rule` runs under the context's model version."""
        return rule_active(RULES[rule].since, self.ctx.version)

    def add(self, rule: str, location: str, *args: object, **values: object) -> None:
        """Record `rule` broken at `location`, its message filled from args/values."""
        if not self.active(rule):
            return
        self._where.add(location)
        self.findings.append(_finding(rule, location, args, values))

    def reported(self, location: str) -> bool:
        """True when some finding already points at `location`."""
        return location in self._where
