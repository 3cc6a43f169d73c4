"""`utlegg-gateway validate`: output lines, exit codes 0/1/2, options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from utlegg_gateway.cli import main

DATA = Path(__file__).resolve().parent / "model" / "data"
OFFICIAL_1_1 = ["model-1.1-begjaering-v1.json", "model-1.1-begjaering-v1-kompleks.json"]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", OFFICIAL_1_1)
def test_official_examples_pass_under_1_1(name: str) -> None:
    """Each official 1.1 example exits 0 with --model-version 1.1."""
    code, out = _run(str(DATA / name), "--model-version", "1.1")
    assert code == 0, out
    assert "OK (model 1.1, environment test)" in out


def test_model_2_0_lists_the_differences() -> None:
    """Under 2.0 (the default before 2.1) the simple example lists what 2.0 changed, exit 1."""
    code, out = _run(str(DATA / "model-1.1-begjaering-v1.json"), "--model-version", "2.0")
    assert code == 1
    lines = out.splitlines()
    assert (
        "KRAV_OPPGIS_UTEN_FORFALLSDATO  /kravTilInnkreving/1/kravforfall  "
        "Krav RentekravPåHovedkrav_00890772001_1 must be given without a due date"
    ) in lines
    assert any(
        line.startswith(
            "MODELL_UGYLDIG_KODE  /begjaeringensTvangsgrunnlag/0/begrunnelseUnnlatVarsel"
        )
        for line in lines
    )
    assert lines[-1].endswith("2 finding(s) (model 2.0, environment test)")


def test_broken_relation_is_reported_with_its_pointer(tmp_path: Path) -> None:
    """A relatertKrav pointing nowhere prints the rule and the JSON pointer, exit 1."""
    doc = json.loads((DATA / "model-1.1-begjaering-v1.json").read_text(encoding="utf-8"))
    doc["kravTilInnkreving"][2]["relatertKrav"] = ["FINNES-IKKE"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    code, out = _run(str(path), "--model-version", "1.1")
    assert code == 1
    assert out.splitlines()[0] == (
        "RELATERTE_KRAV_UGYLDIGE_KRAVREFERANSER  /kravTilInnkreving/2/relatertKrav/0  "
        "The claim with kravreferanse UtenrettsligKostnaderAvHovedkrav_00890772001 points "
        "to a related claim FINNES-IKKE that does not exist"
    )


@pytest.mark.parametrize("content", [None, b"{not json", b"\xff\xfe\x00"])
def test_unreadable_file_exits_2(tmp_path: Path, content: bytes | None) -> None:
    """A missing file, broken JSON or non-UTF-8 bytes: an error on stderr and exit 2."""
    path = tmp_path / "case.json"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "input-file-unreadable" in result.output


def test_environment_prod_rejects_synthetic_identities(tmp_path: Path) -> None:
    """--environment prod turns the examples' Tenor identities into findings."""
    code, out = _run(str(DATA / "model-1.1-begjaering-v1-kompleks.json"), "--environment", "prod")
    assert code == 1
    assert (
        "SYNTETISK_IDENTITET_I_PROD  /saksoekt/0/saksoekt/person/identifikator"
        "/taxIdentificationNumber" in out
    )
    assert "10828697949" not in out  # the fødselsnummer is masked


def test_config_file_sets_version_and_organisation(tmp_path: Path) -> None:
    """--config: model_version from the file; organisation enables the innsender check."""
    config = tmp_path / "gateway.yaml"
    config.write_text("model_version: '1.1'\norganisation: '310288837'\n", encoding="utf-8")
    code, out = _run(str(DATA / "model-1.1-begjaering-v1.json"), "--config", str(config))
    assert code == 1
    assert out.splitlines()[0].startswith(
        "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING  /innsender/innsender/virksomhet/identifikator"
    )
    assert "(model 1.1, environment test)" in out


def test_upload_placeholders_flag(tmp_path: Path) -> None:
    """<upload:FILE> uuids are refused by default and accepted with the flag."""
    doc = json.loads((DATA / "model-1.1-begjaering-v1-kompleks.json").read_text(encoding="utf-8"))
    doc["vedlegg"][0]["uuid"] = "<upload:annet.pdf>"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert _run(str(path))[0] == 1
    assert _run(str(path), "--allow-upload-placeholders")[0] == 0


def test_installed_command_runs_as_a_subprocess() -> None:
    """The real entry point (python -m utlegg_gateway) exits 0 on a clean file."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "utlegg_gateway",
            "validate",
            "--model-version",
            "1.1",
            str(DATA / "model-1.1-begjaering-v1-kompleks.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK (model 1.1, environment test)")


def test_validate_checks_map_output(tmp_path: Path) -> None:
    """What `map` writes validates clean: the Vedlegg uuids are uploads still to come, so no
    VEDLEGG_SKAL_HA_UUID (issue 14 item 13); each finding is prefixed by its case."""
    repo = Path(__file__).resolve().parents[1]
    export = repo / "mappings" / "examples" / "utlegg_20251103_020000.csv"
    mapped = CliRunner().invoke(main, ["map", str(export)])
    assert mapped.exit_code == 0, mapped.output
    out = tmp_path / "mapped.jsonl"
    out.write_text(mapped.stdout, encoding="utf-8")
    assert len(mapped.stdout.splitlines()) == 2
    code, text = _run(str(out))
    assert code == 0, text
    assert "VEDLEGG_SKAL_HA_UUID" not in text
    assert text.splitlines()[-1] == f"{out}: OK (model 2.1, environment test)"
    # One line of map output on its own is a JSON file: the same.
    one = tmp_path / "one.json"
    one.write_text(mapped.stdout.splitlines()[0], encoding="utf-8")
    assert _run(str(one))[0] == 0
    # A broken case in map output is reported with its case and counts as a finding.
    first = json.loads(mapped.stdout.splitlines()[0])
    first["begjaering"]["kravTilInnkreving"][0]["gjenstaaendeBeloep"]["beloep"] = -1
    failed = {"case": "X-1", "ok": False, "errors": [{"code": "invalid-date"}]}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(first) + "\n" + json.dumps(failed) + "\n", encoding="utf-8")
    code, text = _run(str(bad))
    assert code == 1
    lines = text.splitlines()
    assert any(
        line.startswith("EX-2025-1001: UGYLDIG_BELOEP  /kravTilInnkreving/0/gjenstaaendeBeloep")
        for line in lines
    ), lines
    assert "X-1: not built by map (1 error(s)); see its errors" in lines


def test_a_plain_begjaering_without_uuid_still_needs_one(tmp_path: Path) -> None:
    """Only map output gets placeholders: a begjæring file without a uuid is still a finding."""
    repo = Path(__file__).resolve().parents[1]
    export = repo / "mappings" / "examples" / "utlegg_20251103_020000.csv"
    mapped = CliRunner().invoke(main, ["map", str(export)])
    payload = json.loads(mapped.stdout.splitlines()[0])["begjaering"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, text = _run(str(path))
    assert code == 1
    assert "VEDLEGG_SKAL_HA_UUID" in text


def test_shipped_mappings_cite_only_files_in_the_repository() -> None:
    """Every path a shipped mapping's comments name (docs/…, tests/…, *.md) exists."""
    import re

    repo = Path(__file__).resolve().parents[1]
    cited = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.(?:md|yaml|csv|xml|pdf|py))\b")
    seen = 0
    for mapping in sorted((repo / "mappings").rglob("*.yaml")):
        for line in mapping.read_text(encoding="utf-8").splitlines():
            comment = line.partition("#")[2] if "#" in line else ""
            for name in cited.findall(comment):
                seen += 1
                assert (repo / name).exists() or (mapping.parent / name).exists(), (
                    mapping.name,
                    name,
                )
    assert seen >= 2
