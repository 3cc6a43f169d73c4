"""The outbox as a published contract: schemas, examples, versioning, an importer's view.

The autouse fixture in conftest.py validates every outbox file any test writes; these
tests check the contract itself.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests._outbox_contract import check_csv, check_file, json_validator
from tests._outbox_examples import EXAMPLES, example_sources, produce

REPO = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO / "docs" / "outbox"
SCHEMAS = resources.files("utlegg_gateway.schemas")
SCHEMA_FILES = sorted(
    p.name for p in SCHEMAS.iterdir() if p.name.endswith((".schema.json", ".xsd", ".csv.json"))
)


def _example(name: str) -> bytes:
    return (EXAMPLES_DIR / name).read_bytes()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_fits_its_schema(name: str) -> None:
    """docs/outbox/ holds one example per kind and format, each valid."""
    assert check_file(EXAMPLES_DIR / name) == [] or name.endswith(".txt")


def _shape(name: str, data: bytes) -> set[str]:
    """The structure of an outbox file: JSON key paths, CSV header, XML element/attribute paths."""
    if name.endswith(".json"):
        out: set[str] = set()

        def walk(node: Any, path: str) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    # the raw answers ELAN or a source gave are not ours to pin
                    if key not in {"statusPaaSak", "begjaering", "kilde"}:
                        walk(value, f"{path}/{key}")
                out.add(path)
            elif isinstance(node, list):
                for value in node:
                    walk(value, f"{path}[]")
            else:
                out.add(path)

        walk(json.loads(data), "")
        return out
    if name.endswith(".csv"):
        return {data.decode("utf-8-sig").split("\r\n", 1)[0]}
    if name.endswith(".xml"):
        root = etree.fromstring(data)
        return {
            f"{etree.QName(e).localname}@{a}"
            for e in root.iter()
            for a in [*e.attrib, ""]
            if isinstance(e.tag, str)
        }
    lines = data.decode("utf-8").splitlines()
    return {line.split(":", 1)[0] for line in lines if ":" in line}


def test_examples_are_current(tmp_path: Path) -> None:
    """A fresh run writes files of the same shape as the examples (refresh: see the module
    tests/_outbox_examples.py)."""
    fresh = example_sources(produce(tmp_path / "run"))
    for name, source in fresh.items():
        assert _shape(name, source.read_bytes()) == _shape(name, _example(name)), (
            f"docs/outbox/{name} is out of date: python -m tests._outbox_examples docs/outbox"
        )


def test_the_validator_rejects_known_bad_files(tmp_path: Path) -> None:
    """Self-test: the checks can fail (a wrong value, a missing field, a bad row)."""
    doc = json.loads(_example("kvittering.json"))
    doc["cases"][0]["status"] = "maybe"
    del doc["summary"]["failed"]
    errors = list(json_validator("kvittering.v1.schema.json").iter_errors(doc))
    assert len(errors) == 2
    extra = json.loads(_example("statusendring.json"))
    extra["nyttFelt"] = 1
    bad_json = tmp_path / "outbox" / "x.json"
    bad_json.parent.mkdir()
    bad_json.write_text(json.dumps(extra))
    assert check_file(bad_json)  # additional properties are not allowed
    xml = _example("kvittering.xml").replace(b'status="', b'status="x', 1)
    bad_xml = tmp_path / "outbox" / "x.kvittering.xml"
    bad_xml.write_bytes(xml)
    assert check_file(bad_xml)
    rows = _example("kvittering.csv").decode("utf-8-sig").split("\r\n")
    rows[1] = rows[1] + ";extra"
    assert check_csv("\r\n".join(rows).encode("utf-8-sig"))
    for path in (bad_json, bad_xml):
        path.unlink()


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_a_schema_change_needs_a_changelog_entry(name: str) -> None:
    """CHANGELOG.md names each schema file with the first 12 hex of its SHA-256: changing a
    schema without writing down the change (and its version) fails here."""
    digest = hashlib.sha256(SCHEMAS.joinpath(name).read_bytes()).hexdigest()[:12]
    changelog = SCHEMAS.joinpath("CHANGELOG.md").read_text("utf-8")
    entries = [line for line in changelog.splitlines() if name in line]
    assert any(digest in line for line in entries), (
        f"{name} changed (sha256 {digest}…): add a CHANGELOG.md entry naming it with that "
        "hash, and raise its version if the change is not additive (docs/outbox.md)"
    )
    version = re.search(r"\.v(\d+)\.", name)
    assert version is not None


# -- an importer's view: the schemas alone, none of the gateway's code ------------------


def _xsd_json_names(xsd: bytes) -> dict[tuple[str, str], str]:
    """(element, attribute) -> JSON field, from the XSD's `json:` appinfo annotations."""
    tree = etree.fromstring(xsd)
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    out: dict[tuple[str, str], str] = {}
    for attribute in tree.iterfind(".//xs:attribute", ns):
        info = attribute.findtext("xs:annotation/xs:appinfo", namespaces=ns) or ""
        owner = next(a.get("name") for a in attribute.iterancestors() if a.tag.endswith("}element"))
        if info.startswith("json:"):
            out[(str(owner), str(attribute.get("name")))] = info[len("json:") :]
    return out


def _csv_cases(spec: dict[str, Any], data: bytes) -> list[dict[str, str]]:
    names = [c["name"] for c in spec["columns"]]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == names
    return [dict(zip(names, r, strict=True)) for r in rows[1:]]


def test_an_importer_reads_every_format_with_the_schemas_alone() -> None:
    """JSON, CSV and XML receipts read through their schemas say the same about each case."""
    xsd = SCHEMAS.joinpath("kvittering.v1.xsd").read_bytes()
    spec = json.loads(SCHEMAS.joinpath("kvittering.v1.csv.json").read_text("utf-8"))
    schema = json.loads(SCHEMAS.joinpath("kvittering.v1.schema.json").read_text("utf-8"))
    case_fields = sorted(schema["$defs"]["case"]["required"])
    scalar = [f for f in case_fields if f != "errors"]

    from_json = [
        {f: c[f] for f in scalar} for c in json.loads(_example("kvittering.json"))["cases"]
    ]

    names = _xsd_json_names(xsd)
    root = etree.fromstring(_example("kvittering.xml"))
    assert etree.XMLSchema(etree.fromstring(xsd)).validate(root)
    from_xml = []
    for sak in root:
        read = {names[("sak", str(k))]: v for k, v in sak.attrib.items()}
        from_xml.append({f: read.get(f) for f in scalar})

    from_csv = [
        {f: (row[f] or None) for f in scalar}
        for row in _csv_cases(spec, _example("kvittering.csv"))
        if row["type"] == "case"
    ]

    assert from_json == from_xml == from_csv
    assert {c["status"] for c in from_json} == {"accepted", "rejected"}


def test_schemas_are_written_out_for_an_integrator(tmp_path: Path) -> None:
    """`utlegg-gateway schemas --out DIR` writes every schema and the changelog."""
    out = subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", "schemas", "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    written = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert written == sorted([*SCHEMA_FILES, "CHANGELOG.md"])
    for name in SCHEMA_FILES:
        assert (tmp_path / "s" / name).read_bytes() == SCHEMAS.joinpath(name).read_bytes()
