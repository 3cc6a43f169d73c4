"""Loading a YAML mapping file: validated in full, every mistake reported at its line/column.

The YAML is composed into PyYAML's node tree first, so each value keeps its position.
The header (`name`, `patterns`, `source`) is validated by pydantic and its errors are
mapped back to positions; the `case` key and the `template` are compiled by hand into
engine nodes (`engine.py`): unknown keys, unknown transforms, bad transform arguments,
XPaths that do not compile and variables that are not bound all fail here, at load.

The loader reads booleans only as `true`/`false`: YAML 1.1 would turn a country code
`NO` or a flag `no` into false, which a mapping about Norway cannot afford.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import difflib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from utlegg_gateway.errors import MappingSpecError
from utlegg_gateway.mapping.engine import (
    Broken,
    Cond,
    Expr,
    ForEach,
    Node,
    Obj,
    Repeat,
    StaticList,
)
from utlegg_gateway.mapping.results import MappingProblem
from utlegg_gateway.mapping.transforms import TRANSFORMS

T = TypeVar("T")

__all__ = [
    "CsvSource",
    "FieldPos",
    "FixedSource",
    "MappingSpec",
    "RecordType",
    "RecordsSource",
    "XmlSource",
    "load_mapping",
]

VEDLEGG_TYPES = frozenset(
    {
        "betalingsoppfordring",
        "fullmakt",
        "transporterklæring",
        "tvangsgrunnlag",
        "tvangskraftgrunnlag",
        "annet",
    }
)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (YAML 1.2 style)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvSource(_Model):
    """Options of a CSV source."""

    kind: Literal["csv"]
    # Tried in order when the file has no BOM; a UTF-8 BOM always wins.
    encodings: list[str] = Field(default_factory=lambda: ["utf-8", "cp1252"], min_length=1)
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    doublequote: bool = True
    escapechar: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool = True
    columns: list[str] | None = None  # the column names when the file has no header line
    strip: bool = True
    max_bytes: int | None = Field(default=None, gt=0)
    # `adjacent`: the export promises a case's rows follow each other (sorted by the key),
    # so each case is sent as soon as the key changes instead of after the whole file.
    grouping: Literal["any", "adjacent"] = "any"

    @field_validator("encodings")
    @classmethod
    def _known_encodings(cls, value: list[str]) -> list[str]:
        for name in value:
            try:
                codecs.lookup(name)
            except LookupError:
                raise ValueError(f"unknown encoding {name!r}") from None
        return value


class XmlSource(_Model):
    """Options of an XML source."""

    kind: Literal["xml"]
    namespaces: dict[str, str] = Field(default_factory=dict)
    record: str  # the element that is one case, e.g. `in:Sak`
    max_bytes: int = Field(default=2 * 1024**3, gt=0)
    strip: bool = True


def _check_encodings(value: list[str]) -> list[str]:
    for name in value:
        try:
            codecs.lookup(name)
        except LookupError:
            raise ValueError(f"unknown encoding {name!r}") from None
    return value


_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class FieldPos(_Model):
    """A fixed-width field: 1-based `start` and `length` (or inclusive `end`)."""

    start: int = Field(ge=1)
    length: int | None = Field(default=None, ge=1)
    end: int | None = Field(default=None, ge=1)
    # What padding to cut: legacy exports pad text right and numbers left (zeros stay).
    trim: Literal["both", "left", "right", "none"] = "both"

    @classmethod
    def parse(cls, value: Any) -> Any:
        """`"3-11"` (start-end, inclusive) is short for {start: 3, end: 11}."""
        if isinstance(value, str):
            m = _RANGE.match(value)
            if not m:
                raise ValueError(f"{value!r} is not a position like '3-11'")
            return {"start": int(m[1]), "end": int(m[2])}
        return value

    @property
    def stop(self) -> int:
        """The 0-based exclusive end, for slicing."""
        if self.end is not None:
            return self.end
        return self.start - 1 + (self.length or 1)

    def model_post_init(self, _context: Any) -> None:
        if (self.length is None) == (self.end is None):
            raise ValueError("give either length or end")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")


class RecordType(_Model):
    """One record type of a header/detail file: its role and its layout."""

    # header: read once, visible to every case; case: starts a case; detail: belongs to
    # a case; trailer: checked (count), not mapped; ignore: skipped.
    role: Literal["header", "case", "detail", "trailer", "ignore"] = "detail"
    columns: list[str] | None = None  # delimited records: the field names in order
    fields: dict[str, FieldPos] | None = None  # fixed-width records: name -> position
    key: str | None = None  # `group: key`: the column holding the case key
    count: str | None = None  # trailer: the column holding a record count
    counts: list[str] | None = None  # trailer: the record types it counts (default: case)
    required: bool = False  # header/trailer: a file without one is a file error
    length: int | None = Field(default=None, ge=1)  # fixed: the exact record length

    @field_validator("fields", mode="before")
    @classmethod
    def _positions(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: FieldPos.parse(v) for k, v in value.items()}
        return value

    def names(self) -> list[str]:
        """The column names of this record type, in order."""
        return list(self.columns or self.fields or [])


class _RecordFile(_Model):
    encodings: list[str] = Field(default_factory=lambda: ["utf-8", "cp1252"], min_length=1)
    # `follow`: detail lines belong to the last case line above; `key`: lines with the
    # same key (each type's `key` column) form one case, wherever they are.
    group: Literal["follow", "key"] = "follow"
    records: dict[str, RecordType] = Field(min_length=1)
    max_bytes: int | None = Field(default=None, gt=0)
    strip: bool = True

    @field_validator("encodings")
    @classmethod
    def _known_encodings(cls, value: list[str]) -> list[str]:
        return _check_encodings(value)


class RecordsSource(_RecordFile):
    """A delimited header/detail file: the record type is one field of each line."""

    kind: Literal["records"]
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    doublequote: bool = True
    escapechar: str | None = Field(default=None, min_length=1, max_length=1)
    type_field: int = Field(default=1, ge=1)  # 1-based position of the record type


class FixedSource(_RecordFile):
    """A fixed-width (positional) file, one record per line, typed by a position."""

    kind: Literal["fixed"]
    # Where the record type is; without it the file has one record type.
    type: FieldPos | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _position(cls, value: Any) -> Any:
        return FieldPos.parse(value)


Source = CsvSource | XmlSource | RecordsSource | FixedSource


class _Header(_Model):
    name: str | None = None
    description: str | None = None
    patterns: list[str] = Field(default_factory=list)
    source: Annotated[Source, Field(discriminator="kind")]
    case: Any
    template: Any


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """A loaded, validated mapping: what `map_file` runs."""

    name: str
    path: Path
    patterns: tuple[str, ...]
    source: Source
    key: Expr
    template: Node
    columns: tuple[str, ...] = ()  # CSV: the columns the mapping reads, in index order
    record_tag: str = ""  # XML: Clark name of the record element
    namespaces: dict[str, str] = field(default_factory=dict)
    # What `mapping check` found that does not stop the mapping (and the model version
    # the template was checked against, None when it was not).
    warnings: tuple[MappingProblem, ...] = ()
    model_version: str | None = None
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)  # `record`: its YAML place
    # The YAML this spec was compiled from: a mapping worker process compiles the very same
    # text, not whatever the file holds by the time it starts.
    text: str = field(default="", repr=False)

    @property
    def kind(self) -> Literal["csv", "xml", "records", "fixed"]:
        """`csv`, `xml`, `records` (delimited header/detail) or `fixed` (fixed-width)."""
        return self.source.kind


_SOURCE_KEYS = ("col", "xpath", "const", "var", "concat", "coalesce")
_EXPR_KEYS = frozenset(
    {*_SOURCE_KEYS, "transform", "default", "required", "when", "attachment", "strip"}
)
_TESTS = ("equals", "in", "not_in", "empty", "present")
_COND_KEYS = frozenset({*_SOURCE_KEYS, "transform", "strip", *_TESTS})
_OBJ_DIRECTIVES = frozenset({"$when", "$omit_if_empty"})
_FOREACH_KEYS = frozenset({"$for_each", "$item", "$as", "$when", "$omit_if_empty"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ATTR = re.compile(r"^@([A-Za-z_][\w.-]*)$")
# A namespace prefix in an XPath (`in:Sak`), not an axis (`ancestor::`) or a string.
_PREFIX = re.compile(r"(?<![\w:.-])([A-Za-z_][\w.-]*):(?![:])")
_STRING_LITERAL = re.compile(r"\"[^\"]*\"|'[^']*'")


# An element name test without a prefix: not a function (`count(`), an axis (`child::`),
# an attribute (`@x`), a variable (`$x`), a prefix (`in:`) or an operator.
_BARE_NAME = re.compile(r"(?<![\w:.@$-])([A-Za-z_][\w.-]*)(?![\w.-])(?!\s*\()(?!\s*::)(?!:)")
_OPERATORS = frozenset({"and", "or", "div", "mod"})
_AXIS = re.compile(r"[A-Za-z-]+\s*::")


def _unprefixed_names(text: str) -> list[str]:
    """Element names an XPath tests without a namespace prefix (`Sak` in `Sak/@nr`)."""
    names = []
    for m in _BARE_NAME.finditer(_AXIS.sub("", _STRING_LITERAL.sub("''", text))):
        if m[1] in _OPERATORS or m[1] in names:
            continue
        names.append(m[1])
    return names


_STEP = r"(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*"
_SIMPLE = re.compile(rf"^(/)?({_STEP}(?:/{_STEP})*)(?:/@([A-Za-z_][\w.-]*))?$")


def _simple_path(
    text: str, namespaces: dict[str, str]
) -> tuple[str | None, str | None, str | None] | None:
    """(root tag, ElementPath, attribute) for a plain child path, else None (use XPath)."""
    m = _SIMPLE.match(text)
    if not m:
        return None
    steps = []
    for step in m[2].split("/"):
        prefix, _, local = step.rpartition(":")
        steps.append(f"{{{namespaces[prefix]}}}{local}" if prefix else local)
    root = None
    if m[1]:
        root, steps = steps[0], steps[1:]
    return root, "/".join(steps) or None, m[3]


class _Problem(Exception):
    """Raised by the compiler at a mistake; caught where compiling can go on without it."""

    def __init__(self, problem: MappingProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _problem(
    path: Path, node: yaml.Node | None, message: str, severity: Literal["error", "warning"]
) -> MappingProblem:
    if node is None:
        return MappingProblem(severity, message, str(path))
    line, col = _mark_of(node)
    return MappingProblem(severity, message, str(path), line, col)


class _Compiler:
    def __init__(self, loader: _Loader, path: Path, source: Source | None) -> None:
        self.loader = loader
        self.path = path
        self.source: Any = source
        # Every problem found so far: compiling goes on after a mistake, so one run
        # reports them all (`mapping check`); any error means no MappingSpec.
        self.problems: list[MappingProblem] = []
        self.record_tag = ""  # XML: the Clark name of the record element
        self.marks: dict[str, tuple[int, int]] = {}  # named YAML positions (`record`)
        self.columns: dict[str, int] = {}
        self.bound: list[str] = []
        # `$for_each: {repeat: …}`: name -> the group number, put into `{name}` in texts.
        self.subst: dict[str, int] = {}
        # The column expressions of the repeated group being compiled (to skip it empty).
        self.group_cols: list[list[Expr]] = []

    def substitute(self, text: str) -> str:
        for name, number in self.subst.items():
            text = text.replace(f"{{{name}}}", str(number))
        return text

    @property
    def tabular(self) -> bool:
        """Sources read by `col` (rows), as opposed to XML."""
        return bool(self.source.kind != "xml")

    def record_column(self, node: yaml.Node, name: str) -> tuple[str, int]:
        """(record type, index) of `TYPE.COLUMN`, or of a COLUMN only one type has."""
        assert isinstance(self.source, RecordsSource | FixedSource)
        records = self.source.records
        rtype, dot, column = name.partition(".")
        if dot and rtype in records:
            names = records[rtype].names()
            if column in names:
                return rtype, names.index(column)
            close = difflib.get_close_matches(column, names, n=1)
            hint = f" (did you mean {rtype}.{close[0]}?)" if close else ""
            self.fail(node, f"record type {rtype!r} has no column {column!r}{hint}")
        owners = [t for t, r in records.items() if name in r.names()]
        if len(owners) == 1:
            return owners[0], records[owners[0]].names().index(name)
        if owners:
            both = ", ".join(f"{t}.{name}" for t in owners)
            self.fail(node, f"column {name!r} is in several record types: write one of {both}")
        every = [f"{t}.{c}" for t, r in records.items() for c in r.names()]
        close = difflib.get_close_matches(name, every + [c.partition(".")[2] for c in every], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _Problem(
            _problem(self.path, node, f"no record type has a column {name!r}{hint}", "error")
        )

    def fail(self, node: yaml.Node | None, message: str) -> NoReturn:
        raise _Problem(_problem(self.path, node, message, "error"))

    def note(self, node: yaml.Node | None, message: str) -> None:
        """Record an error and go on."""
        self.problems.append(_problem(self.path, node, message, "error"))

    def warn(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(_problem(self.path, node, message, "warning"))

    def attempt(self, func: Callable[..., T], *args: Any) -> T | None:
        """`func(*args)`, or None with its problem recorded."""
        try:
            return func(*args)
        except _Problem as exc:
            self.problems.append(exc.problem)
            return None

    def py(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def pairs(self, node: yaml.Node) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, "expected a mapping here")
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = self.py(key_node)
            if not isinstance(key, str):
                self.note(key_node, f"keys must be text, got {key!r}")
                continue
            if key in seen:
                self.note(key_node, f"duplicate key {key!r}")
                continue
            seen.add(key)
            yield key, key_node, value_node

    def unknown(self, key_node: yaml.Node, key: str, known: frozenset[str], what: str) -> NoReturn:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.fail(key_node, f"unknown key {key!r} in {what}{hint}")

    # -- template ---------------------------------------------------------------------
    def value_or_broken(self, node: yaml.Node) -> Node:
        """The compiled value, or a `Broken` placeholder with its problem recorded."""
        compiled = self.attempt(self.value, node)
        return Broken() if compiled is None else compiled

    def value(self, node: yaml.Node) -> Node:
        if isinstance(node, yaml.SequenceNode):
            return StaticList(tuple(self.value_or_broken(item) for item in node.value))
        if not isinstance(node, yaml.MappingNode):
            shown = self.py(node)
            self.fail(
                node,
                f"a bare value {shown!r} in the template: write {{const: {shown!r}}} "
                "for a constant, or {col: …} / {xpath: …} to read the source",
            )
        keys = {self.py(k) for k, _ in node.value}
        if "$for_each" in keys:
            return self.for_each(node)
        if keys & set(_SOURCE_KEYS):
            return self.expr(node)
        return self.obj(node)

    def obj(self, node: yaml.Node) -> Obj:
        fields: list[tuple[str, Node]] = []
        marks: list[tuple[int, int]] = []
        when: Cond | None = None
        omit: bool | None = True
        for key, key_node, value_node in self.pairs(node):
            if key == "$when":
                when = self.attempt(self.cond, value_node)
            elif key == "$omit_if_empty":
                omit = self.attempt(self.boolean, value_node)
            elif key.startswith("$"):
                self.attempt(self.unknown, key_node, key, _OBJ_DIRECTIVES, "an object template")
            else:
                fields.append((key, self.value_or_broken(value_node)))
                marks.append(_mark_of(key_node))
        return Obj.of(fields, when, omit is not False, marks)

    def for_each(self, node: yaml.Node) -> ForEach | Repeat:
        parts = {}
        for key, key_node, value_node in self.pairs(node):
            if key not in _FOREACH_KEYS:
                self.unknown(key_node, key, _FOREACH_KEYS, "a $for_each list")
            parts[key] = (key_node, value_node)
        if "$item" not in parts:
            self.fail(node, "$for_each needs an $item template")
        if "$for_each" not in parts:
            self.fail(node, "$for_each is missing")
        as_name = None
        if "$as" in parts:
            as_name = self.py(parts["$as"][1])
            if not isinstance(as_name, str) or not _NAME.match(as_name):
                self.fail(parts["$as"][1], "$as must be a simple name like `p`")
        source_node = parts["$for_each"][1]
        if isinstance(source_node, yaml.MappingNode) and any(
            self.py(k) == "repeat" for k, _ in source_node.value
        ):
            return self.repeat(node, parts)
        mode, group_col, source, rtype = self.for_each_source(source_node)
        bound = as_name or ("item" if mode == "expr" else None)
        when = self.cond(parts["$when"][1]) if "$when" in parts else None
        omit = self.boolean(parts["$omit_if_empty"][1]) if "$omit_if_empty" in parts else True
        if bound:
            self.bound.append(bound)
        try:
            item = self.value_or_broken(parts["$item"][1])
        finally:
            if bound:
                self.bound.pop()
        return ForEach(mode, item, group_col, source, as_name, when, omit, rtype)

    def repeat(self, node: yaml.Node, parts: dict[str, tuple[yaml.Node, yaml.Node]]) -> Repeat:
        """`{repeat: 5}` / `{repeat: [1, 5]}`: the item once per group number, `{n}` put in."""
        source_node = parts["$for_each"][1]
        items = {self.py(k): v for k, v in source_node.value}
        if len(items) != 1:
            self.fail(source_node, "write {repeat: COUNT} or {repeat: [FIRST, LAST]}")
        bounds_node = items["repeat"]
        bounds = self.py(bounds_node)
        if isinstance(bounds, int) and not isinstance(bounds, bool):
            bounds = [1, bounds]
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
            or bounds[0] > bounds[1]
        ):
            self.fail(bounds_node, "repeat takes a count or [FIRST, LAST] (whole numbers)")
        name = "n"
        if "$as" in parts:
            name = self.py(parts["$as"][1])
            if not isinstance(name, str) or not _NAME.match(name):
                self.fail(parts["$as"][1], "$as must be a simple name like `n`")
        when = self.cond(parts["$when"][1]) if "$when" in parts else None
        omit = self.boolean(parts["$omit_if_empty"][1]) if "$omit_if_empty" in parts else True
        groups: list[tuple[Node, tuple[Expr, ...]]] = []
        for number in range(bounds[0], bounds[1] + 1):
            self.subst[name] = number
            self.group_cols.append([])
            before = len(self.problems)
            try:
                item = self.value_or_broken(parts["$item"][1])
            finally:
                del self.subst[name]
                cols = self.group_cols.pop()
            groups.append((item, tuple(cols)))
            if len(self.problems) > before and any(
                p.severity == "error" for p in self.problems[before:]
            ):
                break  # the same mistake in every group: reported once
        return Repeat(tuple(groups), when, omit)

    def for_each_source(self, node: yaml.Node) -> tuple[str, int, Expr | None, str | None]:
        if isinstance(node, yaml.MappingNode):
            keys = {self.py(k): (k, v) for k, v in node.value}
            if "group_by" in keys or "rows" in keys or "records" in keys:
                if not self.tabular:
                    self.fail(node, "group_by / rows / records are for rows; use xpath for XML")
                if len(keys) != 1:
                    self.fail(node, "give one of {group_by: COLUMN}, {rows: true}, {records: T}")
                if "records" in keys:
                    rtype = self.py(keys["records"][1])
                    if not isinstance(self.source, RecordsSource | FixedSource):
                        self.fail(keys["records"][0], "records is for record-type sources")
                    if rtype not in self.source.records:
                        known = ", ".join(sorted(self.source.records))
                        self.fail(keys["records"][1], f"no record type {rtype!r} ({known})")
                    return "records", -1, None, rtype
                if "rows" in keys:
                    if self.py(keys["rows"][1]) is not True:
                        self.fail(keys["rows"][1], "write {rows: true}")
                    return "rows", -1, None, None
                col = self.py(keys["group_by"][1])
                if not isinstance(col, str) or not col:
                    self.fail(keys["group_by"][1], "group_by names a column")
                if self.source.kind == "csv":
                    return "group_by", self.column(col), None, None
                rtype, index = self.record_column(keys["group_by"][1], col)
                return "group_by", index, None, rtype
        expr = self.expr(node, allowed=frozenset({*_SOURCE_KEYS, "transform"}))
        return "expr", -1, expr, None

    def boolean(self, node: yaml.Node) -> bool:
        value = self.py(node)
        if not isinstance(value, bool):
            self.fail(node, "expected true or false")
        return value

    def column(self, name: str) -> int:
        return self.columns.setdefault(name, len(self.columns))

    # -- expressions ------------------------------------------------------------------
    def expr(self, node: yaml.Node, allowed: frozenset[str] = _EXPR_KEYS) -> Expr:
        items = {key: (key_node, value_node) for key, key_node, value_node in self.pairs(node)}
        for key, (key_node, _) in list(items.items()):
            if key not in allowed:
                self.attempt(self.unknown, key_node, key, allowed, "a value expression")
                del items[key]
        sources = [k for k in _SOURCE_KEYS if k in items]
        if len(sources) != 1:
            self.fail(node, f"give exactly one of {', '.join(_SOURCE_KEYS)}")
        source_node = items[sources[0]][1]
        expr = self.read_source(sources[0], source_node)
        expr.mark = _mark_of(source_node)
        if "transform" in items:
            before = len(self.problems)
            expr.transforms = self.transforms(items["transform"][1])
            expr.unchecked = len(self.problems) > before
        if "default" in items:
            expr.default = self.py(items["default"][1])
        if "required" in items:
            expr.required = self.attempt(self.boolean, items["required"][1]) is True
        if "strip" in items:
            expr.strip = self.attempt(self.boolean, items["strip"][1]) is not False
        else:
            expr.strip = self.source.strip
        if "when" in items:
            expr.when = self.attempt(self.cond, items["when"][1])
        if "attachment" in items:
            kind = self.py(items["attachment"][1])
            if kind not in VEDLEGG_TYPES:
                known = ", ".join(sorted(VEDLEGG_TYPES))
                self.note(items["attachment"][1], f"unknown attachment type {kind!r} ({known})")
                expr.unchecked = True
            else:
                expr.attachment = kind
        return expr

    def read_source(self, kind: str, node: yaml.Node) -> Expr:
        value = self.py(node)
        if kind in {"concat", "coalesce"}:
            return self.combine(kind, node)
        if kind == "const":
            if isinstance(value, str) and self.subst:
                value = self.substitute(value)
            return Expr("const", value, None)
        if not isinstance(value, str) or not value:
            self.fail(node, f"{kind} must be non-empty text")
        numbered = self.substitute(value) != value  # a column of the repeated group
        value = self.substitute(value)
        if kind == "col":
            if not self.tabular:
                self.fail(node, "col is for CSV, record-type and fixed-width sources; use xpath")
            if isinstance(self.source, CsvSource | XmlSource):
                expr = Expr("col", self.column(value), value)
            else:
                rtype, index = self.record_column(node, value)
                expr = Expr("col", index, f"{rtype}.{self.source.records[rtype].names()[index]}")
                expr.rtype = rtype
            if self.group_cols and numbered:
                self.group_cols[-1].append(expr)
            return expr
        if kind == "var":
            path = tuple(value.split("."))
            if path[0] not in self.bound:
                bound = ", ".join(self.bound) or "none"
                self.fail(node, f"variable {path[0]!r} is not bound here (bound: {bound})")
            return Expr("var", path, value)
        if self.source.kind != "xml":
            self.fail(node, "xpath is for XML sources; use col for CSV")
        return self.xpath(node, value)

    def combine(self, kind: str, node: yaml.Node) -> Expr:
        """`concat: [{col: A}, " ", {col: B}]` / `coalesce: [{col: A}, {col: B}]`."""
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, f"{kind} takes a list of value expressions")
        parts = []
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                text = self.py(item)
                if kind == "coalesce" or not isinstance(text, str):
                    self.fail(item, f"write {{const: {text!r}}} for a constant in {kind}")
                parts.append(Expr("const", self.substitute(text), None, strip=False))
            else:
                allowed = frozenset({*_SOURCE_KEYS, "transform", "default", "strip"})
                parts.append(self.expr(item, allowed=allowed))
        labels = [p.label for p in parts if p.label]
        expr = Expr(kind, None, f"{kind}({', '.join(labels)})")
        expr.parts = tuple(parts)
        return expr

    def xpath(self, node: yaml.Node, text: str) -> Expr:
        assert isinstance(self.source, XmlSource)
        namespaces = self.source.namespaces
        for prefix in _PREFIX.findall(_STRING_LITERAL.sub("''", text)):
            if prefix not in namespaces:
                self.fail(
                    node,
                    f"namespace prefix {prefix!r} in XPath {text!r} is not declared "
                    "under source.namespaces",
                )
        try:
            compiled = etree.XPath(text, namespaces=namespaces)
            # Unknown functions and unbound variables only show when evaluated: try once.
            compiled(etree.Element("probe"))
        except etree.XPathError as exc:
            self.fail(node, f"XPath {text!r} does not compile: {exc}")
        expr = Expr("xpath", compiled, text)
        if self.record_tag.startswith("{"):
            bare = _unprefixed_names(text)
            if bare:
                names = ", ".join(bare)
                prefix = next(
                    (p for p, uri in namespaces.items() if self.record_tag[1:].startswith(uri)),
                    "in",
                )
                self.warn(
                    node,
                    f"XPath {text!r} names {names} without a namespace prefix: the records are "
                    f"in namespace {self.record_tag[1:].partition('}')[0]!r}, so it matches "
                    f"only elements in no namespace (write {prefix}:{bare[0]})",
                )
        m = _ATTR.match(text)
        if m:
            expr.attr = m[1]
        else:
            expr.simple = _simple_path(text, namespaces)
        return expr

    def transforms(self, node: yaml.Node) -> tuple[tuple[str, Any, Any], ...]:
        steps = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for step in steps:
            if isinstance(step, yaml.MappingNode):
                if len(step.value) != 1:
                    self.fail(step, "a transform with an argument is written {name: argument}")
                name_node, arg_node = step.value[0]
                name, arg = self.py(name_node), self.py(arg_node)
            else:
                name_node, arg_node, name, arg = step, step, self.py(step), None
            if name not in TRANSFORMS:
                close = difflib.get_close_matches(str(name), sorted(TRANSFORMS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.note(name_node, f"unknown transform {name!r}{hint}")
                continue
            transform = TRANSFORMS[name]
            if name == "lookup":
                arg = self.attempt(self.lookup_table, arg_node, arg)
                if arg is None:
                    continue
            try:
                parsed = transform.parse_arg(arg)
            except ValueError as exc:
                self.note(arg_node, f"transform {name!r}: {exc}")
                continue
            out.append((name, transform.func, parsed))
        return tuple(out)

    def lookup_table(self, node: yaml.Node, arg: Any) -> Any:
        """`{file: NAME}`: a YAML mapping or a two-column CSV beside the mapping file."""
        if not isinstance(arg, dict) or set(arg) != {"file"} or not isinstance(arg["file"], str):
            self.fail(node, "lookup takes {file: TABLE.yaml} or {file: TABLE.csv}")
        table_path = self.path.parent / arg["file"]
        try:
            text = table_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(node, f"cannot read lookup table {table_path}: {exc}")
        if table_path.suffix.lower() == ".csv":
            rows = [r for r in csv.reader(io.StringIO(text), delimiter=";") if r]
            if any(len(r) != 2 for r in rows):
                self.fail(node, f"{table_path}: a lookup CSV has two columns: code;value")
            return {"table": dict(rows)}
        try:
            table = yaml.load(text, Loader=_Loader)  # noqa: S506  (_Loader is a SafeLoader)
        except yaml.YAMLError as exc:
            self.fail(node, f"{table_path}: not valid YAML: {exc}")
        if not isinstance(table, dict) or not table:
            self.fail(node, f"{table_path}: a lookup table is a YAML mapping code: value")
        return {"table": table}

    def cond(self, node: yaml.Node) -> Cond:
        items = {key: (key_node, value_node) for key, key_node, value_node in self.pairs(node)}
        combinators = [k for k in ("all", "any", "not") if k in items]
        if combinators:
            if len(items) != 1:
                self.fail(node, f"{combinators[0]} stands alone in its condition")
            combinator = combinators[0]
            value_node = items[combinator][1]
            if combinator == "not":
                return Cond("not", parts=(self.cond(value_node),))
            if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
                self.fail(value_node, f"{combinator} takes a list of conditions")
            conds = [self.attempt(self.cond, n) for n in value_node.value]
            return Cond(combinator, parts=tuple(c for c in conds if c is not None))
        for key, (key_node, _) in items.items():
            if key not in _COND_KEYS:
                self.attempt(
                    self.unknown, key_node, key, _COND_KEYS | {"all", "any", "not"}, "a condition"
                )
        tests = [k for k in _TESTS if k in items]
        if len(tests) > 1:
            self.fail(node, f"one test per condition (got {', '.join(tests)}); combine with all")
        expr_node = yaml.MappingNode(
            "tag:yaml.org,2002:map",
            [(k, v) for k, v in node.value if self.py(k) not in _TESTS],
            node.start_mark,
            node.end_mark,
        )
        expr = self.expr(expr_node, allowed=frozenset({*_SOURCE_KEYS, "transform", "strip"}))
        if not tests:
            return Cond("present", expr, True)
        op = tests[0]
        operand = self.py(items[op][1])
        if op in {"in", "not_in"}:
            if not isinstance(operand, list):
                self.fail(items[op][1], f"{op} takes a list of values")
            operand = tuple(operand)
        if op in {"empty", "present"} and not isinstance(operand, bool):
            self.fail(items[op][1], f"{op} takes true or false")
        return Cond(op, expr, operand)


def _mark_of(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _spec_error(path: Path, node: yaml.Node | None, message: str) -> MappingSpecError:
    if node is None:
        return MappingSpecError(f"{path}: {message}", file=str(path))
    line, col = _mark_of(node)
    return MappingSpecError(
        f"{path}:{line}:{col}: {message}", file=str(path), row=line, column=str(col)
    )


def _node_at(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node:
    """The YAML node a pydantic error location points at (the key node for unknown keys)."""
    node = root
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == part:
                    node = key_node if i == len(loc) - 1 else value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
    return node


def load_mapping(path: Path, *, version: str | None = None, text: str | None = None) -> MappingSpec:
    """Load and validate a mapping file; any mistake is a MappingSpecError with line/column.

    With a model `version` the template is also checked against the target model of that
    version (`mapping check`): unknown target fields, required fields no branch fills,
    constants outside their code list, type mismatches. The error names the first
    problem and holds all of them in `problems`; warnings stay on the spec. With `text`
    that YAML is compiled, `path` only naming it.
    """
    spec, problems = compile_mapping(path, version=version, text=text)
    errors = [p for p in problems if p.severity == "error"]
    if spec is None or errors:
        first = errors[0] if errors else problems[0]
        more = len(errors) - 1
        text = first.describe().replace(": error: ", ": ", 1)
        if more > 0:
            rest = "\n".join(p.describe() for p in errors[1:])
            text += f"\n(+{more} more)\n{rest}"
        err = MappingSpecError(
            text,
            file=str(path),
            row=first.line,
            column=None if first.column is None else str(first.column),
            hint="`utlegg-gateway mapping check FILE` lists every problem" if more > 0 else None,
        )
        err.problems = tuple(problems)
        raise err
    return spec


def compile_mapping(
    path: Path, *, version: str | None = None, text: str | None = None
) -> tuple[MappingSpec | None, list[MappingProblem]]:
    """(the spec, every problem found, sorted by position): never raises for a mistake in
    the file, only reports it. The spec is None when the file does not compile; it is
    there (but must not be used as is) when only the model check found errors."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingSpecError(f"cannot read mapping {path}: {exc}", file=str(path)) from exc
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            problem = MappingProblem(
                "error", f"not valid YAML: {exc.problem or exc}", str(path), line, col
            )
            return None, [problem]
        if not isinstance(root, yaml.MappingNode):
            return None, [
                _problem(path, root, "a mapping file is a YAML mapping at the top level", "error")
            ]
        compiler = _Compiler(loader, path, None)
        spec = None
        try:
            spec = _compile(compiler, root, path, version)
        except _Problem as exc:
            compiler.problems.append(exc.problem)
        problems = _dedupe(compiler.problems)
        # A spec that compiled but breaks the model is returned (for `mapping check` to
        # run it over samples); load_mapping refuses it like any other error.
        if spec is not None:
            spec = dataclasses.replace(
                spec, warnings=tuple(problems), model_version=version, text=text
            )
        return spec, problems
    finally:
        loader.dispose()


def _dedupe(problems: list[MappingProblem]) -> list[MappingProblem]:
    """One problem per position (a mistake seen by two compile steps), in file order."""
    seen: set[tuple[int | None, int | None, str]] = set()
    out = []
    for problem in problems:
        key = (problem.line, problem.column, problem.severity)
        if key in seen:
            continue
        seen.add(key)
        out.append(problem)
    return sorted(out, key=lambda p: (p.line or 0, p.column or 0))


def _check_records(
    compiler: _Compiler, root: yaml.MappingNode, source: RecordsSource | FixedSource
) -> None:
    """Layouts that cannot work: no case type, a key or count column a type lacks, …"""
    layout = "columns" if isinstance(source, RecordsSource) else "fields"
    if not any(r.role == "case" for r in source.records.values()):
        compiler.fail(
            _node_at(root, ("source", "records")), "no record type has role: case (what starts one)"
        )
    if isinstance(source, FixedSource) and source.type is None and len(source.records) > 1:
        compiler.fail(
            _node_at(root, ("source", "records")),
            "several record types need `type`: the position of the record type in each line",
        )
    for name, record in source.records.items():
        where = ("source", "records", name)
        if not record.names():
            compiler.fail(_node_at(root, where), f"record type {name!r} needs `{layout}`")
        if (record.columns is not None) != (layout == "columns"):
            other = "fields" if layout == "columns" else "columns"
            compiler.fail(
                _node_at(root, (*where, other)),
                f"{source.kind} records are laid out by `{layout}`, not `{other}`",
            )
        checks = [("key", record.key), ("count", record.count)]
        for what, column in checks:
            if column is not None and column not in record.names():
                close = difflib.get_close_matches(column, record.names(), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                compiler.fail(
                    _node_at(root, (*where, what)),
                    f"{what}: record type {name!r} has no column {column!r}{hint}",
                )
        if source.group == "key" and record.role in {"case", "detail"} and record.key is None:
            compiler.fail(
                _node_at(root, where),
                f"group: key needs `key` (the case key column) on record type {name!r}",
            )
        for counted in record.counts or ():
            if counted not in source.records:
                known = ", ".join(sorted(source.records))
                compiler.fail(
                    _node_at(root, (*where, "counts")), f"no record type {counted!r} ({known})"
                )


_SOURCE_CLASSES: dict[str, type[_Model]] = {
    "csv": CsvSource,
    "xml": XmlSource,
    "records": RecordsSource,
    "fixed": FixedSource,
}


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed where a pydantic `extra_forbidden` error points (for did-you-mean)."""
    parent = loc[:-1]
    if not parent:
        return list(_Header.model_fields)
    if parent[0] != "source" or len(parent) < 2:
        return []
    cls = _SOURCE_CLASSES.get(str(parent[1]))
    if cls is None:
        return []
    if len(parent) == 2:
        return list(cls.model_fields)
    if parent[2:3] == ("records",) and len(parent) == 4:
        return list(RecordType.model_fields)
    if parent[2:3] == ("records",) and len(parent) == 6:
        return list(FieldPos.model_fields)
    return []


def _compile(
    compiler: _Compiler, root: yaml.MappingNode, path: Path, version: str | None
) -> MappingSpec | None:
    # Top-level keys starting with `x-` hold YAML anchors for reuse; they are not compiled
    # on their own, only where an alias (`*name`) places them in the template.
    loader = compiler.loader
    root = yaml.MappingNode(
        root.tag,
        [(k, v) for k, v in root.value if not str(getattr(k, "value", "")).startswith("x-")],
        root.start_mark,
        root.end_mark,
    )
    data = loader.construct_document(root)
    header = _header(compiler, root, data)
    if header is None:
        return None
    nodes = {key_node.value: value_node for key_node, value_node in root.value}
    compiler.source = header.source
    source = header.source
    record_tag = ""
    if isinstance(source, XmlSource):
        record_node = _node_at(root, ("source", "record"))
        prefix, _, local = source.record.rpartition(":")
        if prefix and prefix not in source.namespaces:
            compiler.fail(record_node, f"namespace prefix {prefix!r} is not declared")
        record_tag = f"{{{source.namespaces[prefix]}}}{local}" if prefix else local
        compiler.marks["record"] = _mark_of(record_node)
    elif isinstance(source, CsvSource):
        if not source.header and not source.columns:
            compiler.note(
                _node_at(root, ("source",)), "a CSV without a header line needs `columns`"
            )
    else:
        compiler.attempt(_check_records, compiler, root, source)
    compiler.record_tag = record_tag
    key_expr = compiler.attempt(_case_key, compiler, nodes["case"])
    template_node = nodes["template"]
    if not isinstance(template_node, yaml.MappingNode):
        compiler.fail(template_node, "the template is an object (a YAML mapping)")
    template = compiler.value_or_broken(template_node)
    if key_expr is None or any(p.severity == "error" for p in compiler.problems):
        key_expr = None  # it does not compile: no spec (the model check still runs)
    if version is not None:
        from utlegg_gateway.mapping.target import check_template

        key_mark = next(_mark_of(k) for k, _ in root.value if k.value == "template")
        compiler.problems.extend(check_template(template, version, path, key_mark))
    if key_expr is None:
        return None
    return MappingSpec(
        name=header.name or path.stem,
        path=path,
        patterns=tuple(header.patterns),
        source=source,
        key=key_expr,
        template=template,
        columns=tuple(compiler.columns),
        record_tag=record_tag,
        namespaces=dict(source.namespaces) if isinstance(source, XmlSource) else {},
        marks=dict(compiler.marks),
    )


def _header(compiler: _Compiler, root: yaml.MappingNode, data: Any) -> _Header | None:
    """The validated header, every mistake in it recorded. Unknown keys (typos) are
    reported and dropped, so the template is still compiled and checked in the same run."""
    for _ in range(10):
        try:
            return _Header.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
            for err in errors:
                loc = tuple(err["loc"])
                where = ".".join(str(p) for p in loc)
                if err["type"] == "extra_forbidden":
                    close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
                    msg = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
                else:
                    msg = err["msg"]
                compiler.note(_node_at(root, loc), f"{where}: {msg}")
            if any(e["type"] != "extra_forbidden" for e in errors):
                return None
            for err in errors:
                _drop(data, tuple(err["loc"]))
    return None


def _drop(data: Any, loc: tuple[int | str, ...]) -> None:
    """Remove the key at a pydantic location (union tags like `csv` are skipped)."""
    node: Any = data
    for part in loc[:-1]:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
    if isinstance(node, dict):
        node.pop(loc[-1], None)


def _case_key(compiler: _Compiler, node: yaml.Node) -> Expr:
    case_items = {k: (kn, vn) for k, kn, vn in compiler.pairs(node)}
    for key, (key_node, _) in case_items.items():
        if key != "key":
            compiler.attempt(compiler.unknown, key_node, key, frozenset({"key"}), "case")
    if "key" not in case_items:
        compiler.fail(node, "case needs a key: the value that identifies a case")
    return compiler.expr(case_items["key"][1], frozenset({*_SOURCE_KEYS, "transform"}))
