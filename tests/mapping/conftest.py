"""Helpers for mapping tests: write a mapping and a source into tmp_path, build the cases."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from utlegg_gateway.mapping import CaseResult, MappingSpec, build_file, load_mapping

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "samples"
REPO = Path(__file__).resolve().parents[2]


def write_mapping(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def spec_from(tmp_path: Path) -> Callable[[str], MappingSpec]:
    """Load a mapping given as YAML text."""

    def load(text: str) -> MappingSpec:
        return load_mapping(write_mapping(tmp_path, text))

    return load


@pytest.fixture
def build(tmp_path: Path) -> Callable[..., list[CaseResult]]:
    """Build every case of `source` (text or bytes) with the mapping given as YAML text."""

    def run(mapping: str, source: str | bytes, name: str = "in.csv") -> list[CaseResult]:
        spec = load_mapping(write_mapping(tmp_path, mapping))
        path = tmp_path / name
        if isinstance(source, str):
            path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        else:
            path.write_bytes(source)
        return list(build_file(path, spec))

    return run
