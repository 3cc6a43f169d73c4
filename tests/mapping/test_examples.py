"""The shipped example exports map cleanly with prøving; rule findings point back at the source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from utlegg_gateway.cli import main
from utlegg_gateway.mapping import load_mapping, map_file, resolve_mapping
from utlegg_gateway.provning import ProvingContext

from .conftest import REPO, SAMPLES

EXAMPLES = REPO / "mappings" / "examples"
CTX = ProvingContext(today=date(2025, 11, 5))


@pytest.mark.parametrize(
    ("name", "cases"),
    [
        ("utlegg_20251103_020000.csv", ["EX-2025-1001", "EX-2025-1002"]),
        ("utlegg_20251104_020000.csv", ["EX-2025-1003"]),
        ("inkassonett_20251103.xml", ["EX-2025-3001", "EX-2025-3002"]),
    ],
)
def test_examples_map_and_pass_provning(name: str, cases: list[str]) -> None:
    """Every case of every example is ok, and every attachment it names lies beside it."""
    path = EXAMPLES / name
    spec = resolve_mapping(None, path, [REPO / "mappings"])
    results = list(map_file(path, spec, CTX))
    assert [(r.key, r.ok, r.errors) for r in results] == [(c, True, ()) for c in cases]
    for result in results:
        assert result.attachments
        for ref in result.attachments:
            assert (EXAMPLES / ref.filnavn).read_bytes().startswith(b"%PDF-1.4")


def test_example_features_come_through() -> None:
    """Interleaved rows, co-debtors, a foreign address, interest series and corrections."""
    spec = load_mapping(REPO / "mappings" / "csv-krav.yaml")
    one, two = map_file(EXAMPLES / "utlegg_20251103_020000.csv", spec, CTX)
    assert one.source.rows == (2, 6)  # rows of EX-2025-1001 are not adjacent
    b1, b2 = one.begjaering, two.begjaering
    assert b1 is not None and b2 is not None
    assert len(b1["saksoekt"]) == 2
    assert (
        b1["begjaeringensTvangsgrunnlag"][0]["saerligTvangsgrunnlag"]["skriftligMeddelelse"][
            "faktiskeForholdForKravet"
        ]
        == "Levert strøm jan–feb 2025.\nFakturaen er ikke betalt."
    )
    assert b1["kravTilInnkreving"][0]["kravEndring"] == [
        {"nedjusteringAvInnsender": {"beloep": 50, "valuta": "NOK"}, "dato": "2025-05-15"}
    ]
    assert b2["saksoekt"][0]["saksoekt"]["adresse"][0]["adresseUtland"]["landkode"] == "SE"
    assert b2["saksoeker"][0]["saksoeker"]["person"]["personnavn"] == {
        "fornavn": "HENSIKT", "etternavn": "LYSEGUL"}  # fmt: skip
    rates = [k["rentekrav"]["beregnetMedAvtaltRentesats"] for k in b2["kravTilInnkreving"]
             if "rentekrav" in k]  # fmt: skip
    assert rates == [12.5, 12.5]


def test_rule_finding_points_at_the_source_row(tmp_path: Path) -> None:
    """A negative amount broken by prøving (UGYLDIG_BELOEP) names its CSV line and column."""
    text = (SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv").read_bytes()
    path = tmp_path / "utlegg_20251001_020000.csv"
    path.write_bytes(text.replace(b";1 400,00;1 400,00;", b";1 400,00;-1 400,00;"))
    result = CliRunner().invoke(main, ["map", str(path)])
    assert result.exit_code == 1
    bad, good = (json.loads(line) for line in result.stdout.splitlines())
    assert (bad["case"], bad["ok"], good["ok"]) == ("IB-2025-000127", False, True)
    finding = next(e for e in bad["errors"] if e["code"] == "UGYLDIG_BELOEP")
    assert finding["location"] == "/kravTilInnkreving/2/gjenstaaendeBeloep/beloep"
    assert (finding["rows"], finding["column"]) == ([4], "REST_BELOP")
