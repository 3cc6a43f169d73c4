"""`mapping explain FILE --case REF`: each target field with the source and transforms."""

from __future__ import annotations

import json

from click.testing import CliRunner

from utlegg_gateway.cli import main

from .conftest import REPO

EXAMPLES = REPO / "mappings" / "examples"


def _explain(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(main, ["mapping", "explain", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_each_field_names_its_line_column_and_transforms() -> None:
    """Fixed-width: the header's date, a claim's øre amount with its chain, a constant."""
    code, lines, _ = _explain(
        str(EXAMPLES / "fw_20251105.dat"),
        "--mapping", str(EXAMPLES / "fw-fixed.yaml"),
        "--case", "FW000017",
    )  # fmt: skip
    assert code == 0
    assert lines[0] == "case FW000017 (lines 2, 3, 4, 5, 6), mapping fw-fixed"
    assert (
        '/begjaeringsdato = "2025-11-05"  <- line 1, column 01.EKSPORTDATO, via date{%Y%m%d}'
        in lines
    )
    assert '/tvangsfullbyrdelsestype = "utlegg"  <- constant' in lines
    amount = next(
        line for line in lines if line.startswith("/kravTilInnkreving/1/gjenstaaendeBeloep/beloep")
    )
    assert amount.startswith(
        "/kravTilInnkreving/1/gjenstaaendeBeloep/beloep = 980.5  <- line 6, column 30.REST,"
        " via amount{"
    )
    assert "overpunch: True" in amount
    # Identifiers are masked, as in every issue.
    fnr = next(
        line for line in lines if "saksoekt/person/identifikator/taxIdentificationNumber" in line
    )
    assert "44926701751" not in fnr and '"*********51"' in fnr


def test_xml_fields_name_their_element_and_xpath() -> None:
    """XML: the element path and its line, the XPath, and a chain of two transforms."""
    code, lines, _ = _explain(
        str(EXAMPLES / "inkassonett_20251103.xml"), "--case", "EX-2025-3001", "--json"
    )
    assert code == 0
    fields = {f["pointer"]: f for f in map(json.loads, lines)}
    kind = fields["/tvangsfullbyrdelsestype"]
    assert (kind["source"], kind["column"], kind["transforms"], kind["origin"]) == (
        "/Utleggsbatch/Sak[1] (line 8)",
        "@forliksklage",
        ["boolean", "map{True, False}"],
        "xpath",
    )
    assert fields["/kravTilInnkreving/0/opprinneligBeloep/valuta"]["origin"] == "const"


def test_an_unknown_case_lists_the_cases() -> None:
    """A key not in the file: exit 2, naming the cases there are."""
    code, _, stderr = _explain(
        str(EXAMPLES / "wide_20251105.csv"),
        "--mapping",
        str(EXAMPLES / "wide-krav.yaml"),
        "--case",
        "W-9",
    )
    assert code == 2
    assert "no case 'W-9'" in stderr and "(cases: W-501, W-502)" in stderr
