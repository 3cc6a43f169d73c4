"""The template checked against the target model of one version, before any file arrives.

`check_template` walks the compiled template beside the pydantic model (`model._types`)
and the version table (`model._versions`) and reports, at YAML line:column:

- a target field the model does not have (with did-you-mean), or not in this version;
- a required field that no branch of the template fills;
- a constant (or a code-table value) outside the code list, listing the valid values;
- a type mismatch: a text into a date, number or yes/no field without the transform
  that makes one, an object where the model has a value, a value where it has a list…;
- deprecated fields and alternative spellings, as warnings.

Pure: no files, no I/O. `describe_target` is the same reading of the model for the
generated reference (docs/model.md).
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from utlegg_gateway.mapping.engine import Broken, Expr, ForEach, Mark, Node, Obj, Repeat, StaticList
from utlegg_gateway.mapping.results import MappingProblem
from utlegg_gateway.model import ALTERNATIVE_SPELLINGS, SPECS, Begjaering
from utlegg_gateway.model._types import CodeCheck

__all__ = ["Target", "check_template", "target_of"]

_RENAME = {alt: canon for canon, alts in ALTERNATIVE_SPELLINGS.items() for alt in alts}

Kind = Literal["object", "list", "text", "texts", "date", "bool", "number", "priority"]


@dataclass(frozen=True)
class Target:
    """What the model expects at one place: its kind, and the details of that kind."""

    kind: Kind
    model: type[BaseModel] | None = None  # object
    item: Target | None = None  # list
    codes: str | None = None  # text from a code list
    annotation: Any = None  # the leaf annotation, to validate constants with

    def describe(self) -> str:
        """`date`, `text (code list VedleggType)`, `list of Krav`, `object Personnavn`."""
        if self.kind == "object" and self.model is not None:
            return f"object {self.model.__name__}"
        if self.kind == "list" and self.item is not None:
            return f"list of {self.item.describe()}"
        if self.codes:
            return f"code ({self.codes})"
        return {
            "texts": "text or list of texts",
            "bool": "true/false",
            "priority": "whole number 1-99",
        }.get(self.kind, self.kind)


def target_of(annotation: Any, meta: tuple[Any, ...] = ()) -> Target:
    """The Target of a pydantic field annotation (Optional, lists and Annotated unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return target_of(base, (*meta, *extra))
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return target_of(args[0], meta)
        names = {getattr(a, "__name__", "") for a in args}
        if names == {"float", "int"}:
            return Target("number", annotation=annotation)
        if names == {"int", "str"}:
            return Target("priority", annotation=annotation)
        return Target("texts", annotation=annotation)
    if origin is list:
        return Target("list", item=target_of(get_args(annotation)[0]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Target("object", model=annotation)
    codes = next(
        (
            m.func.list_name
            for m in meta
            if isinstance(m, AfterValidator) and isinstance(m.func, CodeCheck)
        ),
        None,
    )
    full = Annotated[(annotation, *meta)] if meta else annotation
    if annotation is bool:
        return Target("bool", annotation=full)
    if annotation is dt.date:
        return Target("date", annotation=full)
    return Target("text", codes=codes, annotation=full)


def field_target(info: FieldInfo) -> Target:
    """The Target of one model field."""
    return target_of(info.annotation, tuple(info.metadata))


_ADAPTERS: dict[int, TypeAdapter[Any]] = {}


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    key = id(annotation)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]


# What a transform makes of a value (the last one counts); None: it depends.
_PRODUCES: dict[str, str | None] = {
    "date_no": "date",
    "date_iso": "date",
    "date": "date",
    "decimal_no": "number",
    "decimal": "number",
    "amount": "number",
    "integer": "int",
    "boolean": "bool",
    "name_comma": "personnavn",
    "name_last": "personnavn",
    "split": "list",
    "split_pairs": "pairs",
    "get": None,
    "map": "table",
    "lookup": "table",
}
_HINT = {
    "date": "add a date transform (date_no, date_iso or {date: {format: …}})",
    "number": "add an amount transform (amount, decimal_no or decimal)",
    "bool": "add the boolean transform (J/N, ja/nei, true/false)",
}


class _Checker:
    def __init__(self, version: str, path: Path) -> None:
        self.spec = SPECS[version]
        self.version = version
        self.path = path
        self.out: list[MappingProblem] = []

    def add(self, severity: Literal["error", "warning"], mark: Mark | None, message: str) -> None:
        line, col = mark if mark else (None, None)
        self.out.append(MappingProblem(severity, message, str(self.path), line, col))

    # -- nodes ------------------------------------------------------------------------
    def node(self, node: Node, target: Target, pattern: str, mark: Mark | None) -> None:
        if isinstance(node, Broken):
            return
        if isinstance(node, Obj):
            self.obj(node, target, pattern, mark)
        elif isinstance(node, ForEach | Repeat | StaticList):
            self.listing(node, target, pattern, mark)
        elif isinstance(node, Expr):
            self.expr(node, target, pattern, node.mark or mark)

    def obj(self, node: Obj, target: Target, pattern: str, mark: Mark | None) -> None:
        field = _name(pattern)
        if target.kind != "object" or target.model is None:
            self.add(
                "error",
                mark,
                f"{field}: an object here, but the model has a {target.describe()} field",
            )
            return
        model = target.model
        given: set[str] = set()
        for (key, _, child), key_mark in zip(node.fields, node.marks or _none(node), strict=True):
            name = key
            if key in _RENAME:
                name = _RENAME[key]
                self.add(
                    "warning",
                    key_mark,
                    f"{key!r} is an alternative spelling of {name!r}; it is sent as {name!r}",
                )
            if name not in model.model_fields:
                close = difflib.get_close_matches(name, list(model.model_fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                fields = ", ".join(model.model_fields)
                self.add(
                    "error",
                    key_mark,
                    f"unknown target field {key!r} in {model.__name__}{hint}"
                    + ("" if close else f"; its fields: {fields}"),
                )
                continue
            given.add(name)
            where = f"{pattern}/{name}"
            if where in self.spec.not_in_version:
                self.add("error", key_mark, f"{name!r} is not in model version {self.version}")
                continue
            if where in self.spec.deprecated:
                instead = self.spec.deprecated[where]
                self.add(
                    "warning",
                    key_mark,
                    f"{name!r} is deprecated in model version {self.version} and planned to go"
                    + (f"; use {instead}" if instead else ""),
                )
            self.node(child, field_target(model.model_fields[name]), where, key_mark)
        missing = [
            n
            for n, info in model.model_fields.items()
            if info.is_required()
            and n not in given
            and f"{pattern}/{n}" not in self.spec.not_in_version
        ]
        missing += sorted(
            p.rpartition("/")[2]
            for p in self.spec.required
            if p.rpartition("/")[0] == pattern and p.rpartition("/")[2] not in given
        )
        for name in dict.fromkeys(missing):
            self.add(
                "error",
                mark,
                f"required field {name!r} of {model.__name__} is filled by no branch of the"
                f" template (model {self.version})",
            )

    def listing(
        self, node: ForEach | Repeat | StaticList, target: Target, pattern: str, mark: Mark | None
    ) -> None:
        if target.kind == "texts":
            target = Target("list", item=Target("text"))
        if target.kind != "list" or target.item is None:
            self.add(
                "error",
                mark,
                f"{_name(pattern)}: a list here, but the model has a {target.describe()} field",
            )
            return
        if isinstance(node, ForEach):
            items: tuple[Node, ...] = (node.item,)
        elif isinstance(node, Repeat):
            items = tuple(item for item, _ in node.groups[:1])
        else:
            items = node.items
        for item in items:
            self.node(item, target.item, pattern + "/*", mark)

    # -- values -----------------------------------------------------------------------
    def expr(self, expr: Expr, target: Target, pattern: str, mark: Mark | None) -> None:
        field = _name(pattern)
        if expr.unchecked:
            return
        if expr.attachment is not None:
            if (
                target.kind != "object"
                or target.model is None
                or target.model.__name__ != "Vedlegg"
            ):
                self.add(
                    "error",
                    mark,
                    f"{field}: an attachment (Vedlegg) here, but the model has a"
                    f" {target.describe()} field",
                )
            return
        if expr.default is not None:
            self.constant(expr.default, target, field, mark, "default")
        kind, values = _produces(expr)
        if values is not None:
            for value in values:
                self.constant(value, target, field, mark, "value")
            return
        if kind is None:
            return
        self.fits(kind, target, field, mark)

    def fits(self, kind: str, target: Target, field: str, mark: Mark | None) -> None:
        want = target.kind
        name = target.model.__name__ if target.model else ""
        ok = {
            "text": {"text", "date"},
            "texts": {"text", "date", "list"},
            "date": {"date"},
            "number": {"number", "int"},
            "priority": {"int", "text"},
            "bool": {"bool"},
            "object": {"personnavn"} if name == "Personnavn" else set(),
            "list": {"list"} if target.item and target.item.kind == "text" else set(),
        }[want]
        if kind in ok:
            return
        said = {
            "text": "a text",
            "date": "a date",
            "number": "a number",
            "int": "a whole number",
            "bool": "true/false",
            "personnavn": "a person's name (object)",
            "list": "a list of texts",
            "pairs": "a list of key/value pairs",
        }[kind]
        hint = _HINT.get(want, "") if kind == "text" else ""
        self.add(
            "error",
            mark,
            f"{field}: type mismatch: {said} into a {target.describe()} field"
            + (f"; {hint}" if hint else ""),
        )

    def constant(
        self, value: Any, target: Target, field: str, mark: Mark | None, what: str
    ) -> None:
        if target.codes is not None:
            valid = sorted(self.spec.code_lists[target.codes])
            if value not in valid:
                self.add(
                    "error",
                    mark,
                    f"{field}: {what} {value!r} is not in the code list {target.codes} of model"
                    f" {self.version}; valid values: {', '.join(valid)}",
                )
            return
        if target.kind in {"object", "list"}:
            if not isinstance(value, dict | list):
                kind = "text" if isinstance(value, str) else _kind_of(value)
                self.fits(kind, target, field, mark)
            return
        try:
            _adapter(target.annotation).validate_python(value, context={"version": self.version})
        except ValidationError:
            self.add(
                "error",
                mark,
                f"{field}: type mismatch: {what} {value!r} does not fit a {target.describe()}"
                " field",
            )


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    return "text"


def _produces(expr: Expr) -> tuple[str | None, list[Any] | None]:
    """(kind, None) of what an expression gives, or (None, constants) when it is a fixed set."""
    if expr.kind == "const":
        return None, [expr.ref]
    if expr.kind == "coalesce" and expr.parts:
        return _produces(expr.parts[0]) if not expr.transforms else _after(expr, "text")
    start = "text"
    if expr.kind == "var" and not expr.transforms:
        return None, None  # a bound item: whatever was split or found
    if expr.kind == "concat":
        start = "text"
    return _after(expr, start)


def _after(expr: Expr, start: str) -> tuple[str | None, list[Any] | None]:
    if not expr.transforms:
        return start, None
    name, _, arg = expr.transforms[-1]
    produced = _PRODUCES.get(name, "text")
    if produced == "table":
        table = arg if isinstance(arg, dict) else {}
        return None, [v for v in table.values() if not isinstance(v, dict | list)]
    return produced, None


def _name(pattern: str) -> str:
    parts = [p for p in pattern.split("/") if p and p != "*"]
    return parts[-1] if parts else "template"


def _none(node: Obj) -> tuple[None, ...]:
    return (None,) * len(node.fields)


def check_template(
    template: Node, version: str, path: Path, mark: Mark | None = None
) -> list[MappingProblem]:
    """Every problem of `template` against model `version` (errors and warnings)."""
    checker = _Checker(version, path)
    checker.node(template, Target("object", model=Begjaering), "", mark)
    return checker.out
