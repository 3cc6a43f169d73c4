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
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from utlegg_gateway.errors import MappingSpecError
from utlegg_gateway.mapping.engine import Cond, Expr, ForEach, Node, Obj, StaticList
from utlegg_gateway.mapping.transforms import TRANSFORMS

__all__ = ["CsvSource", "MappingSpec", "XmlSource", "load_mapping"]

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


class _Header(_Model):
    name: str | None = None
    description: str | None = None
    patterns: list[str] = Field(default_factory=list)
    source: Annotated[CsvSource | XmlSource, Field(discriminator="kind")]
    case: Any
    template: Any


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """A loaded, validated mapping: what `map_file` runs."""

    name: str
    path: Path
    patterns: tuple[str, ...]
    source: CsvSource | XmlSource
    key: Expr
    template: Node
    columns: tuple[str, ...] = ()  # CSV: the columns the mapping reads, in index order
    record_tag: str = ""  # XML: Clark name of the record element
    namespaces: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["csv", "xml"]:
        """`csv` or `xml`."""
        return self.source.kind


_SOURCE_KEYS = ("col", "xpath", "const", "var")
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


class _Compiler:
    def __init__(self, loader: _Loader, path: Path, source: CsvSource | XmlSource) -> None:
        self.loader = loader
        self.path = path
        self.source = source
        self.columns: dict[str, int] = {}
        self.bound: list[str] = []

    def fail(self, node: yaml.Node, message: str) -> NoReturn:
        raise _spec_error(self.path, node, message)

    def py(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def pairs(self, node: yaml.Node) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, "expected a mapping here")
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = self.py(key_node)
            if not isinstance(key, str):
                self.fail(key_node, f"keys must be text, got {key!r}")
            if key in seen:
                self.fail(key_node, f"duplicate key {key!r}")
            seen.add(key)
            yield key, key_node, value_node

    def unknown(self, key_node: yaml.Node, key: str, known: frozenset[str], what: str) -> NoReturn:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.fail(key_node, f"unknown key {key!r} in {what}{hint}")

    # -- template ---------------------------------------------------------------------
    def value(self, node: yaml.Node) -> Node:
        if isinstance(node, yaml.SequenceNode):
            return StaticList(tuple(self.value(item) for item in node.value))
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
        when: Cond | None = None
        omit = True
        for key, key_node, value_node in self.pairs(node):
            if key == "$when":
                when = self.cond(value_node)
            elif key == "$omit_if_empty":
                omit = self.boolean(value_node)
            elif key.startswith("$"):
                self.unknown(key_node, key, _OBJ_DIRECTIVES, "an object template")
            else:
                fields.append((key, self.value(value_node)))
        return Obj.of(fields, when, omit)

    def for_each(self, node: yaml.Node) -> ForEach:
        parts = {}
        for key, key_node, value_node in self.pairs(node):
            if key not in _FOREACH_KEYS:
                self.unknown(key_node, key, _FOREACH_KEYS, "a $for_each list")
            parts[key] = (key_node, value_node)
        if "$item" not in parts:
            self.fail(node, "$for_each needs an $item template")
        as_name = None
        if "$as" in parts:
            as_name = self.py(parts["$as"][1])
            if not isinstance(as_name, str) or not _NAME.match(as_name):
                self.fail(parts["$as"][1], "$as must be a simple name like `p`")
        source_node = parts["$for_each"][1]
        mode, group_col, source = self.for_each_source(source_node)
        bound = as_name or ("item" if mode == "expr" else None)
        when = self.cond(parts["$when"][1]) if "$when" in parts else None
        omit = self.boolean(parts["$omit_if_empty"][1]) if "$omit_if_empty" in parts else True
        if bound:
            self.bound.append(bound)
        try:
            item = self.value(parts["$item"][1])
        finally:
            if bound:
                self.bound.pop()
        return ForEach(mode, item, group_col, source, as_name, when, omit)

    def for_each_source(self, node: yaml.Node) -> tuple[str, int, Expr | None]:
        if isinstance(node, yaml.MappingNode):
            keys = {self.py(k): (k, v) for k, v in node.value}
            if "group_by" in keys or "rows" in keys:
                if self.source.kind != "csv":
                    self.fail(node, "group_by / rows are for CSV sources; use xpath for XML")
                if len(keys) != 1:
                    self.fail(node, "give either {group_by: COLUMN} or {rows: true}")
                if "rows" in keys:
                    if self.py(keys["rows"][1]) is not True:
                        self.fail(keys["rows"][1], "write {rows: true}")
                    return "rows", -1, None
                col = self.py(keys["group_by"][1])
                if not isinstance(col, str) or not col:
                    self.fail(keys["group_by"][1], "group_by names a column")
                return "group_by", self.column(col), None
        return "expr", -1, self.expr(node, allowed=frozenset({*_SOURCE_KEYS, "transform"}))

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
        for key, (key_node, _) in items.items():
            if key not in allowed:
                self.unknown(key_node, key, allowed, "a value expression")
        sources = [k for k in _SOURCE_KEYS if k in items]
        if len(sources) != 1:
            self.fail(node, f"give exactly one of {', '.join(_SOURCE_KEYS)}")
        expr = self.read_source(sources[0], items[sources[0]][1])
        if "transform" in items:
            expr.transforms = self.transforms(items["transform"][1])
        if "default" in items:
            expr.default = self.py(items["default"][1])
        if "required" in items:
            expr.required = self.boolean(items["required"][1])
        if "strip" in items:
            expr.strip = self.boolean(items["strip"][1])
        else:
            expr.strip = self.source.strip
        if "when" in items:
            expr.when = self.cond(items["when"][1])
        if "attachment" in items:
            kind = self.py(items["attachment"][1])
            if kind not in VEDLEGG_TYPES:
                known = ", ".join(sorted(VEDLEGG_TYPES))
                self.fail(items["attachment"][1], f"unknown attachment type {kind!r} ({known})")
            expr.attachment = kind
        return expr

    def read_source(self, kind: str, node: yaml.Node) -> Expr:
        value = self.py(node)
        if kind == "const":
            return Expr("const", value, None)
        if not isinstance(value, str) or not value:
            self.fail(node, f"{kind} must be non-empty text")
        if kind == "col":
            if self.source.kind != "csv":
                self.fail(node, "col is for CSV sources; use xpath for XML")
            return Expr("col", self.column(value), value)
        if kind == "var":
            path = tuple(value.split("."))
            if path[0] not in self.bound:
                bound = ", ".join(self.bound) or "none"
                self.fail(node, f"variable {path[0]!r} is not bound here (bound: {bound})")
            return Expr("var", path, value)
        if self.source.kind != "xml":
            self.fail(node, "xpath is for XML sources; use col for CSV")
        return self.xpath(node, value)

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
                self.fail(name_node, f"unknown transform {name!r}{hint}")
            transform = TRANSFORMS[name]
            try:
                parsed = transform.parse_arg(arg)
            except ValueError as exc:
                self.fail(arg_node, f"transform {name!r}: {exc}")
            out.append((name, transform.func, parsed))
        return tuple(out)

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
            return Cond(combinator, parts=tuple(self.cond(n) for n in value_node.value))
        for key, (key_node, _) in items.items():
            if key not in _COND_KEYS:
                self.unknown(key_node, key, _COND_KEYS | {"all", "any", "not"}, "a condition")
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


def load_mapping(path: Path) -> MappingSpec:
    """Load and validate a mapping file; any mistake is a MappingSpecError with line/column."""
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
            raise MappingSpecError(
                f"{path}:{line}:{col}: not valid YAML: {exc.problem or exc}",
                file=str(path),
                row=line,
                column=None if col is None else str(col),
            ) from None
        if not isinstance(root, yaml.MappingNode):
            raise _spec_error(path, root, "a mapping file is a YAML mapping at the top level")
        return _compile(loader, root, path)
    finally:
        loader.dispose()


def _compile(loader: _Loader, root: yaml.MappingNode, path: Path) -> MappingSpec:
    # Top-level keys starting with `x-` hold YAML anchors for reuse; they are not compiled
    # on their own, only where an alias (`*name`) places them in the template.
    root = yaml.MappingNode(
        root.tag,
        [(k, v) for k, v in root.value if not str(getattr(k, "value", "")).startswith("x-")],
        root.start_mark,
        root.end_mark,
    )
    data = loader.construct_document(root)
    try:
        header = _Header.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise _spec_error(path, _node_at(root, loc), f"{where}: {msg}") from None
    nodes = {key_node.value: value_node for key_node, value_node in root.value}
    compiler = _Compiler(loader, path, header.source)
    source = header.source
    record_tag = ""
    if isinstance(source, XmlSource):
        record_node = _node_at(root, ("source", "record"))
        prefix, _, local = source.record.rpartition(":")
        if prefix and prefix not in source.namespaces:
            compiler.fail(record_node, f"namespace prefix {prefix!r} is not declared")
        record_tag = f"{{{source.namespaces[prefix]}}}{local}" if prefix else local
    elif not source.header and not source.columns:
        compiler.fail(_node_at(root, ("source",)), "a CSV without a header line needs `columns`")
    case_items = {k: (kn, vn) for k, kn, vn in compiler.pairs(nodes["case"])}
    for key, (key_node, _) in case_items.items():
        if key != "key":
            compiler.unknown(key_node, key, frozenset({"key"}), "case")
    if "key" not in case_items:
        compiler.fail(nodes["case"], "case needs a key: the value that identifies a case")
    key_expr = compiler.expr(case_items["key"][1], frozenset({*_SOURCE_KEYS, "transform"}))
    template_node = nodes["template"]
    if not isinstance(template_node, yaml.MappingNode):
        compiler.fail(template_node, "the template is an object (a YAML mapping)")
    template = compiler.value(template_node)
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
    )
