"""CSV files past SPILL_ROWS rows are grouped through sorted runs on disk: same cases, same order.

The threshold is lowered here (a module setting, not a mock) so a file of a few dozen rows
takes the on-disk path; the result must equal the in-memory grouping exactly.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping import CaseResult, build_file, load_mapping
from utlegg_gateway.mapping.sources import _csv

from .conftest import REPO, SAMPLES, write_mapping

SAMPLE = SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv"


def _interleaved_export(path: Path, cases: int) -> None:
    """The sample's cases renumbered `cases` times, rows of neighbouring cases interleaved."""
    with SAMPLE.open(encoding="cp1252", newline="") as fh:
        header, *rows = list(csv.reader(fh, delimiter=";"))
    saksnr = header.index("SAKSNR")
    out_rows: list[list[str]] = []
    for n in range(cases):
        block = [[f"{r[saksnr]}-{n:03d}", *r[saksnr + 1 :]] for r in rows]
        out_rows.extend(block)
    # Every third row moved to the end: a case's rows are far apart in the file.
    reordered = [r for i, r in enumerate(out_rows) if i % 3] + out_rows[::3]
    with path.open("w", encoding="cp1252", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(reordered)


def _summary(results: list[CaseResult]) -> list[tuple[object, ...]]:
    return [
        (r.key, r.ok, r.begjaering, r.source, [(e.code, e.message, e.source) for e in r.errors])
        for r in results
    ]


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's folder for this test, so the runs it leaves (or not) can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_spilled_grouping_equals_in_memory(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_mapping(REPO / "mappings" / "csv-krav.yaml")
    export = tmp_path / "big.csv"
    _interleaved_export(export, 12)
    in_memory = list(build_file(export, spec))
    assert len(in_memory) >= 12
    monkeypatch.setattr(_csv, "SPILL_ROWS", 7)
    cases: Iterator[CaseResult] = iter(build_file(export, spec))
    first = next(cases)
    runs = list(private_tmp.glob("utlegg-csv-*/run-*"))
    assert len(runs) > 3, "the rows went to several sorted runs on disk"
    spilled = [first, *cases]
    assert _summary(spilled) == _summary(in_memory)
    assert list(private_tmp.iterdir()) == [], "the runs are removed once the file is read"


def test_row_problems_and_keyless_rows_survive_the_spill(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = write_mapping(
        tmp_path,
        """
        source: {kind: csv, delimiter: ";"}
        case: {key: {col: SAK}}
        template:
          navn: {col: NAVN}
        """,
    )
    spec = load_mapping(mapping)
    export = tmp_path / "in.csv"
    lines = ["SAK;NAVN"]
    for n in range(30):
        lines.append(f"S{n % 4};navn {n}")
    lines[5] = "S1;navn;extra"  # line 6: a field too many
    lines[9] = ";no key"  # line 10: no case key
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    in_memory = list(build_file(export, spec))
    monkeypatch.setattr(_csv, "SPILL_ROWS", 4)
    spilled = list(build_file(export, spec))
    assert _summary(spilled) == _summary(in_memory)
    keys = [r.key for r in spilled]
    assert keys == ["S0", "S1", "S2", "S3", "line 10"]
    s1 = next(r for r in spilled if r.key == "S1")
    assert any(e.code == "row-malformed" and e.source and e.source.rows == (6,) for e in s1.errors)
    assert list(private_tmp.iterdir()) == []


def test_decoding_retry_discards_the_first_attempts_runs(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_mapping(REPO / "mappings" / "csv-krav.yaml")
    export = tmp_path / "cp1252.csv"
    _interleaved_export(export, 6)  # cp1252 bytes (Kolsås) not valid UTF-8, late in the file
    in_memory = list(build_file(export, spec))
    monkeypatch.setattr(_csv, "SPILL_ROWS", 3)
    spilled = list(build_file(export, spec))
    assert _summary(spilled) == _summary(in_memory)
    assert list(private_tmp.iterdir()) == []


def test_no_room_for_the_runs_is_a_file_error_naming_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    monkeypatch.setattr(_csv, "SPILL_ROWS", 3)
    spec = load_mapping(REPO / "mappings" / "csv-krav.yaml")
    export = tmp_path / "in.csv"
    _interleaved_export(export, 3)
    with pytest.raises(SourceError) as caught:
        list(build_file(export, spec))
    assert "temporary file" in str(caught.value)
    assert caught.value.file == str(export)
    assert "TMPDIR" in (caught.value.hint or "")
