"""CSV exports: encoding detection, physical line numbers, rows grouped into cases by key.

Decoding: a UTF-8 BOM wins (so do UTF-16 BOMs); otherwise the configured encodings are
tried in order (default UTF-8, strictly, then cp1252). A file no encoding can decode is a
`SourceError` naming the byte offset and line. Only the columns the mapping reads are
kept per row. Rows of one case are not always adjacent, so grouping sees every row
before the first case comes out; past `SPILL_ROWS` rows they go to sorted runs in a
temporary folder and are merged back (an external sort), so memory stays flat at any
file size: only the case keys stay in memory.

With `grouping: adjacent` the export promises a case's rows follow each other, so each
case comes out as soon as the key changes. The encoding is settled first by a decode-only
pass over the bytes, so no case is ever built from an encoding a later line refutes; a key
that comes back after another key's rows refuses the file there.
"""

from __future__ import annotations

import codecs
import csv
import heapq
import marshal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, TypeVar

from utlegg_gateway._logging import mask
from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping.engine import FAILED, BuildState, Row, Scope
from utlegg_gateway.mapping.spec import CsvSource, MappingSpec

__all__ = ["CsvCase", "decode_error", "decode_with", "detect_encodings", "read_csv_cases"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 20
# Rows held in memory before they go to a sorted run on disk: ~50 MB of rows at most.
SPILL_ROWS = 50_000
_READ_BUFFER = 1 << 16  # per run while merging: a 1 GB file has a few dozen runs
T = TypeVar("T")
# (case number in order of first appearance, start line, projected values, problem)
_Spilled = tuple[int, int, tuple[str, ...], str | None]


@dataclass(slots=True)
class CsvCase:
    """The rows of one case, in file order, and row problems found while reading."""

    key: str
    rows: list[Row]
    problems: list[tuple[int, str]] = field(default_factory=list)
    key_missing: bool = False


def decode_error(path: Path, encoding: str) -> tuple[int, int, str]:
    """(byte offset, line, byte shown) of the first byte `encoding` cannot decode."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset, newlines = 0, 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(chunk)
                at = offset - pending + exc.start
                with path.open("rb") as again:
                    head = again.read(at + 1)
                return at, head.count(b"\n", 0, at) + 1, f"0x{head[at]:02X}"
            offset += len(chunk)
            newlines += chunk.count(b"\n")
    return offset, newlines + 1, "end of file"


def _dialect(source: CsvSource) -> dict[str, object]:
    return {
        "delimiter": source.delimiter,
        "quotechar": source.quotechar,
        "doublequote": source.doublequote,
        "escapechar": source.escapechar,
    }


def _read_rows(
    path: Path, encoding: str, spec: MappingSpec, source: CsvSource, strings: dict[str, str]
) -> Iterator[tuple[int, list[str], str | None]]:
    """(start line, projected values, problem) per record; the header is checked first."""
    with path.open(encoding=encoding, newline="", errors="strict") as fh:
        reader = csv.reader(fh, **_dialect(source))  # type: ignore[arg-type]  # dialect kwargs
        line = 1
        if source.header:
            try:
                header = next(reader, None)
            except csv.Error as exc:
                raise SourceError(f"malformed CSV header: {exc}", file=str(path), row=1) from exc
            if header is None:
                raise SourceError("the file is empty: no header line", file=str(path), row=1)
            names = [name.strip() for name in header]
            line = reader.line_num + 1
        else:
            names = list(source.columns or [])
        if names and names[0].startswith("\ufeff"):
            names[0] = names[0][1:]  # a BOM the encoding did not take (utf-8 without -sig)
        for column in spec.columns:
            at = [i + 1 for i, n in enumerate(names) if n == column]
            if len(at) > 1:
                raise SourceError(
                    f"column {column!r} appears {len(at)} times in the header "
                    f"(columns {', '.join(map(str, at))}): which one is meant is ambiguous",
                    file=str(path),
                    row=1,
                    column=column,
                    hint="rename one of them in the export, or read it by position",
                )
        missing = [c for c in spec.columns if c not in names]
        if missing:
            raise SourceError(
                f"column(s) {', '.join(missing)} missing from the header "
                f"(the mapping {spec.name!r} reads them)",
                file=str(path),
                row=1,
                column=missing[0],
                hint="check the export's header line or the mapping's column names",
            )
        positions = [names.index(c) for c in spec.columns]
        width = len(names)
        strip = source.strip
        # Case and grunnlag columns repeat on every row: keep one string per distinct
        # value, or a 100,000-row file holds millions of copies of the same text. The
        # caller clears `strings` when its rows leave memory.
        strings[""] = ""
        shared = strings.setdefault
        # The mapped columns of a record taken, stripped and shared in C (map/itemgetter),
        # not by a generator per row: that loop was a third of reading a row.
        pick = _picker(positions)
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise SourceError(f"malformed CSV: {exc}", file=str(path), row=line) from exc
            start, line = line, reader.line_num + 1
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if "\ufeff" in "\x00".join(record):
                # A second file glued on (its BOM mid-file): rows above and below may be
                # two exports, so no case of it is taken as it stands.
                raise SourceError(
                    "a byte-order mark (U+FEFF) inside the file: two exports joined?",
                    file=str(path),
                    row=start,
                    hint="send the exports as separate files",
                )
            problem = None
            if len(record) != width:
                problem = f"the record has {len(record)} fields, the header has {width}"
                record = record + [""] * (width - len(record))
            picked = pick(record)
            if strip:
                picked = list(map(str.strip, picked))
            yield start, list(map(shared, picked, picked)), problem


def _picker(positions: list[int]) -> Callable[[list[str]], Iterable[str]]:
    """The values at `positions` of a record, in that order (a tuple, or a list)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    if positions:
        only = positions[0]
        return lambda record: (record[only],)
    return lambda _record: ()


def detect_encodings(path: Path, encodings: list[str]) -> list[str]:
    """The encoding a BOM names, else the configured ones in order."""
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return [encoding]
    return list(encodings)


def decode_with(
    path: Path, max_bytes: int | None, encodings: list[str], read: Callable[[str], T]
) -> T:
    """`read(encoding)` for the first encoding that decodes the whole file.

    The one place for a text export's size limit and encodings (CSV, record-type and
    fixed-width files): a BOM names the encoding; a UTF-8 file with lines in another
    encoding is refused naming them, never read whole as the next encoding (that would
    garble every UTF-8 name); a file no encoding decodes is a SourceError naming the byte.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    if max_bytes is not None and size > max_bytes:
        raise SourceError(
            f"the file has {size} bytes, over the limit of {max_bytes}", file=str(path)
        )
    failures: list[str] = []
    last_line: int | None = None
    for encoding in detect_encodings(path, encodings):
        try:
            return read(encoding)
        except UnicodeDecodeError:
            if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
                mixed = _mixed_utf8_lines(path)
                if mixed:
                    shown_lines = ", ".join(map(str, mixed[:10]))
                    raise SourceError(
                        f"the file mixes encodings: it is UTF-8 but line(s) {shown_lines}"
                        f"{' …' if len(mixed) > 10 else ''} are not; no encoding reads "
                        "every line as written",
                        file=str(path),
                        row=mixed[0],
                        hint="export the file in one encoding",
                    ) from None
            offset, last_line, shown = decode_error(path, encoding)
            failures.append(f"not {encoding} (byte {shown} at offset {offset}, line {last_line})")
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    raise SourceError(
        "cannot decode the file: " + "; ".join(failures),
        file=str(path),
        row=last_line,
        hint="set source.encodings in the mapping to the export's encoding",
    )


def read_csv_cases(path: Path, spec: MappingSpec) -> Iterator[CsvCase]:
    """Every case of a CSV file, in order of first appearance of its key."""
    source = spec.source
    assert isinstance(source, CsvSource)

    def read(encoding: str) -> Iterable[CsvCase]:
        if source.grouping == "adjacent":
            # Decoded whole before the first case: a streamed case cannot be taken back
            # when a late line shows the encoding was wrong.
            return _adjacent(path, _decodes(path, encoding), spec, source)
        return _group(path, encoding, spec, source)

    cases = decode_with(path, source.max_bytes, source.encodings, read)
    yield from cases


def _decodes(path: Path, encoding: str) -> str:
    """`encoding` once every byte of the file decodes with it; else UnicodeDecodeError."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            decoder.decode(chunk)
    decoder.decode(b"", final=True)
    return encoding


def _mixed_utf8_lines(path: Path) -> list[int]:
    """Lines that are not UTF-8 in a file whose other non-ASCII lines are; [] otherwise.

    Decoding the whole file as cp1252 after the first bad byte would garble every UTF-8
    name in it without a word (Ã¸ for ø), so such a file is refused instead.
    """
    bad: list[int] = []
    utf8_text = False
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(number)
            else:
                utf8_text = utf8_text or not line.removeprefix(codecs.BOM_UTF8).isascii()
    return bad if utf8_text and bad else []


def _key_reader(path: Path, spec: MappingSpec) -> Callable[[int, tuple[str, ...]], str | None]:
    """The case key of a row (start line, values); empty or None when it has none."""
    key_expr = spec.key
    if key_expr.kind == "col" and not key_expr.transforms:
        return lambda _start, values: values[key_expr.ref]
    state = BuildState()
    scope = Scope(str(path))

    def read(start: int, values: tuple[str, ...]) -> str | None:
        scope.rows = (Row(start, values),)
        raw = key_expr.read(scope)
        key = None if raw is None else key_expr.apply(raw, scope, state, "")
        return None if key is FAILED or key is None else str(key)

    return read


def _group(path: Path, encoding: str, spec: MappingSpec, source: CsvSource) -> Iterable[CsvCase]:
    """Read every row (so a decoding error surfaces here), then the cases in key order."""
    order: dict[str, int] = {}
    keys: list[str] = []
    keyless: set[int] = set()
    key_of = _key_reader(path, spec)
    strings: dict[str, str] = {}
    rows: list[_Spilled] = []
    spill: _Spill | None = None
    try:
        for start, values, problem in _read_rows(path, encoding, spec, source, strings):
            row_values = tuple(values)
            key = key_of(start, row_values)
            if not key:
                # Its own case, kept out of `order`: a real key spelt `line N` must not
                # take this row in, nor this row the rows of that key.
                number = len(keys)
                keys.append(f"line {start}")
                keyless.add(number)
            else:
                known = order.get(key)
                if known is None:
                    known = order[key] = len(keys)
                    keys.append(key)
                number = known
            rows.append((number, start, row_values, problem))
            if len(rows) >= SPILL_ROWS:
                spill = spill or _Spill(path)
                spill.write(rows)
                rows = []
                strings.clear()
        if spill is not None and rows:
            spill.write(rows)
    except BaseException:
        if spill is not None:
            spill.discard()  # a decoding retry or an error: the runs are of no use
        raise
    for number in keyless:
        while keys[number] in order:  # a real key spelt `line N`: the keyless row yields
            keys[number] += " (no key)"
    if spill is None:
        rows.sort(key=itemgetter(0))  # stable: a case's rows stay in file order
        return _cases(rows, keys, keyless)
    return spill.cases(keys, keyless)


def _adjacent(path: Path, encoding: str, spec: MappingSpec, source: CsvSource) -> Iterator[CsvCase]:
    """The cases of a file whose rows of one case are adjacent, each as soon as it ends.

    Yields what `_group` would, in the same order: a keyless row is its own case (`line N`)
    and does not interrupt the case around it, so it comes out right after that case.
    """
    first_line: dict[str, int] = {}  # every key seen: one coming back breaks the promise
    key_of = _key_reader(path, spec)
    strings: dict[str, str] = {}
    case: CsvCase | None = None
    keyless: list[CsvCase] = []
    try:
        for start, values, problem in _read_rows(path, encoding, spec, source, strings):
            row_values = tuple(values)
            key = key_of(start, row_values)
            if not key:
                row_case = CsvCase(f"line {start}", [Row(start, row_values)], key_missing=True)
                if problem:
                    row_case.problems.append((start, problem))
                if case is None:
                    yield row_case
                else:
                    keyless.append(row_case)
                continue
            if case is None or key != case.key:
                if key in first_line:
                    raise SourceError(
                        f"rows of case {mask(key)} at line {start} are not next to its "
                        f"earlier rows (line {first_line[key]}); the mapping says "
                        "grouping: adjacent",
                        file=str(path),
                        row=start,
                        hint="sort the export by the case key, or remove `grouping: "
                        "adjacent` from the mapping's source",
                    )
                if case is not None:
                    yield case
                    yield from keyless
                    keyless.clear()
                    strings.clear()  # the rows that shared them have left
                first_line[key] = start
                case = CsvCase(key, [])
            case.rows.append(Row(start, row_values))
            if problem:
                case.problems.append((start, problem))
    except (UnicodeDecodeError, OSError) as exc:
        # The whole file decoded a moment ago: it changed under us, or the disk failed.
        raise SourceError(
            f"cannot read {path} as {encoding} any more: {exc}", file=str(path)
        ) from exc
    if case is not None:
        yield case
    yield from keyless


def _cases(rows: Iterable[_Spilled], keys: list[str], keyless: set[int]) -> Iterator[CsvCase]:
    for number, group in groupby(rows, key=itemgetter(0)):
        case = CsvCase(keys[number], [], key_missing=number in keyless)
        for _, start, values, problem in group:
            case.rows.append(Row(start, values))
            if problem:
                case.problems.append((start, problem))
        yield case


class _Spill:
    """Sorted runs of rows in a temporary folder, merged back in case order."""

    def __init__(self, path: Path) -> None:
        self._source = path
        try:
            self._folder = tempfile.TemporaryDirectory(prefix="utlegg-csv-")
        except OSError as exc:
            raise self._error(exc) from exc
        self._runs: list[Path] = []

    def _error(self, exc: OSError) -> SourceError:
        return SourceError(
            f"cannot write the temporary file that sorts this file's rows: {exc.strerror}",
            file=str(self._source),
            hint="set TMPDIR to a local folder with free space about the size of the file",
        )

    def write(self, rows: list[_Spilled]) -> None:
        rows.sort(key=itemgetter(0))
        run = Path(self._folder.name) / f"run-{len(self._runs):05d}"
        try:
            with run.open("wb", buffering=_CHUNK) as fh:
                for row in rows:
                    marshal.dump(row, fh)
        except OSError as exc:
            raise self._error(exc) from exc
        self._runs.append(run)

    def discard(self) -> None:
        self._folder.cleanup()

    def cases(self, keys: list[str], keyless: set[int]) -> Iterator[CsvCase]:
        files: list[BinaryIO] = []
        try:
            files = [run.open("rb", buffering=_READ_BUFFER) for run in self._runs]
            # Within a run rows are in (case, line) order and runs follow the file, so a
            # merge on the case number alone keeps each case's rows in file order.
            yield from _cases(heapq.merge(*map(_load, files), key=itemgetter(0)), keys, keyless)
        finally:
            for fh in files:
                fh.close()
            self._folder.cleanup()


def _load(fh: BinaryIO) -> Iterator[_Spilled]:
    while True:
        try:
            # S302: the runs are this process's own files, written moments ago in a
            # private temporary folder; nothing else writes them.
            yield marshal.load(fh)  # noqa: S302
        except EOFError:
            return
