"""`mapping check`: every problem of a mapping in one run, at its YAML line:column.

The must-show test: a mapping with eight different mistakes, all reported by one run of
the real command (a subprocess), each at its line and column, with a did-you-mean or the
valid values where one exists. `map` and the gateway refuse the same mapping at load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from utlegg_gateway.cli import main
from utlegg_gateway.errors import MappingSpecError
from utlegg_gateway.mapping import load_mapping, resolve_mapping
from utlegg_gateway.mapping.check import check_mapping

from .conftest import REPO, write_mapping

# Line numbers below are those of this text (1-based); each mistake is marked with ←.
EIGHT_MISTAKES = """\
source: {kind: csv, delimter: ";"}
case: {key: {col: SAKSNR}}
template:
  begjaringsdato: {col: DATO, transform: date_no}
  tvangsfullbyrdelsestype: {const: utleg}
  underskrift: {col: SIGN, requird: true}
  saksoeker:
    - saksoeker:
        virksomhet:
          navn: {col: KRED_NAVN}
          identifikator:
            taxIdentificationNumber: {col: KRED_ORGNR}
            landkodeIdentifikator: {const: NO}
          virksomhetstype: {col: KRED_ART, transform: {map: {I: inkasso, A: advokatfirma}}}
  saksoekt:
    - saksoekt:
        person:
          personnavn: {col: NAVN, transform: name_comma}
          foedselsdato: {col: FODT}
  begjaeringensTvangsgrunnlag:
    - betegnelseAvTvangsgrunnlag: {const: Faktura}
      tvangsgrunnlagsdato: {col: GRL_DATO, transform: date_nor}
      innsendersKravreferanse: [{col: REF}]
      tvangsgrunnlag: {col: FIL, attachment: tvangsgrunnlagg}
      saerligTvangsgrunnlag:
        sjekkEllerVeksel: {sjekk: {const: true}}
  betalingsinformasjon:
    norskKonto: {col: NORSK}
    kontoinformasjon: {kontonummer: {col: KONTO}}
"""

# (line, column, words the message must hold)
WANT = [
    (1, 21, ["unknown key", "did you mean 'delimiter'"]),
    (3, 1, ["required field 'begjaeringsdato'"]),
    (4, 3, ["unknown target field 'begjaringsdato'", "did you mean 'begjaeringsdato'"]),
    (5, 36, ["'utleg'", "code list Tvangsfullbyrdelsestype", "valid values: utlegg, "]),
    (6, 28, ["unknown key 'requird'", "did you mean 'required'"]),
    (14, 34, ["'inkasso'", "VirksomhetsType", "valid values: advokatfirma, annet, inkassov"]),
    (19, 31, ["type mismatch", "a text into a date field", "add a date transform"]),
    (22, 55, ["unknown transform 'date_nor'", "did you mean 'date_no'"]),
    (24, 46, ["unknown attachment type 'tvangsgrunnlagg'", "tvangsgrunnlag,"]),
    (28, 23, ["type mismatch", "true/false field", "add the boolean transform"]),
]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTLEGG_GATEWAY__")}
    return subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_every_mistake_in_one_run_with_line_column_and_a_hint(tmp_path: Path) -> None:
    """Ten problems of eight kinds, one run, exit 1; each at its line:column with its hint."""
    path = write_mapping(tmp_path, EIGHT_MISTAKES, "bad.yaml")
    proc = _cli("mapping", "check", str(path), "--json", "--model-version", "2.1", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    assert all(p["severity"] == "error" and p["file"] == str(path) for p in got)
    assert [(p["line"], p["column"]) for p in got] == [(line, col) for line, col, _ in WANT]
    for problem, (_, _, words) in zip(got, WANT, strict=True):
        for word in words:
            assert word in problem["message"], (word, problem)
    assert "10 error(s), 0 warning(s) (model 2.1)" in proc.stderr


def test_the_text_report_is_compiler_style(tmp_path: Path) -> None:
    """`path:line:col: error: message`, one per line, so editors and CI can jump to them."""
    path = write_mapping(tmp_path, EIGHT_MISTAKES, "bad.yaml")
    result = CliRunner().invoke(main, ["mapping", "check", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{path}:1:21: error: source.csv.delimter: unknown key (did you mean 'delimiter'?)"
    )
    assert len(lines) == len(WANT)


def test_map_refuses_the_same_mapping_at_load(tmp_path: Path) -> None:
    """`map` runs the same check: exit 2 before reading the file, naming every error."""
    path = write_mapping(tmp_path, EIGHT_MISTAKES, "bad.yaml")
    source = tmp_path / "in.csv"
    source.write_text("SAKSNR;DATO\nA;01.01.2025\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["map", str(source), "--mapping", str(path)])
    assert result.exit_code == 2
    assert f"[mapping-invalid] {path}:1:21:" in result.stderr
    assert "(+9 more)" in result.stderr
    assert f"{path}:28:23: error: norskKonto: type mismatch" in result.stderr


def test_the_gateway_check_is_the_load_check(tmp_path: Path) -> None:
    """resolve_mapping with the configured version (what the pipeline calls) raises them all."""
    write_mapping(tmp_path, EIGHT_MISTAKES, "bad.yaml")
    try:
        resolve_mapping("bad", tmp_path / "x.csv", [tmp_path], version="2.1")
    except MappingSpecError as exc:
        assert len([p for p in exc.problems if p.severity == "error"]) == len(WANT)
        assert (exc.row, exc.column) == (1, "21")
    else:
        raise AssertionError("the mapping loaded")


def test_model_checks_follow_the_version(tmp_path: Path) -> None:
    """kreverRenterAvRettsgebyr is new in 2.1; eksternSaksreferanse is required in 1.1."""
    text = (REPO / "mappings" / "csv-krav.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  betalingsinformasjon:\n",
        "  kreverRettsgebyrErstattet:\n"
        "    kreverRettsgebyrErstattet: {const: true}\n"
        "    kreverRenterAvRettsgebyr: {const: true}\n"
        "  betalingsinformasjon:\n",
    )
    text = text.replace("      eksternSaksreferanse: {col: GRL_NR}\n", "")
    path = write_mapping(tmp_path, text, "m.yaml")
    by_version = {v: check_mapping(path, v) for v in ("1.1", "2.0", "2.1")}
    assert [p.message for p in by_version["2.1"].errors] == []
    assert [p.message for p in by_version["2.0"].errors] == [
        "'kreverRenterAvRettsgebyr' is not in model version 2.0"
    ]
    assert sorted(p.message for p in by_version["1.1"].errors) == [
        "'kreverRenterAvRettsgebyr' is not in model version 1.1",
        "required field 'eksternSaksreferanse' of BegjaeringensTvangsgrunnlag is filled by no"
        " branch of the template (model 1.1)",
    ]


def test_shipped_mappings_have_no_error_in_any_version() -> None:
    """The shipped mappings pass the check (deprecations in 2.1 are warnings)."""
    for name in ("csv-krav.yaml", "xml-sak.yaml"):
        for version in ("1.1", "2.0", "2.1"):
            report = check_mapping(REPO / "mappings" / name, version)
            assert report.errors == [], (name, version)
        assert all(
            "deprecated" in w.message
            for w in check_mapping(REPO / "mappings" / name, "2.1").warnings
        )


XML_MAPPING = """\
source: {kind: xml, namespaces: {in: "urn:x"}, record: "in:Sak"}
case: {key: {xpath: "@nr"}}
template:
  innsenderReferanse: {xpath: "@nr"}
  underskrift: {xpath: "Underskrift"}
  begjaeringsdato: {xpath: "in:Dato", transform: date_iso}
"""


def test_unprefixed_xpath_in_a_namespaced_file_is_a_warning(tmp_path: Path) -> None:
    """`Underskrift` without `in:` never matches in namespaced records: a warning."""
    path = write_mapping(tmp_path, XML_MAPPING)
    spec = load_mapping(path)
    assert [(w.line, w.column) for w in spec.warnings] == [(5, 24)]
    assert "write in:Underskrift" in spec.warnings[0].message


def test_sample_xpaths_and_record_path_that_match_nothing(tmp_path: Path) -> None:
    """--sample: a record path matching nothing, and XPaths that never match, are warnings."""
    path = write_mapping(tmp_path, XML_MAPPING)
    good = tmp_path / "good.xml"
    good.write_text(
        '<in:B xmlns:in="urn:x"><in:Sak nr="1"><in:Dato>2025-01-02</in:Dato></in:Sak></in:B>'
    )
    wrong_ns = tmp_path / "wrong.xml"
    wrong_ns.write_text('<B xmlns="urn:y"><Sak nr="1"/></B>')
    report = check_mapping(path, "2.1", [good, wrong_ns])
    assert [(w.line, w.column, w.message) for w in report.warnings] == [
        (
            1,
            48,
            f"the record path 'in:Sak' matches nothing in sample {wrong_ns}: check the "
            "namespace, the delimiter, the header or the record types",
        ),
        (5, 24, report.warnings[1].message),
        (5, 24, f"XPath 'Underskrift' matches nothing in any record of sample {good}"),
    ]
    assert [(r.path, r.cases, r.failed) for r in report.samples] == [(good, 1, 0), (wrong_ns, 0, 0)]


def test_the_pipeline_refuses_the_mapping_at_load(tmp_path: Path) -> None:
    """The gateway itself: reload_mappings (start and SIGHUP) raises every error of it."""
    from datetime import UTC, datetime

    from utlegg_gateway.config import load_settings
    from utlegg_gateway.gateway.pipeline import Pipeline
    from utlegg_gateway.journal.sqlite import Journal

    folder = tmp_path / "mappings"
    folder.mkdir()
    write_mapping(folder, EIGHT_MISTAKES, "bad.yaml")
    (tmp_path / "in").mkdir()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"inboxes:\n  - name: a\n    path: {tmp_path}/in\n    mappings: [bad]\n"
        f"runner:\n  mapping_dirs: [{folder}]\n",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    journal = Journal.open(tmp_path / "j.sqlite3", clock=lambda: datetime.now(UTC))
    # Loading mappings needs no ELAN client.
    pipeline = Pipeline(settings, journal, None)  # type: ignore[arg-type]
    try:
        pipeline.reload_mappings()
    except MappingSpecError as exc:
        assert len([p for p in exc.problems if p.severity == "error"]) == len(WANT)
        assert "unknown target field 'begjaringsdato'" in str(exc)
    else:
        raise AssertionError("the pipeline loaded the mapping")
    finally:
        pipeline.close()
        journal.close()
