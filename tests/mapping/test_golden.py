"""`mapping test DIR`: golden tests of a mapping, and the shipped examples held to theirs.

The examples in mappings/examples/ (a header/detail file, a fixed-width export, a wide
CSV, besides the original CSV and XML) are mapped by the language alone and compared
with their expected JSON through the real command, in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from utlegg_gateway.cli import main
from utlegg_gateway.mapping.golden import field_diffs

from .conftest import REPO

EXAMPLES = REPO / "mappings" / "examples"
NEW_KINDS = {
    "hd_20251105.txt": ("hd-records", ["HD-2025-01", "HD-2025-02"]),
    "fw_20251105.dat": ("fw-fixed", ["FW000017", "FW000018"]),
    "wide_20251105.csv": ("wide-krav", ["W-501", "W-502"]),
}


def test_every_example_passes_its_golden_test() -> None:
    """The real command over mappings/examples: every case PASS, exit 0, new kinds included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTLEGG_GATEWAY__")}
    proc = subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", "mapping", "test", str(EXAMPLES),
         "--today", "2025-11-05"],
        capture_output=True, text=True, encoding="utf-8", env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    passed = {tuple(line.split()[1:]) for line in lines if line.startswith("PASS")}
    assert len(passed) == len(lines) == 11
    for export, (_, cases) in NEW_KINDS.items():
        assert {(export, c) for c in cases} <= passed
    assert f"{EXAMPLES}: 11 case(s), 11 passed, 0 failed" in proc.stderr


def test_new_kinds_have_attachments_and_expected_json() -> None:
    """Each new example's cases name attachments that lie beside it, in their expected JSON."""
    for export, (mapping, cases) in NEW_KINDS.items():
        assert (EXAMPLES / f"{mapping}.yaml").is_file()
        for case in cases:
            expected = json.loads((EXAMPLES / "expected" / export / f"{case}.json").read_text())
            grunnlag = expected["begjaeringensTvangsgrunnlag"][0]["tvangsgrunnlag"]
            assert grunnlag["type"] == "tvangsgrunnlag"
            assert (EXAMPLES / grunnlag["filnavn"]).read_bytes().startswith(b"%PDF-1.4")
            assert expected["innsenderReferanse"] == case


def test_the_new_kinds_read_what_their_formats_hold() -> None:
    """Spot checks: øre with an overpunched sign, a header value in every case, empty groups."""
    fw = json.loads((EXAMPLES / "expected" / "fw_20251105.dat" / "FW000017.json").read_text())
    assert [k["gjenstaaendeBeloep"]["beloep"] for k in fw["kravTilInnkreving"]] == [21500, 980.5]
    assert fw["begjaeringsdato"] == "2025-11-05"  # the 01 header's export date
    assert fw["saksoekt"][0]["saksoekt"]["person"]["foedselsdato"] == "2006-09-16"
    wide = json.loads((EXAMPLES / "expected" / "wide_20251105.csv" / "W-502.json").read_text())
    assert [k["innsendersKravreferanse"] for k in wide["kravTilInnkreving"]] == [
        "W502-1",
        "W502-3",
    ]  # KRAV2_ is empty: no claim, no gap
    assert wide["saksoekt"][0]["saksoekt"]["adresse"][0]["adresseUtland"]["landkode"] == "SE"
    hd = json.loads((EXAMPLES / "expected" / "hd_20251105.txt" / "HD-2025-02.json").read_text())
    assert hd["underskrift"] == "Anna Norman"  # from the H header line
    assert hd["kravTilInnkreving"][0]["opprinneligBeloep"]["beloep"] == 3250.5


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "golden"
    folder.mkdir()
    for name in ("wide-krav.yaml", "wide-kravtyper.csv", "wide_20251105.csv", "W-501_dom.pdf",
                 "W-502_forlik.pdf"):  # fmt: skip
        shutil.copy(EXAMPLES / name, folder / name)
    shutil.copytree(EXAMPLES / "expected" / "wide_20251105.csv", folder / "expected" /
                    "wide_20251105.csv")  # fmt: skip
    return folder


def _run(folder: Path, *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["mapping", "test", str(folder), "--today", "2025-11-05",
                                       *args])  # fmt: skip
    return result.exit_code, result.stdout.splitlines()


def test_a_changed_value_fails_with_a_readable_diff_per_field(tmp_path: Path) -> None:
    """One amount changed in the export: FAIL naming the pointer, expected and actual, exit 1."""
    folder = _copy(tmp_path)
    export = folder / "wide_20251105.csv"
    export.write_text(export.read_text().replace("10500.00", "10400.00"), encoding="utf-8")
    code, lines = _run(folder)
    assert code == 1
    assert lines == [
        "FAIL    wide_20251105.csv W-501",
        "        /kravTilInnkreving/0/gjenstaaendeBeloep/beloep: expected 10500, got 10400",
        "PASS    wide_20251105.csv W-502",
    ]


def test_update_writes_the_expected_files_new_and_gone(tmp_path: Path) -> None:
    """No expected file: NEW (exit 1); --update writes it and drops a stale one; then PASS."""
    folder = _copy(tmp_path)
    (folder / "expected" / "wide_20251105.csv" / "W-501.json").unlink()
    stale = folder / "expected" / "wide_20251105.csv" / "W-999.json"
    stale.write_text("{}", encoding="utf-8")
    code, lines = _run(folder)
    assert code == 1
    assert lines[0] == "NEW     wide_20251105.csv W-501"
    assert "GONE    wide_20251105.csv W-999" in lines
    code, lines = _run(folder, "--update")
    assert code == 0
    assert lines == ["UPDATED wide_20251105.csv W-501", "UPDATED wide_20251105.csv W-502"]
    assert not stale.exists()
    written = json.loads((folder / "expected" / "wide_20251105.csv" / "W-501.json").read_text())
    assert written == json.loads(
        (EXAMPLES / "expected" / "wide_20251105.csv" / "W-501.json").read_text()
    )
    assert _run(folder)[0] == 0


def test_a_missing_attachment_and_a_failing_case_are_reported(tmp_path: Path) -> None:
    """An attachment not in DIR is a difference; a case that must fail keeps its errors."""
    folder = _copy(tmp_path)
    (folder / "W-502_forlik.pdf").unlink()
    export = folder / "wide_20251105.csv"
    export.write_text(export.read_text().replace("2025-11-05,Anna", "05.11.2025,Anna", 1))
    code, lines = _run(folder)
    assert code == 1
    assert "        attachment W-502_forlik.pdf (tvangsgrunnlag) is not in " + str(folder) in lines
    assert any(line.startswith("        /begjaeringsdato: expected") for line in lines)
    _run(folder, "--update")
    failing = json.loads((folder / "expected" / "wide_20251105.csv" / "W-501.json").read_text())
    assert [e["code"] for e in failing["errors"]] == ["invalid-date"]
    assert _run(folder)[0] == 1  # the attachment is still missing


def test_field_diffs_lists_missing_extra_and_type_changes() -> None:
    """Leaves compared by JSON pointer; 1 and 1.0 and "1" differ in type."""
    assert field_diffs({"a": {"b": 1, "c": [1, 2]}}, {"a": {"b": "1", "c": [1], "d": True}}) == [
        '/a/b: expected 1, got "1"',
        "/a/c/1: expected 2, got nothing",
        "/a/d: not expected, got true",
    ]
