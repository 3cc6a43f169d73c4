"""Attachment lookup for `submit` and the example configuration: real files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from utlegg_gateway.config import load_settings
from utlegg_gateway.elan.submit import find_attachment, read_begjaering
from utlegg_gateway.errors import CaseError, InputFileError

REPO = Path(__file__).resolve().parents[2]


def test_attachment_found_by_name_or_stem(tmp_path: Path) -> None:
    """`vedlegg` finds vedlegg.pdf; an exact name wins over a stem match."""
    (tmp_path / "vedlegg.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "Fullmakt").write_bytes(b"x")
    (tmp_path / "Fullmakt.pdf").write_bytes(b"y")
    assert find_attachment(tmp_path, "vedlegg").name == "vedlegg.pdf"
    assert find_attachment(tmp_path, "Fullmakt").name == "Fullmakt"


@pytest.mark.parametrize("name", ["../etc/passwd", "sub/vedlegg", "..", ""])
def test_attachment_names_with_path_parts_are_refused(tmp_path: Path, name: str) -> None:
    """Names with path parts cannot reach outside the attachments folder."""
    with pytest.raises(CaseError):
        find_attachment(tmp_path, name)


def test_attachment_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    """A symlink pointing outside the folder is refused even though its name is plain."""
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"secret")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "vedlegg.pdf").symlink_to(outside)
    with pytest.raises(CaseError, match="outside"):
        find_attachment(folder, "vedlegg")


def test_missing_and_ambiguous_attachments(tmp_path: Path) -> None:
    """A missing file and two files with the same stem are both case errors naming the file."""
    with pytest.raises(CaseError, match="not found"):
        find_attachment(tmp_path, "vedlegg")
    (tmp_path / "vedlegg.pdf").write_bytes(b"a")
    (tmp_path / "vedlegg.png").write_bytes(b"b")
    with pytest.raises(CaseError, match="ambiguous"):
        find_attachment(tmp_path, "vedlegg")


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
