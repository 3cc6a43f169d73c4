"""Attachment lookup for `submit` and the example configuration: real files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from utlegg_gateway.config import load_settings
from utlegg_gateway.elan.submit import read_begjaering
from utlegg_gateway.errors import InputFileError

REPO = Path(__file__).resolve().parents[2]


def test_unreadable_begjaering_is_an_input_error(tmp_path: Path) -> None:
    """A file that is not a JSON object is an input-file error, not a crash."""
    path = tmp_path / "b.json"
    path.write_text("[1, 2]")
    with pytest.raises(InputFileError):
        read_begjaering(path)


def test_example_configuration_is_valid() -> None:
    """config.example.yaml loads and validates as shipped."""
    settings = load_settings(REPO / "config.example.yaml", environ={})
    assert settings.maskinporten.scope == "skatteetaten:utleggsbegjaering"
    assert settings.maskinporten.pkcs12_file == REPO / "secrets/virksomhetssertifikat.p12"
    assert settings.elan.max_concurrency == 5
    assert settings.elan.base_url_for("test").endswith("/utleggsbegjaering/v2")
