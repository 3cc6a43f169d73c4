"""CSV sources: encodings and BOMs, line ends, quoting, physical line numbers, file errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping import CaseResult, build_file, load_mapping

from .conftest import write_mapping

Build = Callable[..., list[CaseResult]]

MAPPING = """
source: {kind: csv, delimiter: ";"}
case: {key: {col: SAK}}
template:
  navn: {col: NAVN}
  tekst: {col: TEKST}
  d: {col: D, transform: date_no}
"""
ROWS = 'SAK;NAVN;TEKST;D\nA;Kolsås Ærlig;"a;b";01.02.2025\nB;Øvre;"linje 1\nlinje 2";bad\n'
WANT_A = {"navn": "Kolsås Ærlig", "tekst": "a;b", "d": "2025-02-01"}


@pytest.mark.parametrize(
    ("encoding", "newline", "bom"),
    [
        ("cp1252", "\r\n", b""),
        ("cp1252", "\n", b""),
        ("utf-8", "\r\n", b"\xef\xbb\xbf"),
        ("utf-8", "\n", b""),
        ("iso-8859-1", "\r\n", b""),
        ("utf-16-le", "\r\n", b"\xff\xfe"),
    ],
)
def test_encodings_and_line_ends_read_alike(
    build: Build, encoding: str, newline: str, bom: bytes
) -> None:
    """cp1252, ISO-8859-1, UTF-8 with/without BOM, UTF-16 with BOM, CRLF or LF: same result."""
    data = bom + ROWS.replace("\n", newline).encode(encoding)
    a, b = build(MAPPING, data)
    assert a.begjaering == WANT_A
    # The quoted line break is kept (as written) and the bad date on B's row is at line 3.
    (issue,) = b.errors
    assert issue.source is not None and issue.source.rows == (3,)
    assert (issue.code, issue.value) == ("invalid-date", "bad")


def test_line_numbers_count_quoted_line_breaks(build: Build) -> None:
    """A record after a multi-line quoted field gets its true physical line number."""
    rows = 'SAK;NAVN;TEKST;D\nA;x;"1\n2\n3";01.01.2025\nB;y;z;32.01.2025\n'
    a, b = build(MAPPING, rows)
    assert a.source.rows == (2,)
    assert a.begjaering is not None and a.begjaering["tekst"] == "1\n2\n3"
    assert b.source.rows == (5,)
    assert b.errors[0].source is not None and b.errors[0].source.rows == (5,)


def test_wrong_encoding_names_offset_and_line(tmp_path: Path) -> None:
    """A cp1252 file under a UTF-8-only mapping cannot be read; the error names byte and line."""
    spec = load_mapping(write_mapping(tmp_path, MAPPING.replace(
        'delimiter: ";"', 'delimiter: ";", encodings: [utf-8]')))  # fmt: skip
    path = tmp_path / "in.csv"
    path.write_bytes("SAK;NAVN;TEKST;D\nA;Kolsås;x;01.01.2025\n".encode("cp1252"))
    with pytest.raises(SourceError) as info:
        list(build_file(path, spec))
    assert info.value.row == 2
    assert "byte 0xE5 at offset 23" in info.value.message


def test_undecodable_in_every_encoding(tmp_path: Path) -> None:
    """Bytes neither UTF-8 nor cp1252 can decode (0x81) are a SourceError naming both tries."""
    spec = load_mapping(write_mapping(tmp_path, MAPPING))
    path = tmp_path / "in.csv"
    path.write_bytes(b"SAK;NAVN;TEKST;D\nA;x;y;01.01.2025\nB;\x81;y;01.01.2025\n")
    with pytest.raises(SourceError) as info:
        list(build_file(path, spec))
    assert "not utf-8" in info.value.message
    assert "not cp1252 (byte 0x81" in info.value.message
    assert info.value.row == 3


def test_missing_column_is_a_file_error(tmp_path: Path) -> None:
    """A header without a column the mapping reads fails the file, naming the column."""
    spec = load_mapping(write_mapping(tmp_path, MAPPING))
    path = tmp_path / "in.csv"
    path.write_text("SAK;NAVN;D\nA;x;01.01.2025\n", encoding="utf-8")
    with pytest.raises(SourceError) as info:
        list(build_file(path, spec))
    assert (info.value.row, info.value.column) == (1, "TEKST")
    assert "TEKST" in info.value.message


def test_columns_in_any_order_and_extra_columns(build: Build) -> None:
    """Columns are found by name: a different order and unknown columns change nothing."""
    (a,) = build(MAPPING, "EXTRA;D;TEKST;SAK;NAVN\nz;01.02.2025;a;A;Kolsås Ærlig\n")
    assert a.begjaering == {**WANT_A, "tekst": "a"}


def test_headerless_file_with_declared_columns(build: Build) -> None:
    """header: false with columns names the fields of a file without a header line."""
    mapping = MAPPING.replace('delimiter: ";"', 'delimiter: ",", header: false, '
                              "columns: [SAK, NAVN, TEKST, D]")  # fmt: skip
    (a,) = build(mapping, 'A,Kolsås Ærlig,"a;b",01.02.2025\n')
    assert a.begjaering == WANT_A


def test_empty_file_is_a_file_error(tmp_path: Path) -> None:
    """A file without even a header line is a SourceError at line 1."""
    spec = load_mapping(write_mapping(tmp_path, MAPPING))
    path = tmp_path / "in.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        list(build_file(path, spec))


@pytest.mark.parametrize("where", ["header", "record"])
def test_field_over_the_csv_limit_is_a_file_error(tmp_path: Path, where: str) -> None:
    """A field over csv's 128 KiB limit fails the file as a SourceError, never a raw csv.Error."""
    spec = load_mapping(write_mapping(tmp_path, MAPPING))
    path = tmp_path / "in.csv"
    huge = '"' + "x" * (200 * 1024) + '"'
    if where == "header":
        path.write_text(f"SAK;NAVN;TEKST;D{huge}\n", encoding="utf-8")
    else:
        path.write_text(f"SAK;NAVN;TEKST;D\nA;x;{huge};01.01.2025\n", encoding="utf-8")
    with pytest.raises(SourceError, match="malformed CSV") as info:
        list(build_file(path, spec))
    assert info.value.row == (1 if where == "header" else 2)
