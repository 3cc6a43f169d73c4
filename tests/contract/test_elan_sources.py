"""The ELAN shapes the contract tests use are what their sources say, checked from the
copies kept in tests/data/elan/ (no file outside the repository is read)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "elan"
BETA = DATA / "utleggsbegjaering-openapi-v1-e603e9046e5964ba8c1ad53750dbf99a.json"


def test_the_beta_document_is_the_published_blob() -> None:
    """The copy is byte for byte git blob aa3c197f (Skatteetaten/beta-apier @ f715999)."""
    raw = BETA.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()
    assert blob == "aa3c197f27216aa2ed7a462eac3d0f71c08727bd"


def test_the_422_schemas_are_copied_verbatim() -> None:
    """beta-problem-detail.json holds the document's two definitions, values unchanged."""
    published = json.loads(BETA.read_text("utf-8"))["components"]["schemas"]
    ours = json.loads((DATA / "beta-problem-detail.json").read_text("utf-8"))
    assert set(ours) == {"ProblemDetailMedKontrollutslag", "KontrollutslagIfbValidering"}
    for name, schema in ours.items():
        assert schema == published[name], name
