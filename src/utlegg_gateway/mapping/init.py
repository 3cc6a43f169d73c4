"""`mapping init SAMPLE`: a starting mapping written from a sample export.

    init_mapping(sample, version, layout=None) -> str      the YAML text

Reads a CSV (its header line), a fixed-width file (a column ruler as its first line, or a
layout file `NAME;START;LENGTH` per line) or an XML file, detects the encoding (UTF-8 BOM,
UTF-8, else Windows-1252) and for CSV the delimiter, and writes a mapping that lists every
source column (or element and attribute) with its first value (11-digit identifiers
masked), and a template holding the
target fields the model of `version` requires, each as a TODO (`{col: TODO}`, with the
kind of value and the code list in a comment). `mapping check` finds the TODOs left: for a
fixed-width file each as an unknown field at its line, for CSV and XML with `--sample`
(a missing column `TODO`, an XPath `TODO` that matches nothing).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import BaseModel

from utlegg_gateway._logging import mask
from utlegg_gateway.errors import InputFileError
from utlegg_gateway.mapping.target import Target, field_target
from utlegg_gateway.model import SPECS, Begjaering

__all__ = ["detect_encoding", "init_mapping"]

# Where the model offers a choice (valg), the alternative the starting mapping takes.
_CHOICE = {
    "Aktoer": ["virksomhet"],
    "BegjaeringensTvangsgrunnlag": ["alminneligTvangsgrunnlag"],
    "Partsidentifikator": ["taxIdentificationNumber"],
    "Kontoinformasjon": ["kontonummer"],
    "AlminneligTvangsgrunnlag": ["domsslutningInformasjon"],
}
# Optional in the model, but a server rule wants them (INNSENDER_MANGLER, MANGLER_KRAV …).
_RULE_REQUIRED = {
    "Begjaering": ["innsenderReferanse", "innsender", "kravTilInnkreving"],
    "Innsender": ["innsender"],
}
_RULER = re.compile(r"^[-+.0-9]{10,}\s*$")


def detect_encoding(data: bytes) -> str:
    """`utf-8-sig` with a BOM, `utf-8` when the bytes decode as such, else `cp1252`."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def init_mapping(sample: Path, version: str, layout: Path | None = None) -> str:
    """The YAML text of a starting mapping for exports like `sample`."""
    try:
        data = sample.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {sample}: {exc.strerror}", file=str(sample)) from exc
    encoding = detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    name = re.sub(r"[^a-z0-9]+", "-", sample.stem.lower()).strip("-") or "mapping"
    pattern = _pattern(sample.name)
    head = [
        "# For editors: `utlegg-gateway mapping schema --out mapping.schema.json`, then",
        "# yaml-language-server: $schema=mapping.schema.json",
        "# Written by `utlegg-gateway mapping init` from " + sample.name + ": fill in the TODOs,",
        "# then `utlegg-gateway mapping check` this file (with --sample) and write golden tests",
        "# (`utlegg-gateway mapping test`). The language: docs/mapping.md; the target fields:",
        "# docs/model.md.",
        f"name: {name}",
        f'patterns: ["{pattern}"]',
        "",
    ]
    if text.lstrip().startswith("<"):
        body, col = _xml(sample, data)
    elif layout is not None or _RULER.match(text.splitlines()[0] if text else ""):
        body, col = _fixed(text, encoding, layout)
    else:
        body, col = _csv(text, encoding)
    template = ["template:", *_object(Begjaering, "", 1, col, version)]
    return "\n".join([*head, *body, "", *template]) + "\n"


def _pattern(file_name: str) -> str:
    """`utlegg_20251103_020000.csv` → `utlegg_*.csv`: digits and what follows them are the date."""
    stem, dot, suffix = file_name.partition(".")
    m = re.search(r"[_-]?\d", stem)
    base = stem[: m.start() + (1 if stem[m.start()] in "_-" else 0)] if m else stem
    return f"{base}*{dot}{suffix}" if dot else f"{base}*"


def _show(value: str) -> str:
    # The file is meant to be kept (and committed): no fødselsnummer or account number in it.
    value = mask(value.strip())
    return value if len(value) <= 40 else value[:37] + "..."


def _csv(text: str, encoding: str) -> tuple[list[str], str]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputFileError("the sample is empty: nothing to read the columns from")
    counts = {d: [line.count(d) for line in lines[:20]] for d in (";", ",", "\t", "|")}
    delimiter = max(counts, key=lambda d: (min(counts[d]) > 0, counts[d][0]))
    rows = list(csv.reader(io.StringIO("\n".join(lines[:2])), delimiter=delimiter))
    header, first = rows[0], (rows[1] if len(rows) > 1 else [])
    shown = "\\t" if delimiter == "\t" else delimiter
    out = [
        "source:",
        "  kind: csv",
        f"  encodings: [{_encodings(encoding)}]   # detected from the sample",
        f'  delimiter: "{shown}"               # detected from the sample',
        "  header: true",
        "  # grouping: adjacent           # if a case's rows follow each other: sent as read",
        "",
        f"# The {len(header)} columns of the sample (with the first row's value):",
    ]
    width = max(len(h) for h in header)
    for index, column in enumerate(header):
        value = first[index] if index < len(first) else ""
        out.append(f"#   {column:<{width}}  {_show(value)!r}")
    out += ["", "case:", f"  key: {{col: {header[0]}}}   # TODO: the column that identifies a case"]
    return out, "col"


def _encodings(detected: str) -> str:
    if detected == "utf-8-sig":
        return "utf-8"
    if detected == "utf-8":
        return "utf-8, cp1252"
    return "cp1252"


def _fixed(text: str, encoding: str, layout: Path | None) -> tuple[list[str], str]:
    lines = text.splitlines()
    if layout is not None:
        fields = _layout(layout)
        data = [line for line in lines if line.strip() and not _RULER.match(line)]
    else:
        data = [line for line in lines[1:] if line.strip()]
        fields = _gaps(data)
    length = max((len(line) for line in data), default=0)
    out = [
        "source:",
        "  kind: fixed",
        f"  encodings: [{_encodings(encoding)}]   # detected; old systems may use cp865/cp277",
        "  records:",
        '    "*":  # TODO: one layout; with record types give `type: "1-2"` and one per type',
        "      role: case",
        f"      # records are {length} characters in the sample",
        "      fields:",
    ]
    first = data[0] if data else ""
    for name, start, end in fields:
        out.append(f'        {name}: "{start}-{end}"   # {_show(first[start - 1 : end])!r}')
    out += [
        "",
        "case:",
        f"  key: {{col: {fields[0][0]}}}   # TODO: the field that identifies a case",
    ]
    return out, "col"


def _layout(path: Path) -> list[tuple[str, int, int]]:
    """`NAME;START;LENGTH` or `NAME;START-END` per line (1-based, inclusive)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read the layout {path}: {exc}", file=str(path)) from exc
    fields = []
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=";"), start=1):
        if not row or row[0].startswith("#"):
            continue
        try:
            if len(row) == 3:
                start, length = int(row[1]), int(row[2])
                fields.append((row[0].strip(), start, start + length - 1))
            else:
                start_text, _, end_text = row[1].partition("-")
                fields.append((row[0].strip(), int(start_text), int(end_text)))
        except (ValueError, IndexError):
            raise InputFileError(
                f"{path} line {number}: write NAME;START;LENGTH or NAME;START-END",
                file=str(path),
                row=number,
            ) from None
    if not fields:
        raise InputFileError(f"{path} holds no field", file=str(path))
    return fields


def _gaps(lines: list[str]) -> list[tuple[str, int, int]]:
    """Fields of a ruled sample: runs of columns not blank in some line, split at blanks
    that are blank in every line."""
    width = max((len(line) for line in lines), default=0)
    used = [any(i < len(line) and line[i] != " " for line in lines) for i in range(width)]
    fields: list[tuple[str, int, int]] = []
    start: int | None = None
    for i, busy in enumerate([*used, False]):
        if busy and start is None:
            start = i
        elif not busy and start is not None:
            fields.append((f"F{len(fields) + 1}", start + 1, i))
            start = None
    if not fields:
        raise InputFileError("the sample has no data below its ruler")
    return fields


def _xml(sample: Path, data: bytes) -> tuple[list[str], str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InputFileError(f"{sample} is not well-formed XML: {exc}", file=str(sample)) from exc
    namespaces = {p or "in": uri for p, uri in root.nsmap.items()}
    prefix_of = {uri: p for p, uri in namespaces.items()}

    def qname(el: Any) -> str:
        q = etree.QName(el)
        return f"{prefix_of[q.namespace]}:{q.localname}" if q.namespace else q.localname

    # The record: the child of the root that repeats most (else one level deeper).
    candidates = Counter(qname(el) for el in root if isinstance(el.tag, str))
    if not candidates or candidates.most_common(1)[0][1] < 2:
        candidates += Counter(
            qname(el) for child in root for el in child if isinstance(el.tag, str)
        )
    record_name = candidates.most_common(1)[0][0] if candidates else qname(root)
    record = next(el for el in root.iter() if isinstance(el.tag, str) and qname(el) == record_name)
    out = ["source:", "  kind: xml"]
    if namespaces:
        out.append("  namespaces:")
        out += [f'    {p}: "{uri}"' for p, uri in namespaces.items()]
    out += [f"  record: {record_name}   # repeats {candidates[record_name]} times in the sample"]
    out += ["", "# What the first record holds (XPaths relative to it, with their values):"]
    for path, value in _xml_paths(record, qname):
        out.append(f"#   {path:<40}  {_show(value)!r}")
    out += ["", "case:", '  key: {xpath: "TODO"}   # TODO: the XPath that identifies a case']
    return out, "xpath"


def _xml_paths(record: Any, qname: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def walk(el: Any, path: str) -> None:
        for attr, value in el.attrib.items():
            key = f"{path}/@{attr}" if path else f"@{attr}"
            if key not in seen:
                seen.add(key)
                out.append((key, value))
        if path and (el.text or "").strip() and path not in seen:
            seen.add(path)
            out.append((path, el.text))
        for child in el:
            if isinstance(child.tag, str):
                walk(child, f"{path}/{qname(child)}" if path else qname(child))

    walk(record, "")
    return out


def _object(model: type[BaseModel], pattern: str, depth: int, col: str, version: str) -> list[str]:
    spec = SPECS[version]
    pad = "  " * depth
    names = [
        n
        for n, info in model.model_fields.items()
        if (info.is_required() or f"{pattern}/{n}" in spec.required)
        and f"{pattern}/{n}" not in spec.not_in_version
    ]
    for extra in (*_RULE_REQUIRED.get(model.__name__, ()), *_CHOICE.get(model.__name__, ())):
        if extra not in names:
            names.append(extra)
    ordered = [n for n in model.model_fields if n in names]
    lines = []
    for name in ordered:
        target = field_target(model.model_fields[name])
        lines += _field(name, target, f"{pattern}/{name}", depth, pad, col, version)
    return lines


def _field(  # noqa: PLR0917 - one recursion step of _object, its state passed along
    name: str, target: Target, pattern: str, depth: int, pad: str, col: str, version: str
) -> list[str]:
    if target.kind == "object" and target.model is not None:
        if target.model.__name__ == "Vedlegg":
            return [f"{pad}{name}: {{{col}: TODO, attachment: tvangsgrunnlag}}   # TODO: file name"]
        return [f"{pad}{name}:", *_object(target.model, pattern, depth + 1, col, version)]
    if target.kind == "list" and target.item is not None:
        item = target.item
        if item.kind == "object" and item.model is not None:
            inner = _object(item.model, pattern + "/*", depth + 2, col, version)
            first = inner[0].strip() if inner else "{}"
            return [f"{pad}{name}:", f"{pad}  - {first}", *inner[1:]]
        return [f"{pad}{name}:", f"{pad}  - {_leaf(item, col, version)}"]
    return [f"{pad}{name}: {_leaf(target, col, version)}"]


def _leaf(target: Target, col: str, version: str) -> str:
    if target.codes:
        values = ", ".join(sorted(SPECS[version].code_lists[target.codes]))
        if len(values) > 70:
            values = values[:67] + "..."
        return f"{{{col}: TODO}}   # TODO: code list {target.codes}: {values}"
    how = {
        "date": ("transform: date_no, ", "a date; pick its transform"),
        "number": ("transform: {amount: {}}, ", "an amount"),
        "bool": ("transform: boolean, ", "J/N, true/false"),
    }.get(target.kind, ("", target.describe()))
    return f"{{{col}: TODO, {how[0]}required: true}}   # TODO: {how[1]}"
