"""Evaluation of a compiled mapping template against one case of source records.

The template is a tree of nodes (`Obj`, `StaticList`, `ForEach`, `Expr`) compiled from the
YAML by `spec.py`. A node is evaluated in a `Scope`: the CSV rows of the case, group or
row, or the XML element of the case or of a child, plus the variables bound by `$as`.
Evaluation never raises for bad data: a failed value becomes a `CaseIssue` and `None`,
so one run reports every problem of a case. `None`, empty lists and empty objects are
left out of the result (an empty cell means "not given").
"""

from __future__ import annotations

import copy
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from lxml import etree

from utlegg_gateway._logging import mask, mask_identifier
from utlegg_gateway.mapping.results import AttachmentRef, CaseIssue, SourceLocation
from utlegg_gateway.mapping.transforms import TransformError
from utlegg_gateway.provning import value_rule

__all__ = [
    "FAILED",
    "Broken",
    "BuildState",
    "Cond",
    "Expr",
    "ForEach",
    "Node",
    "Obj",
    "Repeat",
    "Row",
    "Scope",
    "StaticList",
    "attachment_refs",
    "json_number",
    "pointer_segment",
]

# Target fields whose values are personal identifiers: masked in every issue.
_IDENTIFIER_FIELDS = frozenset(
    {"taxIdentificationNumber", "annenOffisiellIdentifikator", "kontonummer", "foedselsdato"}
)
_SAFE_NAME = frozenset("/\\\x00")
# What a failed transform returns: distinct from None (a value that is simply not given).
FAILED: Any = object()


class Row(NamedTuple):
    """One record: its first physical line and its values.

    CSV: the values of the columns the mapping uses. Record-type and fixed-width files:
    every value of the record, in the order of its type's layout, and the type.
    """

    line: int
    values: tuple[str, ...]
    rtype: str = ""


@dataclass(slots=True)
class Scope:
    """Where expressions read from: CSV rows or an XML element, plus bound variables."""

    file: str
    rows: Sequence[Row] | None = None
    node: Any = None  # lxml element (XML)
    record: Any = None  # the case's record element (XML), to build element paths
    record_path: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    # Record-type files: all records of the case, and the file's header records, where a
    # typed column not in `rows` is looked up (a case value in a detail, the creditor).
    case_rows: Sequence[Row] = ()
    file_rows: Sequence[Row] = ()

    def child_rows(self, rows: Sequence[Row]) -> Scope:
        return Scope(
            self.file,
            rows=rows,
            vars=self.vars,
            case_rows=self.case_rows,
            file_rows=self.file_rows,
        )

    def typed_rows(self, rtype: str) -> list[Row]:
        """The records of type `rtype` nearest to this scope: its own, the case's, the file's."""
        for rows in (self.rows or (), self.case_rows, self.file_rows):
            found = [r for r in rows if r.rtype == rtype]
            if found:
                return found
        return []

    def child_node(self, node: Any) -> Scope:
        return Scope(
            self.file, node=node, record=self.record, record_path=self.record_path, vars=self.vars
        )

    def with_var(self, name: str, value: Any) -> Scope:
        return Scope(
            self.file,
            self.rows,
            self.node,
            self.record,
            self.record_path,
            {**self.vars, name: value},
            self.case_rows,
            self.file_rows,
        )

    def location(self, rtype: str | None = None) -> SourceLocation:
        """The location of what this scope reads (first row / the element)."""
        if rtype is not None:
            typed = self.typed_rows(rtype)
            if typed:
                return SourceLocation(self.file, rows=(typed[0].line,))
        if self.rows is not None:
            return SourceLocation(self.file, rows=(self.rows[0].line,) if self.rows else None)
        if self.node is not None:
            return SourceLocation(self.file, element=self.element_path(), line=self.node.sourceline)
        return SourceLocation(self.file)

    def element_path(self) -> str:
        """`/Root/Sak[2]/Grunnlag[1]`: indexes count same-named siblings, 1-based."""
        parts: list[str] = []
        node = self.node
        while node is not None and node is not self.record:
            parent = node.getparent()
            index = 1
            if parent is not None:
                index = 1 + sum(1 for s in node.itersiblings(preceding=True) if s.tag == node.tag)
            parts.append(f"{etree.QName(node).localname}[{index}]")
            node = parent
        return self.record_path + "".join(f"/{p}" for p in reversed(parts))


@dataclass(slots=True)
class BuildState:
    """Collects the issues of one case; optionally which source fed each target pointer."""

    issues: list[CaseIssue] = field(default_factory=list)
    track: dict[str, tuple[Scope, str | None]] | None = None
    # (filnavn, type) -> JSON pointers of its Vedlegg objects. Pointers are final when
    # recorded: list items get the index they are appended at, and an object holding a
    # Vedlegg is never empty, so never dropped.
    attachments: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # `mapping explain`: the expression that made each pointer's value, and whether its
    # `default` stood in for an empty source.
    explain: dict[str, tuple[Expr, bool]] | None = None

    def issue(
        self,
        code: str,
        message: str,
        pointer: str,
        scope: Scope,
        *,
        column: str | None,
        value: Any,
        rule: str | None = None,
        rtype: str | None = None,
    ) -> None:
        fld = _field_of(pointer)
        shown = None if value is None else _mask_value(str(value), fld)
        if shown is not None and fld in _IDENTIFIER_FIELDS:
            message = message.replace(repr(str(value)), repr(shown)).replace(str(value), shown)
        self.issues.append(
            CaseIssue(
                code,
                mask(message),
                pointer or "",
                fld,
                scope.location(rtype),
                column,
                shown,
                rule,
            )
        )


def _field_of(pointer: str) -> str | None:
    for part in reversed(pointer.split("/")):
        if part and not part.isdigit():
            return part.replace("~1", "/").replace("~0", "~")
    return None


def _mask_value(value: str, fld: str | None) -> str:
    if fld in _IDENTIFIER_FIELDS:
        return mask_identifier(value)
    return mask(value)


def pointer_segment(key: str) -> str:
    """`/key` with JSON-pointer escaping."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


class Node:
    """A compiled template node."""

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        raise NotImplementedError


# A YAML position (1-based line, column) kept on compiled nodes for `mapping check`.
Mark = tuple[int, int]


class Broken(Node):
    """Stands for a part of the template that did not compile (never built: load fails)."""

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        raise AssertionError("a mapping with errors is never run")


TransformStep = tuple[str, Callable[[Any, Any], Any], Any]


@dataclass(slots=True)
class Expr(Node):
    """A leaf value: read (`col`/`xpath`/`const`/`var`), transform, default, check."""

    kind: str  # "col" | "xpath" | "const" | "var"
    ref: Any  # column index, compiled XPath, the constant, or the variable path
    label: str | None  # the column name / XPath text, for issues
    transforms: tuple[TransformStep, ...] = ()
    default: Any = None
    required: bool = False
    when: Cond | None = None
    attachment: str | None = None
    attr: str | None = None  # fast path for a plain `@name` XPath
    strip: bool = True
    # Fast path for a plain child path (`in:A/in:B`, `/in:Root/in:A/@x`): ElementPath
    # instead of XPath. (absolute root tag or None, Clark path or None, attribute or None)
    simple: tuple[str | None, str | None, str | None] | None = None
    rtype: str | None = None  # record-type files: the type whose column `ref` indexes
    parts: tuple[Expr, ...] = ()  # concat / coalesce: the expressions combined
    mark: Mark | None = None  # where the expression is written in the YAML
    # A part of it did not compile (reported): `mapping check` does not guess its type.
    unchecked: bool = False

    def read(self, scope: Scope) -> Any:
        """The raw source value (first match), stripped; empty text is None."""
        if self.kind == "col":
            if self.rtype is not None:
                typed = scope.typed_rows(self.rtype)
                # A short (ragged) record simply has no value in its missing columns.
                value: Any = (
                    typed[0].values[self.ref] if typed and self.ref < len(typed[0].values) else None
                )
            else:
                rows = scope.rows
                value = rows[0].values[self.ref] if rows else None
        elif self.kind == "xpath":
            if self.attr is not None:
                value = scope.node.get(self.attr)
            elif self.simple is not None:
                node = self._simple_node(scope.node)
                if node is None:
                    value = None
                else:
                    attr = self.simple[2]
                    value = node.get(attr) if attr is not None else node.text
            else:
                found = self.ref(scope.node)
                value = _first(found)
        elif self.kind in {"concat", "coalesce"}:
            value = self.combine(scope, BuildState(), "")
        elif self.kind == "const":
            # A fresh copy of an object/list constant: results must not share state.
            return copy.deepcopy(self.ref) if isinstance(self.ref, dict | list) else self.ref
        else:
            value = _lookup_var(scope.vars, self.ref)
        if isinstance(value, str):
            if self.strip:
                value = value.strip()
            if not value:
                return None
        return value

    def combine(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        """concat: the parts' texts joined (None if all are empty); coalesce: the first given."""
        values = [part.value(scope, state, pointer) for part in self.parts]
        if self.kind == "coalesce":
            return next((v for v in values if v is not None), None)
        given = [v for v, p in zip(values, self.parts, strict=True) if p.kind != "const" and v]
        if not given:
            return None
        return "".join(_text_of(v) for v in values if v is not None)

    def _simple_node(self, node: Any) -> Any:
        assert self.simple is not None
        root_tag, path, _attr = self.simple
        if root_tag is not None:
            node = node.getroottree().getroot()
            if node.tag != root_tag:
                return None
        return node.find(path) if path is not None else node

    def read_all(self, scope: Scope) -> list[Any]:
        """Every match of an XPath (elements or strings); other kinds give one value."""
        if self.simple is not None and self.simple[0] is None and self.simple[2] is None:
            assert self.simple[1] is not None
            return list(scope.node.iterfind(self.simple[1]))
        if self.kind == "xpath" and self.attr is None:
            found = self.ref(scope.node)
            if isinstance(found, list):
                return found
        value = self.read(scope)
        return [] if value is None else [value]

    def apply(self, value: Any, scope: Scope, state: BuildState, pointer: str) -> Any:
        """Run the transforms; a failure becomes an issue and the value `FAILED`."""
        raw = value
        for name, func, arg in self.transforms:
            if value is None:
                break
            try:
                value = func(value, arg)
            except TransformError as exc:
                state.issue(
                    exc.code,
                    f"{name}: {exc.message}",
                    pointer,
                    scope,
                    column=self.label,
                    value=raw,
                    rule=value_rule(pointer),
                    rtype=self.rtype,
                )
                return FAILED
        return value

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        # NFC at the leaf, where the text is made: a walk over the finished payload cost
        # a copy of every object and list of every case.
        return nfc(self.value(scope, state, pointer))

    def value(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        """The value read, transformed and checked, before NFC (a concat's part, a case key)."""
        if self.when is not None and not self.when.test(scope, state, pointer):
            return self.default  # `when` + `default` reads as if/else
        if self.kind in {"concat", "coalesce"}:
            value = self.combine(scope, state, pointer)
            if value is not None:
                value = self.apply(value, scope, state, pointer)
            return self._finish(value, scope, state, pointer)
        if self.kind == "col" and scope.rows is not None and len(scope.rows) > 1:
            if self.rtype is None:
                self._check_rows_agree(scope, state, pointer, scope.rows)
            else:
                typed = [r for r in scope.rows if r.rtype == self.rtype]
                if len(typed) > 1:
                    self._check_rows_agree(scope, state, pointer, typed)
        value = self.read(scope)
        if value is not None:
            value = self.apply(value, scope, state, pointer)
        return self._finish(value, scope, state, pointer)

    def _finish(self, value: Any, scope: Scope, state: BuildState, pointer: str) -> Any:
        if value is FAILED:
            return None
        defaulted = False
        if value is None or value in ("", []):
            value = self.default
            defaulted = value is not None
        if value is None:
            if self.required:
                what = f" ({self.label})" if self.label else ""
                state.issue(
                    "missing-value",
                    f"a value is required{what}",
                    pointer,
                    scope,
                    column=self.label,
                    rtype=self.rtype,
                    value=None,
                )
            return None
        if state.track is not None:
            where = scope
            if self.rtype is not None:
                where = scope.child_rows(scope.typed_rows(self.rtype)[:1])
            state.track[pointer] = (where, self.label)
            if state.explain is not None:
                state.explain[pointer] = (self, defaulted)
        if self.attachment is not None:
            return self._attachment(value, scope, state, pointer)
        if isinstance(value, Decimal):
            number = json_number(value)
            if number is None:
                state.issue(
                    "amount-not-exact",
                    f"{format(value, 'f')} has more digits than a JSON number carries exactly"
                    " (at most 15 significant digits)",
                    pointer,
                    scope,
                    column=self.label,
                    value=format(value, "f"),
                    rule=value_rule(pointer),
                    rtype=self.rtype,
                )
            return number
        return value

    def _check_rows_agree(
        self, scope: Scope, state: BuildState, pointer: str, rows: Sequence[Row]
    ) -> None:
        # A column read for a whole case or group is repeated on each of its rows; rows
        # that disagree would otherwise be resolved silently by taking the first.
        ref = self.ref

        def at(row: Row) -> str:
            return row.values[ref].strip() if ref < len(row.values) else ""

        # The rows nearly always hold the very same text: one comparison per row, and
        # the stripped values only where two differ (this ran for every column of a case).
        head = rows[0].values
        raw = head[ref] if ref < len(head) else ""
        for row in rows[1:]:
            values = row.values
            if (values[ref] if ref < len(values) else "") == raw:
                continue
            first, other = at(rows[0]), at(row)
            if other != first:
                state.issue(
                    "inconsistent-rows",
                    f"the rows of this case/group disagree on {self.label}: {first!r} on line "
                    f"{rows[0].line}, {other!r} on line {row.line}",
                    pointer,
                    scope.child_rows((row,)),
                    column=self.label,
                    rtype=self.rtype,
                    value=other,
                )
                return

    def _attachment(self, value: Any, scope: Scope, state: BuildState, pointer: str) -> Any:
        kind = self.attachment
        assert kind is not None
        name = str(value)
        if _SAFE_NAME & set(name) or name in {".", ".."} or name.startswith("."):
            state.issue(
                "invalid-attachment-name",
                f"attachment file name {name!r} must be a plain file name in the same folder",
                pointer,
                scope,
                column=self.label,
                rtype=self.rtype,
                value=name,
            )
            return None
        state.attachments.setdefault((name, kind), []).append(pointer)
        return {"type": kind, "filnavn": name}


_NOT_TEXT = frozenset({int, float, bool, type(None)})


def nfc(value: Any) -> Any:
    """`value` with every text in Unicode NFC: `å` typed as a + ring is the same name as `å`."""
    kind = type(value)
    if kind is str:
        return unicodedata.normalize("NFC", value)
    if kind in _NOT_TEXT:
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {k: nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def _text_of(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _first(found: Any) -> Any:
    if isinstance(found, list):
        if not found:
            return None
        found = found[0]
    if isinstance(found, str):
        return str(found)
    if isinstance(found, bool):
        return found
    if isinstance(found, float):
        # XPath numbers are doubles: as text, written out in full (never `1.23e+09`), so
        # an amount transform reads them like any other number in the file.
        if not math.isfinite(found):
            return None  # NaN: number() of something that is not a number
        if found.is_integer():
            return str(int(found))  # count(…) is 3, not 3.0
        return format(Decimal(repr(found)), "f")
    if found is None:
        return None
    return found.text  # an element: its text


def _lookup_var(variables: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = variables.get(path[0])
    for part in path[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(slots=True)
class Cond:
    """A condition: a value test, or `all` / `any` / `not` of conditions."""

    op: str  # present | empty | equals | in | not_in | all | any | not
    expr: Expr | None = None
    operand: Any = None
    parts: tuple[Cond, ...] = ()

    def test(self, scope: Scope, state: BuildState, pointer: str) -> bool:
        if self.op == "all":
            return all(p.test(scope, state, pointer) for p in self.parts)
        if self.op == "any":
            return any(p.test(scope, state, pointer) for p in self.parts)
        if self.op == "not":
            return not self.parts[0].test(scope, state, pointer)
        assert self.expr is not None
        if (
            self.op in {"present", "empty"}
            and self.expr.kind == "xpath"
            and not self.expr.transforms
        ):
            # An element counts as present even when it has no text (`<Renter/>`).
            there = any(not isinstance(v, str) or v.strip() for v in self.expr.read_all(scope))
            return there == (self.operand if self.op == "present" else not self.operand)
        value = self.expr.read(scope)
        if value is not None and self.expr.transforms:
            value = self.expr.apply(value, scope, state, pointer)
            if value is FAILED:
                return False
        if self.op == "empty":
            return (value is None) == bool(self.operand)
        if self.op == "present":
            # `present: false` is `empty: true`: true for a value that is not given.
            return (value is not None) == bool(self.operand)
        if value is None:
            return False  # equals / in / not_in are false on a value that is not given
        if self.op == "equals":
            return bool(value == self.operand)
        if self.op == "in":
            return value in self.operand
        return value not in self.operand  # not_in


@dataclass(slots=True)
class Obj(Node):
    """A JSON object: fields in template order; empty objects are left out."""

    fields: tuple[tuple[str, str, Node], ...]  # (key, "/" + escaped key, node)
    when: Cond | None = None
    omit_if_empty: bool = True
    marks: tuple[Mark, ...] = ()  # the YAML position of each field's key

    @classmethod
    def of(
        cls,
        fields: Sequence[tuple[str, Node]],
        when: Cond | None,
        omit: bool,
        marks: Sequence[Mark] = (),
    ) -> Obj:
        """An object node; pointer segments are escaped once, here."""
        return cls(tuple((k, pointer_segment(k), n) for k, n in fields), when, omit, tuple(marks))

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        if self.when is not None and not self.when.test(scope, state, pointer):
            return None
        out: dict[str, Any] = {}
        for key, segment, node in self.fields:
            value = node.build(scope, state, pointer + segment)
            if value is not None:
                out[key] = value
        if not out and self.omit_if_empty:
            return None
        return out


@dataclass(slots=True)
class StaticList(Node):
    """A JSON array written out item by item; items that come out empty are dropped."""

    items: tuple[Node, ...]

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        out: list[Any] = []
        for node in self.items:
            value = node.build(scope, state, f"{pointer}/{len(out)}")
            if value is not None:
                out.append(value)
        return out or None


@dataclass(slots=True)
class ForEach(Node):
    """A JSON array generated per CSV group / row, XML element, or split value."""

    mode: str  # "group_by" | "rows" | "expr"
    item: Node
    group_col: int = -1
    source: Expr | None = None
    as_name: str | None = None
    when: Cond | None = None
    omit_if_empty: bool = True
    rtype: str | None = None  # `records` / a typed `group_by`: the record type iterated

    def scopes(self, scope: Scope, state: BuildState, pointer: str) -> list[Scope]:
        if self.mode == "rows":
            return [scope.child_rows((row,)) for row in scope.rows or ()]
        if self.mode == "records":
            return [scope.child_rows((row,)) for row in scope.typed_rows(self.rtype or "")]
        if self.mode == "group_by":
            groups: dict[str, list[Row]] = {}
            rows = scope.rows or () if self.rtype is None else scope.typed_rows(self.rtype)
            for row in rows:
                value = row.values[self.group_col] if self.group_col < len(row.values) else ""
                groups.setdefault(value.strip(), []).append(row)
            return [scope.child_rows(rows) for rows in groups.values()]
        assert self.source is not None
        out: list[Scope] = []
        values = self.source.read_all(scope)
        if self.source.transforms:
            values = [self.source.apply(v, scope, state, pointer) for v in values]
            values = [
                x
                for v in values
                if v is not None and v is not FAILED
                for x in (v if isinstance(v, list) else [v])
            ]
        for value in values:
            if isinstance(value, etree._Element):
                child = scope.child_node(value)
                out.append(child.with_var(self.as_name, value) if self.as_name else child)
            else:
                out.append(scope.with_var(self.as_name or "item", value))
        return out

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        if self.when is not None and not self.when.test(scope, state, pointer):
            return None
        out: list[Any] = []
        for child in self.scopes(scope, state, pointer):
            value = self.item.build(child, state, f"{pointer}/{len(out)}")
            if value is not None:
                out.append(value)
        if not out and self.omit_if_empty:
            return None
        return out


@dataclass(slots=True)
class Repeat(Node):
    """Repeated column groups (`KRAV1_…` … `KRAV5_…`): one item per group number.

    A group whose columns are all empty is left out, even when its item holds constants
    (`valuta: NOK`), which would otherwise make an object out of nothing.
    """

    groups: tuple[tuple[Node, tuple[Expr, ...]], ...]  # (item, the columns it reads)
    when: Cond | None = None
    omit_if_empty: bool = True

    def build(self, scope: Scope, state: BuildState, pointer: str) -> Any:
        if self.when is not None and not self.when.test(scope, state, pointer):
            return None
        out: list[Any] = []
        for item, columns in self.groups:
            if columns and all(col.read(scope) is None for col in columns):
                continue
            value = item.build(scope, state, f"{pointer}/{len(out)}")
            if value is not None:
                out.append(value)
        if not out and self.omit_if_empty:
            return None
        return out


def json_number(value: Decimal) -> int | float | None:
    """The JSON number of a Decimal, exactly, or None when no double holds it exactly.

    Whole amounts are integers (`469`, any size); others the float whose shortest text
    (`repr`, which `json` writes) is the same decimal: `12469.14`, never `1.246914e4`
    nor a neighbour. Up to 15 significant digits always fit; beyond, only some do, and
    those that do not are refused rather than rounded.
    """
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    number = float(value)
    if Decimal(repr(number)) != value:
        return None
    return number


def attachment_refs(state: BuildState) -> tuple[AttachmentRef, ...]:
    """One reference per (file, type), with every pointer that needs its uuid."""
    return tuple(AttachmentRef(f, t, tuple(p)) for (f, t), p in state.attachments.items())
