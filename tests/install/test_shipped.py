"""The shipped mappings: found through importlib.resources, searched after the configured."""

from __future__ import annotations

from pathlib import Path

from utlegg_gateway._shipped import mapping_search_dirs, shipped_examples_dir, shipped_mappings_dir
from utlegg_gateway.mapping import resolve_mapping

REPO = Path(__file__).resolve().parents[2]


def test_a_checkout_ships_its_top_level_mappings_folder() -> None:
    assert shipped_mappings_dir() == REPO / "mappings"
    assert (shipped_examples_dir() / "utlegg_20251103_020000.csv").is_file()


def test_configured_folders_come_first_then_the_shipped_ones(tmp_path: Path) -> None:
    own = tmp_path / "mine"
    own.mkdir()
    assert mapping_search_dirs([own]) == (own, REPO / "mappings")
    # Named twice (here: the shipped folder configured too) it is searched once.
    assert mapping_search_dirs([REPO / "mappings", own]) == (REPO / "mappings", own)

    # A name only the shipped folder has is found without configuration ...
    spec = resolve_mapping("csv-krav", tmp_path / "x.csv", mapping_search_dirs([own]))
    assert spec.path == REPO / "mappings" / "csv-krav.yaml"
    # ... and a site's own mapping of the same name wins.
    (own / "csv-krav.yaml").write_bytes((REPO / "mappings" / "csv-krav.yaml").read_bytes())
    spec = resolve_mapping("csv-krav", tmp_path / "x.csv", mapping_search_dirs([own]))
    assert spec.path == own / "csv-krav.yaml"
