"""`mapping init SAMPLE`: a starting mapping with every source column, the encoding and the
delimiter detected, and the target fields the model requires as TODOs."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from utlegg_gateway.cli import main
from utlegg_gateway.mapping.check import check_mapping

from .conftest import REPO

EXAMPLES = REPO / "mappings" / "examples"


def _init(tmp_path: Path, sample: Path, *args: str) -> tuple[Path, str]:
    out = tmp_path / "new.yaml"
    result = CliRunner().invoke(main, ["mapping", "init", str(sample), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out, out.read_text(encoding="utf-8")


def test_csv_lists_every_column_and_detects_encoding_and_delimiter(tmp_path: Path) -> None:
    """Windows-1252 and `;` detected; all 76 columns listed; it compiles; TODOs remain."""
    sample = EXAMPLES / "utlegg_20251103_020000.csv"
    path, text = _init(tmp_path, sample)
    header = sample.read_bytes().decode("cp1252").splitlines()[0].split(";")
    doc = yaml.safe_load(text)
    assert doc["source"] == {
        "kind": "csv",
        "encodings": ["cp1252"],
        "delimiter": ";",
        "header": True,
    }
    assert doc["patterns"] == ["utlegg_*.csv"]
    for column in header:
        assert f"#   {column} " in text
    assert "#   INNS_STED" in text and "'KOLSÅS'" in text
    assert "29887847396" not in text and "'*********96'" in text  # SKY_ID: masked
    for required in (
        "begjaeringsdato",
        "underskrift",
        "tvangsfullbyrdelsestype",
        "kravTilInnkreving",
    ):
        assert f"  {required}:" in text
    assert (
        "# TODO: code list Tvangsfullbyrdelsestype: utlegg, utleggOgForliksklageKombinert" in text
    )
    assert check_mapping(path, "2.1").errors == []
    with_sample = check_mapping(path, "2.1", [sample])
    (error,) = with_sample.errors
    assert "column(s) TODO missing from the header" in error.message


def test_utf8_comma_csv(tmp_path: Path) -> None:
    """UTF-8 and `,` (the wide example)."""
    _, text = _init(tmp_path, EXAMPLES / "wide_20251105.csv")
    doc = yaml.safe_load(text)
    assert (doc["source"]["encodings"], doc["source"]["delimiter"]) == (["utf-8", "cp1252"], ",")
    assert "#   KRAV5_REST" in text


def test_fixed_width_by_ruler_and_by_layout(tmp_path: Path) -> None:
    """A ruler: fields where the data has columns; a layout file: its names and positions."""
    sample = tmp_path / "ruled_20251105.dat"
    sample.write_text(
        "----+----1----+----2----+---\n"
        "K0001 Ola Nordmann    0012345\n"
        "K0002 Kari Nordmann   0000995\n",
        encoding="cp1252",
    )
    path, text = _init(tmp_path, sample)
    fields = yaml.safe_load(text)["source"]["records"]["*"]["fields"]
    assert fields == {"F1": "1-5", "F2": "7-19", "F3": "23-29"}
    # Each TODO is a field the layout lacks: check lists them, each at its line.
    errors = check_mapping(path, "2.1").errors
    assert errors and all("no record type has a column 'TODO'" in e.message for e in errors)
    assert len({e.line for e in errors}) == len(errors)
    layout = tmp_path / "layout.csv"
    layout.write_text("SAK;1;5\nNAVN;7-19\nBELOP;23;7\n", encoding="utf-8")
    (tmp_path / "new.yaml").unlink()
    _, text = _init(tmp_path, sample, "--layout", str(layout))
    fields = yaml.safe_load(text)["source"]["records"]["*"]["fields"]
    assert fields == {"SAK": "1-5", "NAVN": "7-19", "BELOP": "23-29"}
    assert "BELOP: \"23-29\"   # '0012345'" in text


def test_xml_finds_the_record_namespaces_and_paths(tmp_path: Path) -> None:
    """The repeated element under the root is the record; its attributes and children listed."""
    path, text = _init(tmp_path, EXAMPLES / "inkassonett_20251103.xml")
    doc = yaml.safe_load(text)
    assert doc["source"] == {
        "kind": "xml",
        "namespaces": {"in": "urn:no:inkassonett:eksport:3"},
        "record": "in:Sak",
    }
    assert "#   @saksnr " in text and "#   in:Underskrift " in text
    assert check_mapping(path, "2.1").errors == []


def test_an_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    """--out onto an existing file: exit 2, the file untouched."""
    out = tmp_path / "m.yaml"
    out.write_text("keep", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["mapping", "init", str(EXAMPLES / "wide_20251105.csv"), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert out.read_text(encoding="utf-8") == "keep"
