"""Record-type (header/detail) and fixed-width sources, repeated groups, argument transforms."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utlegg_gateway.errors import MappingSpecError, SourceError
from utlegg_gateway.mapping import CaseResult, load_mapping
from utlegg_gateway.mapping.transforms import TRANSFORMS, TransformError, amount, date_pattern

from .conftest import REPO, write_mapping

Build = Callable[..., list[CaseResult]]

RECORDS = """
source:
  kind: records
  delimiter: ";"
  records:
    H: {role: header, columns: [TYPE, KRED_ORGNR, EKSPORTDATO]}
    S: {role: case, columns: [TYPE, SAKSNR, DATO]}
    K: {role: detail, columns: [TYPE, REF, BELOP, TEKST]}
    T: {role: trailer, columns: [TYPE, ANTALL], count: ANTALL}
case:
  key: {col: SAKSNR}
template:
  innsenderReferanse: {col: SAKSNR}
  kreditor: {col: H.KRED_ORGNR}
  eksportert: {col: EKSPORTDATO, transform: {date: {format: "%Y%m%d"}}}
  begjaeringsdato: {col: DATO, transform: {date: DDMMYY}}
  krav:
    $for_each: {records: K}
    $item:
      ref: {col: REF}
      sak: {col: S.SAKSNR}
      beloep: {col: BELOP, transform: {amount: {scale: -2}}, required: true}
"""

RECORDS_FILE = """
H;912345678;20251103
S;A-1;031125
K;1;1250050;Faktura
K;2;9900
S;A-2;010125
K;3;12x
T;2
"""


def test_record_type_file_groups_details_under_the_case_line_above(build: Build) -> None:
    results = build(RECORDS, RECORDS_FILE, name="in.txt")
    assert [r.key for r in results] == ["A-1", "A-2"]
    first = results[0]
    assert first.ok, first.errors
    assert first.begjaering == {
        "innsenderReferanse": "A-1",
        "kreditor": "912345678",
        "eksportert": "2025-11-03",
        "begjaeringsdato": "2025-11-03",
        "krav": [
            {"ref": "1", "sak": "A-1", "beloep": 12500.5},
            {"ref": "2", "sak": "A-1", "beloep": 99},
        ],
    }
    assert first.source.rows == (2, 3, 4)
    # The bad amount points at the physical line of the K record, not the case line.
    (issue,) = results[1].errors
    assert (issue.code, issue.source and issue.source.rows, issue.column) == (
        "invalid-decimal",
        (6,),
        "K.BELOP",
    )


def test_trailer_count_mismatch_is_a_file_error(build: Build) -> None:
    with pytest.raises(SourceError) as caught:
        build(RECORDS, RECORDS_FILE.replace("T;2", "T;3"), name="in.txt")
    assert caught.value.row == 7
    assert "says '3'" in str(caught.value)


def test_unknown_record_type_names_its_line(build: Build) -> None:
    with pytest.raises(SourceError) as caught:
        build(RECORDS, RECORDS_FILE.replace("K;2;9900", "X;2;9900"), name="in.txt")
    assert caught.value.row == 4


def test_detail_before_any_case_is_a_file_error(build: Build) -> None:
    with pytest.raises(SourceError):
        build(RECORDS, "K;1;100\nS;A-1;010125\n", name="in.txt")


def test_group_by_key_collects_lines_wherever_they_are(build: Build) -> None:
    mapping = """
    source:
      kind: records
      group: key
      records:
        S: {role: case, columns: [TYPE, SAKSNR], key: SAKSNR}
        K: {role: detail, columns: [TYPE, SAKSNR, REF], key: SAKSNR}
    case:
      key: {col: S.SAKSNR}
    template:
      ref: {col: S.SAKSNR}
      krav: {$for_each: {records: K}, $item: {col: REF}}
    """
    results = build(mapping, "K;B;1\nS;A\nS;B\nK;A;2\nK;B;3\n", name="in.txt")
    assert [(r.key, r.begjaering) for r in results] == [
        ("B", {"ref": "B", "krav": ["1", "3"]}),
        ("A", {"ref": "A", "krav": ["2"]}),
    ]


FIXED = """
source:
  kind: fixed
  encodings: [cp865]
  type: {start: 1, length: 2}
  records:
    "01": {role: header, fields: {KREDITOR: "3-11"}, required: true}
    "10": {role: case, fields: {SAKSNR: {start: 3, length: 8}, NAVN: "11-30"}}
    "20": {role: detail, fields: {BELOP: {start: 3, length: 11, trim: none}}, length: 13}
case:
  key: {col: SAKSNR}
template:
  sak: {col: SAKSNR}
  navn: {col: NAVN}
  kreditor: {col: KREDITOR}
  beloep:
    $for_each: {records: "20"}
    $item: {col: BELOP, transform: {amount: {scale: -2, overpunch: true}}}
"""


def test_fixed_width_with_record_types_cp865_and_implied_decimals(build: Build) -> None:
    lines = [
        "01912345678",
        "10SAK00001" + "Ærlig Øst".ljust(20),
        "200000012345{",
        "200000000100}",
    ]
    data = ("\r\n".join(lines) + "\r\n").encode("cp865")
    (result,) = build(FIXED, data, name="in.dat")
    assert result.ok, result.errors
    assert result.begjaering == {
        "sak": "SAK00001",
        "navn": "Ærlig Øst",
        "kreditor": "912345678",
        "beloep": [1234.5, -10],
    }


def test_fixed_width_wrong_record_length_is_a_row_problem(build: Build) -> None:
    data = "01912345678\n10SAK00001Navn\n200000012345\n".encode("cp865")
    (result,) = build(FIXED, data, name="in.dat")
    assert [(e.code, e.source and e.source.rows) for e in result.errors] == [
        ("row-malformed", (3,))
    ]


def test_required_header_missing_is_a_file_error(build: Build) -> None:
    with pytest.raises(SourceError):
        build(FIXED, b"10SAK00001Navn\n", name="in.dat")


def test_repeated_column_groups_skip_empty_ones(build: Build) -> None:
    mapping = """
    source: {kind: csv}
    case:
      key: {col: SAK}
    template:
      krav:
        $for_each: {repeat: 3}
        $item:
          ref: {concat: [{col: SAK}, "-", {const: "{n}"}]}
          beloep: {col: "KRAV{n}_BELOP", transform: {amount: {}}}
          valuta: {const: NOK}
    """
    source = "SAK;KRAV1_BELOP;KRAV2_BELOP;KRAV3_BELOP\nA;100,50;;7\n"
    (result,) = build(mapping, source)
    assert result.begjaering == {
        "krav": [
            {"ref": "A-1", "beloep": 100.5, "valuta": "NOK"},
            {"ref": "A-3", "beloep": 7, "valuta": "NOK"},
        ]
    }


def test_coalesce_lookup_pad_substring(build: Build, tmp_path: Path) -> None:
    (tmp_path / "typer.csv").write_text("FA;faktura\nDO;dom\n", encoding="utf-8")
    mapping = """
    source: {kind: csv}
    case:
      key: {col: SAK}
    template:
      navn: {coalesce: [{col: NAVN1}, {col: NAVN2}]}
      type: {col: TYPE, transform: {lookup: {file: typer.csv}}}
      konto: {col: KONTO, transform: {pad: 11}}
      aar: {col: DATO, transform: {substring: {start: 1, length: 4}}}
    """
    (result,) = build(mapping, "SAK;NAVN1;NAVN2;TYPE;KONTO;DATO\nA;;Kari;DO;944822463;20251103\n")
    assert result.begjaering == {
        "navn": "Kari",
        "type": "dom",
        "konto": "00944822463",
        "aar": "2025",
    }


def test_record_column_typo_is_caught_at_load_with_did_you_mean(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, RECORDS.replace("{col: REF}", "{col: K.REFF}"))
    with pytest.raises(MappingSpecError) as caught:
        load_mapping(path)
    assert "did you mean K.REF" in str(caught.value)
    assert caught.value.row is not None


@given(
    whole=st.integers(min_value=0, max_value=10**15 - 1),
    cents=st.integers(min_value=0, max_value=99),
    negative=st.booleans(),
)
def test_amount_round_trips_decimal_exactly(whole: int, cents: int, negative: bool) -> None:
    expected = Decimal(f"{'-' if negative else ''}{whole}.{cents:02d}")
    comma = TRANSFORMS["amount"].parse_arg({})
    point = TRANSFORMS["amount"].parse_arg({"decimal": ".", "thousands": ""})
    ore = TRANSFORMS["amount"].parse_arg({"scale": -2, "thousands": ""})
    grouped = f"{whole:,}".replace(",", " ")
    sign = "-" if negative else ""
    assert amount(f"{sign}{grouped},{cents:02d}", comma) == expected
    assert amount(f"{sign}{whole}.{cents:02d}", point) == expected
    assert amount(f"{sign}{whole * 100 + cents}", ore) == expected


_PATTERNS = ["%Y%m%d", "%d.%m.%Y", "%d%m%y", "YYYY-MM-DD", "DDMMYY", "DD/MM/YYYY", "%y%m%d"]


@given(day=st.dates(), pattern=st.sampled_from(_PATTERNS))
def test_dates_parse_with_every_supported_pattern(day: object, pattern: str) -> None:
    from datetime import date

    assert isinstance(day, date)
    two_digit = "%y" in pattern or ("YY" in pattern and "YYYY" not in pattern)
    if two_digit and not 1970 <= day.year <= 2069:
        return  # two-digit years stand for 1970-2069 with the default pivot
    text = pattern.replace("YYYY", "%Y").replace("YY", "%y").replace("MM", "%m")
    written = day.strftime(text.replace("DD", "%d")) if day.year >= 1000 else None
    if written is None:
        return
    parsed = date_pattern(written, TRANSFORMS["date"].parse_arg({"format": pattern}))
    assert parsed == day.isoformat()


def test_date_pattern_rejects_non_dates() -> None:
    fmt = TRANSFORMS["date"].parse_arg("%Y%m%d")
    with pytest.raises(TransformError):
        date_pattern("20250230", fmt)
    with pytest.raises(ValueError, match="day, a month and a year"):
        TRANSFORMS["date"].parse_arg("%Y%m")


def test_a_record_file_mixing_encodings_is_refused_naming_the_lines(tmp_path: Path) -> None:
    """Record-type files share the CSV reader's decoding: a UTF-8 file with cp1252 lines
    is an error naming them, not a file read whole as cp1252 with garbled UTF-8 names."""
    from utlegg_gateway.errors import SourceError
    from utlegg_gateway.mapping import load_mapping
    from utlegg_gateway.mapping.sources._records import read_record_file

    example = REPO / "mappings" / "examples"
    lines = (example / "hd_20251105.txt").read_bytes().decode("cp1252").split("\r\n")
    mixed = tmp_path / "hd_blandet.txt"
    mixed.write_bytes(
        "\r\n".join(lines[:2]).encode("utf-8") + b"\r\n" + "\r\n".join(lines[2:]).encode("cp1252")
    )
    spec = load_mapping(example / "hd-records.yaml")
    with pytest.raises(SourceError, match="mixes encodings") as caught:
        read_record_file(mixed, spec)
    bad = [i for i, line in enumerate(lines[2:], start=3) if not line.isascii()]
    assert caught.value.row == bad[0]
