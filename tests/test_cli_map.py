"""`utlegg-gateway map`: the shared samples map to exactly the expected JSON, through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from utlegg_gateway.cli import main

SAMPLES = Path(__file__).parent / "mapping" / "data" / "samples"
REPO = Path(__file__).resolve().parents[1]


def _drop_uuid(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_uuid(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_drop_uuid(v) for v in value]
    return value


def _run(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, ["map", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("csv-krav", "from-csv"), ("xml-sak", "from-xml")],
)
def test_every_sample_maps_to_its_expected_json(
    folder: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shared sample, mapping chosen by file-name pattern, gives exactly the expected JSON."""
    monkeypatch.chdir(tmp_path)  # no ./mappings here: the shipped mappings are found
    (source,) = [p for p in (SAMPLES / folder).iterdir() if p.suffix in {".csv", ".xml"}]
    code, lines, stderr = _run(str(source))
    assert code == 0, stderr
    want_files = sorted((SAMPLES / "expected" / expected).glob("*.json"))
    assert [line["case"] for line in lines] == [p.stem for p in want_files]
    for line, want_file in zip(lines, want_files, strict=True):
        assert line["ok"] is True
        want = json.loads(want_file.read_text(encoding="utf-8"))
        assert _drop_uuid(line["begjaering"]) == _drop_uuid(want)


def test_named_mapping_and_path_resolve_the_same(tmp_path: Path) -> None:
    """--mapping NAME and --mapping PATH choose the same mapping and the same output."""
    source = tmp_path / "export.csv"  # a name no pattern matches
    shutil.copy(SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv", source)
    by_name = _run(str(source), "--mapping", "csv-krav")
    by_path = _run(str(source), "--mapping", str(REPO / "mappings" / "csv-krav.yaml"))
    assert by_name[0] == 0
    assert by_name[1] == by_path[1]
    assert len(by_name[1]) == 2


def test_no_matching_pattern_is_exit_2(tmp_path: Path) -> None:
    """A file no mapping's pattern matches cannot be mapped: exit 2 and a hint."""
    source = tmp_path / "export.csv"
    shutil.copy(SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv", source)
    code, lines, stderr = _run(str(source))
    assert code == 2
    assert lines == []
    assert "no mapping declares a file-name pattern matching 'export.csv'" in stderr


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    """A file that does not exist is exit 2."""
    code, _, stderr = _run(str(tmp_path / "utlegg_nothing.csv"))
    assert code == 2
    assert "no such file" in stderr


def test_real_command_line_process(tmp_path: Path) -> None:
    """The installed entry point (a real subprocess) maps the XML sample."""
    source = SAMPLES / "xml-sak" / "inkassonett_20251001.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", "map", str(source)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    cases = [json.loads(line)["case"] for line in proc.stdout.splitlines()]
    assert cases == ["IB-2025-000127", "IB-2025-000311"]


def test_file_without_cases_is_an_error(tmp_path: Path) -> None:
    """An export in which the record path matches nothing is an error (issue 14 item 7:
    never "0 cases, exit 0"), as in the gateway: exit 2, nothing on stdout, a hint."""
    source = tmp_path / "inkassonett_20250101.xml"
    source.write_text('<in:Utleggsbatch xmlns:in="urn:no:inkassonett:eksport:3"/>\n')
    code, lines, stderr = _run(str(source))
    assert (code, lines) == (2, [])
    assert "[source-unreadable] the mapping 'xml-sak' found no case in" in stderr
    assert "mapping check MAPPING --sample FILE" in stderr


def test_mapping_warnings_are_noted_in_one_line(tmp_path: Path) -> None:
    """Warnings of the load check (deprecated fields under 2.1) do not stop map: one note."""
    repo = Path(__file__).resolve().parents[1]
    source = repo / "mappings" / "examples" / "utlegg_20251104_020000.csv"
    code, lines, stderr = _run(str(source))
    assert code == 0, stderr
    assert len(lines) == 1
    notes = [line for line in stderr.splitlines() if line.startswith("note: mapping csv-krav:")]
    assert len(notes) == 1
    assert "warning(s) under model 2.1; `utlegg-gateway mapping check" in notes[0]


def test_grouping_adjacent_maps_the_same_and_refuses_a_key_that_comes_back(
    tmp_path: Path,
) -> None:
    """The sample (its cases' rows adjacent) maps as with the default; rows of its first
    case moved behind the second case are exit 2, naming the line and the option."""
    text = (REPO / "mappings" / "csv-krav.yaml").read_text(encoding="utf-8")
    mapping = tmp_path / "adjacent.yaml"
    mapping.write_text(text.replace("  header: true\n", "  header: true\n  grouping: adjacent\n"))
    sample = SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv"
    default = _run(str(sample), "--mapping", "csv-krav")
    adjacent = _run(str(sample), "--mapping", str(mapping))
    assert adjacent[0] == default[0] == 0, adjacent[2]
    assert [_drop_uuid(line) for line in adjacent[1]] == [_drop_uuid(line) for line in default[1]]
    header, first, *rest = sample.read_bytes().split(b"\r\n")
    broken = tmp_path / "utlegg_broken.csv"
    broken.write_bytes(b"\r\n".join([header, *rest[:-1], first, b""]))
    code, _lines, stderr = _run(str(broken), "--mapping", str(mapping))
    assert code == 2
    assert "[source-unreadable] rows of case IB-2025-000127 at line 8" in stderr
    assert "grouping: adjacent" in stderr
