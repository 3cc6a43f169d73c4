"""`mapping explain`: where each field of one case's begjæring came from.

    explain_case(path, spec, case) -> CaseExplanation

For every value of the built begjæring: its JSON pointer, the value, the source record
(CSV/record line, XML element and its line), the column or XPath read, and the transform
chain applied, or that it is a constant or a `default`. Pure over the file: the case is
built exactly as `map` builds it (without prøving), with tracking switched on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utlegg_gateway._logging import mask_identifier
from utlegg_gateway.errors import UsageError
from utlegg_gateway.mapping.engine import _IDENTIFIER_FIELDS, BuildState, Expr
from utlegg_gateway.mapping.results import CaseIssue
from utlegg_gateway.mapping.spec import MappingSpec
from utlegg_gateway.mapping.transforms import TRANSFORMS

__all__ = ["CaseExplanation", "FieldOrigin", "explain_case"]


@dataclass(frozen=True, slots=True)
class FieldOrigin:
    """Where one target value came from."""

    pointer: str
    value: Any
    source: str  # `line 4` / `/Batch/Sak[2]/Krav[1] (line 9)` / `constant`
    column: str | None  # the column, XPath, variable; None for a constant
    transforms: tuple[str, ...]  # `date_no`, `amount{scale: -2}`, …
    origin: str  # col | xpath | const | var | concat | coalesce | default

    def describe(self) -> str:
        """`/pointer = value  <- line 4, column X, via t1 → t2`."""
        value = json.dumps(self.value, ensure_ascii=False)
        if len(value) > 60:
            value = value[:57] + "..."
        if self.origin == "const":
            return f"{self.pointer} = {value}  <- constant"
        where = [self.source]
        if self.column:
            where.append(f"{'xpath' if self.origin == 'xpath' else 'column'} {self.column}")
        if self.transforms:
            where.append("via " + " → ".join(self.transforms))
        if self.origin == "default":
            where.append("(empty: its default)")
        return f"{self.pointer} = {value}  <- {', '.join(where)}"

    def to_json(self) -> dict[str, Any]:
        """For `mapping explain --json`."""
        return {
            "pointer": self.pointer,
            "value": self.value,
            "source": self.source,
            "column": self.column,
            "transforms": list(self.transforms),
            "origin": self.origin,
        }


@dataclass(frozen=True, slots=True)
class CaseExplanation:
    """One case: its key, where its records are, every field's origin, and its issues."""

    key: str
    source: str
    fields: tuple[FieldOrigin, ...]
    issues: tuple[CaseIssue, ...]


def _step(name: str, arg: Any) -> str:
    if arg is None:
        return name
    try:
        default = TRANSFORMS[name].parse_arg(None)
    except (KeyError, ValueError):
        default = None
    if isinstance(arg, dict) and name in {"map", "lookup"}:
        keys = ", ".join(str(k) for k in list(arg)[:4]) + (", …" if len(arg) > 4 else "")
        return f"{name}{{{keys}}}"
    if hasattr(arg, "text"):  # a date pattern
        return f"{name}{{{arg.text}}}"
    if hasattr(arg, "__dataclass_fields__"):
        # Only what differs from the transform's defaults (`amount{scale: -2}`).
        shown = ", ".join(
            f"{k}: {getattr(arg, k)!r}"
            for k in arg.__dataclass_fields__
            if default is None or getattr(arg, k) != getattr(default, k, None)
        )
        return f"{name}{{{shown}}}" if shown else name
    return f"{name}{{{arg!r}}}"


def _at(payload: Any, pointer: str) -> Any:
    node = payload
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def explain_case(path: Path, spec: MappingSpec, case: str) -> CaseExplanation:
    """Build case `case` (its key or innsenderReferanse) of `path`, tracing every value."""
    from utlegg_gateway.mapping import _cases

    seen = []
    for scope, key, location, pre in _cases(path, spec):
        state = BuildState(track={}, explain={})
        built = spec.template.build(scope, state, "") if not pre else None
        reference = built.get("innsenderReferanse") if isinstance(built, dict) else None
        if case not in {key, reference}:
            seen.append(key)
            continue
        fields = []
        for pointer, (where, label) in (state.track or {}).items():
            expr, defaulted = (state.explain or {})[pointer]
            try:
                value = _at(built, pointer)
            except (KeyError, IndexError, TypeError):
                continue  # inside something left out (an empty object)
            fields.append(
                _origin(pointer, value, where.location(), label, expr, defaulted=defaulted)
            )
        fields.sort(key=lambda f: _order(built, f.pointer))
        return CaseExplanation(key, location.describe(), tuple(fields), (*pre, *state.issues))
    shown = ", ".join(seen[:10]) + (", …" if len(seen) > 10 else "")
    raise UsageError(
        f"no case {case!r} in {path} (cases: {shown or 'none'})",
        file=str(path),
        case=case,
    )


def _origin(
    pointer: str, value: Any, where: Any, label: str | None, expr: Expr, *, defaulted: bool
) -> FieldOrigin:
    # Identifiers (fødselsnummer, account numbers) are masked, as in every issue.
    if pointer.rpartition("/")[2] in _IDENTIFIER_FIELDS and isinstance(value, str):
        value = mask_identifier(value)
    origin = "default" if defaulted else expr.kind
    steps = () if defaulted else tuple(_step(n, a) for n, _, a in expr.transforms)
    if expr.kind == "const" and not defaulted:
        return FieldOrigin(pointer, value, "constant", None, (), "const")
    column = label if expr.kind != "var" else f"${label}"
    return FieldOrigin(pointer, value, where.describe(), column, steps, origin)


def _order(payload: Any, pointer: str) -> list[int]:
    """The position of `pointer` in the begjæring's own (template) order."""
    out = []
    node = payload
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            index = int(part)
        elif isinstance(node, dict):
            index = list(node).index(part) if part in node else 0
        else:
            break
        out.append(index)
        try:
            node = node[index] if isinstance(node, list) else node[part]
        except (KeyError, IndexError):
            break
    return out
