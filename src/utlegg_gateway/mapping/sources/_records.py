"""Header/detail exports: delimited record-type files and fixed-width (positional) files.

Each line is one record whose layout is chosen by its record type (`H` file header, `S`
case, `D` debtor, `K` claim, `T` trailer, …). Header records are read once and visible to
every case; a case record starts a case; detail records belong to the last case record
above (`group: follow`) or to the case with the same key (`group: key`); a trailer's count
is checked against the records it counts, and a mismatch is an error for the whole file
(the export was cut short or doubled). The whole file is read before the first case comes
out, so a bad trailer stops the file before any case of it is sent.

Decoding is the CSV reader's: a BOM wins, otherwise the configured encodings in order.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping.engine import FAILED, BuildState, Row, Scope
from utlegg_gateway.mapping.sources._csv import decode_with
from utlegg_gateway.mapping.spec import FieldPos, FixedSource, MappingSpec, RecordsSource

__all__ = ["RecordCase", "RecordFile", "read_record_file"]


@dataclass(slots=True)
class RecordCase:
    """The records of one case (the case record first), and problems found while reading."""

    key: str
    rows: list[Row]
    problems: list[tuple[int, str]] = field(default_factory=list)
    key_missing: bool = False


@dataclass(slots=True)
class RecordFile:
    """A whole record-type file: its header records and its cases, in file order."""

    header: list[Row]
    cases: list[RecordCase]


def _cut(line: str, pos: FieldPos) -> str:
    value = line[pos.start - 1 : pos.stop]
    if pos.trim == "both":
        return value.strip()
    if pos.trim == "left":
        return value.lstrip()
    if pos.trim == "right":
        return value.rstrip()
    return value


def _fixed_lines(
    path: Path, encoding: str, source: FixedSource
) -> Iterator[tuple[int, str, list[str], str | None]]:
    """(line, record type, values, problem) per non-blank line of a fixed-width file."""
    only = next(iter(source.records)) if source.type is None else ""
    with path.open(encoding=encoding, newline="", errors="strict") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            rtype = _cut(line, source.type) if source.type is not None else only
            record = source.records.get(rtype)
            if record is None:
                yield number, rtype, [], None
                continue
            assert record.fields is not None
            values = [_cut(line, pos) for pos in record.fields.values()]
            if not source.strip:
                values = [line[p.start - 1 : p.stop] for p in record.fields.values()]
            problem = None
            if record.length is not None and len(line) != record.length:
                problem = (
                    f"the {rtype!r} record has {len(line)} characters, "
                    f"the layout says {record.length}"
                )
            yield number, rtype, values, problem


def _delimited_lines(
    path: Path, encoding: str, source: RecordsSource
) -> Iterator[tuple[int, str, list[str], str | None]]:
    """(line, record type, values, problem) per record of a delimited record-type file."""
    with path.open(encoding=encoding, newline="", errors="strict") as fh:
        reader = csv.reader(
            fh,
            delimiter=source.delimiter,
            quotechar=source.quotechar,
            doublequote=source.doublequote,
            escapechar=source.escapechar,
        )
        line = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SourceError(f"malformed record: {exc}", file=str(path), row=line) from exc
            start, line = line, reader.line_num + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            at = source.type_field - 1
            rtype = fields[at].strip() if at < len(fields) else ""
            record = source.records.get(rtype)
            if record is None:
                yield start, rtype, [], None
                continue
            width = len(record.names())
            problem = None
            # Ragged rows are normal here: a short record leaves its last columns empty.
            if len(fields) > width:
                problem = f"the {rtype!r} record has {len(fields)} fields, its layout has {width}"
            values = fields[:width]
            if source.strip:
                values = [v.strip() for v in values]
            yield start, rtype, values, problem


def read_record_file(path: Path, spec: MappingSpec) -> RecordFile:
    """Read and group a whole record-type or fixed-width file; file errors are SourceError."""
    source = spec.source
    assert isinstance(source, RecordsSource | FixedSource)
    return decode_with(
        path,
        source.max_bytes,
        source.encodings,
        lambda encoding: _group(path, encoding, spec, source),
    )


def _group(
    path: Path, encoding: str, spec: MappingSpec, source: RecordsSource | FixedSource
) -> RecordFile:
    lines = (
        _fixed_lines(path, encoding, source)
        if isinstance(source, FixedSource)
        else _delimited_lines(path, encoding, source)
    )
    records = source.records
    header: list[Row] = []
    trailers: list[Row] = []
    cases: dict[str, RecordCase] = {}
    order: list[RecordCase] = []
    counts: dict[str, int] = {}
    current: RecordCase | None = None
    state = BuildState()
    for number, rtype, values, problem in lines:
        record = records.get(rtype)
        if record is None:
            known = ", ".join(sorted(records))
            raise SourceError(
                f"line {number}: unknown record type {rtype!r} (the mapping knows {known})",
                file=str(path),
                row=number,
                hint="add the record type to source.records (role: ignore to skip it)",
            )
        counts[rtype] = counts.get(rtype, 0) + 1
        row = Row(number, tuple(values), rtype)
        if record.role == "ignore":
            continue
        if record.role == "header":
            header.append(row)
            continue
        if record.role == "trailer":
            trailers.append(row)
            continue
        if source.group == "key":
            assert record.key is not None
            at = record.names().index(record.key)
            key = values[at].strip() if at < len(values) else ""
            case = cases.get(key) if key else None
            if case is None:
                case = RecordCase(key or f"line {number}", [], key_missing=not key)
                if key:
                    cases[key] = case
                order.append(case)
            # The case record leads, so case-level columns are read from it first.
            if record.role == "case":
                case.rows.insert(0, row)
            else:
                case.rows.append(row)
        elif record.role == "case":
            case = current = RecordCase("", [row])
            order.append(case)
        else:
            if current is None:
                raise SourceError(
                    f"line {number}: a {rtype!r} record before any case record",
                    file=str(path),
                    row=number,
                    hint="detail records belong to the last case record above them",
                )
            case = current
            case.rows.append(row)
        if problem:
            case.problems.append((number, problem))
    for name, record in records.items():
        if record.required and not counts.get(name):
            raise SourceError(
                f"the file has no {record.role} record ({name!r}); the mapping requires one",
                file=str(path),
            )
    _check_trailers(path, source, trailers, counts)
    header_rows = tuple(header)
    for case in order:
        if source.group == "follow" or not case.key_missing:
            case.key, case.key_missing = _case_key(spec, path, case, header_rows, state)
    return RecordFile(header, order)


def _case_key(
    spec: MappingSpec, path: Path, case: RecordCase, header: tuple[Row, ...], state: BuildState
) -> tuple[str, bool]:
    scope = Scope(str(path), rows=case.rows, case_rows=case.rows, file_rows=header)
    raw = spec.key.read(scope)
    key = None if raw is None else spec.key.apply(raw, scope, state, "")
    if key is FAILED or key is None or key == "":
        return f"line {case.rows[0].line}", True
    return str(key), False


def _check_trailers(
    path: Path, source: RecordsSource | FixedSource, trailers: list[Row], counts: dict[str, int]
) -> None:
    for row in trailers:
        record = source.records[row.rtype]
        if record.count is None:
            continue
        index = record.names().index(record.count)
        said = row.values[index] if index < len(row.values) else ""
        counted = record.counts or [t for t, r in source.records.items() if r.role == "case"]
        actual = sum(counts.get(t, 0) for t in counted)
        if not said.strip().isdigit() or int(said) != actual:
            what = ", ".join(counted)
            raise SourceError(
                f"line {row.line}: the trailer says {said!r} records of type {what}, "
                f"the file has {actual} (cut short or doubled?)",
                file=str(path),
                row=row.line,
                column=f"{row.rtype}.{record.count}",
            )
