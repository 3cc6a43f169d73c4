"""Every outbox file checked against the published schemas (jsonschema, lxml XMLSchema,
the CSV column specs). Used by the autouse fixture in conftest.py and by the schema tests.

It reads the schema files only; it uses none of the gateway's code to read the outbox.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from lxml import etree

SCHEMAS = resources.files("utlegg_gateway.schemas")
KVITTERING_NS = "{urn:utlegg-gateway:kvittering:1}kvittering"

JSON_KINDS = {  # a JSON document's `format` or `type` -> its schema
    "utlegg-gateway/kvittering": "kvittering.v1.schema.json",
    "utlegg-gateway/feilrapport": "feilrapport.v1.schema.json",
    "statusendring": "statusendring.v1.schema.json",
    "melding": "melding.v1.schema.json",
    "ikke-sendt-til-elan": "ikke-sendt-til-elan.v1.schema.json",
}
XML_KINDS = {
    KVITTERING_NS: "kvittering.v1.xsd",
    "statusendring": "statusendring.v1.xsd",
    "melding": "melding.v1.xsd",
}
CSV_SPECS = ("kvittering.v1.csv.json", "statusendring.v1.csv.json", "melding.v1.csv.json")
# Not data: the letter PDFs, the plain-text error report for a person.
FREE_FORM = (".pdf", ".feil.txt")


@cache
def json_validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMAS.joinpath(name).read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@cache
def xml_schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(SCHEMAS.joinpath(name).read_bytes()))


@cache
def csv_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SCHEMAS.joinpath(name).read_text("utf-8"))
    return spec


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def check_csv(data: bytes) -> list[str]:
    """Problems of a CSV outbox file against the column spec its header names."""
    text = _decode(data)
    first = text.split("\r\n", 1)[0]
    for name in CSV_SPECS:
        spec = csv_spec(name)
        columns = [c["name"] for c in spec["columns"]]
        for delimiter in ";,\t|":
            if first.split(delimiter) == columns:
                return _check_rows(text, delimiter, spec)
    return [f"header matches no CSV spec: {first[:120]!r}"]


def _value_ok(column: dict[str, Any], value: str) -> bool:
    if value.startswith("'") and value[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        value = value[1:]  # formula neutralisation, as the spec says
    kind = column["type"]
    if kind == "enum":
        return value in column["values"]
    if kind == "integer":
        return value.isdigit()
    if kind == "date-time":
        try:
            return datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    return True


def _check_rows(text: str, delimiter: str, spec: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if not text.endswith("\r\n"):
        problems.append("does not end with CRLF")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    columns = spec["columns"]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(columns):
            problems.append(f"row {number}: {len(row)} fields, spec has {len(columns)}")
            continue
        values = dict(zip((c["name"] for c in columns), row, strict=True))
        for column, value in zip(columns, row, strict=True):
            needed = column["required"] or (
                "requiredWhen" in column and values.get("type") == "error"
            )
            if value == "":
                if needed:
                    problems.append(f"row {number}: {column['name']} is empty")
            elif not _value_ok(column, value):
                problems.append(f"row {number}: {column['name']}={value!r} is not {column['type']}")
    return problems


def check_file(path: Path) -> list[str]:
    """Problems of one outbox file against its schema; an unknown kind is a problem too."""
    if path.name.endswith(FREE_FORM):
        return []
    data = path.read_bytes()
    if path.suffix == ".json":
        doc = json.loads(data)
        kind = doc.get("format") or doc.get("type") if isinstance(doc, dict) else None
        schema = JSON_KINDS.get(str(kind))
        if schema is None:
            return [f"JSON of no published kind ({kind!r})"]
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in json_validator(schema).iter_errors(doc)
        ]
    if path.suffix == ".xml":
        root = etree.fromstring(data)
        xsd = XML_KINDS.get(str(root.tag))
        if xsd is None:
            return [f"XML of no published kind (root {root.tag!r})"]
        checker = xml_schema(xsd)
        return [] if checker.validate(root) else [str(checker.error_log)]
    if path.suffix == ".csv":
        return check_csv(data)
    return [f"a file of no published kind ({path.suffix or 'no suffix'})"]


def outbox_files(root: Path) -> list[Path]:
    """Every file under a folder named `outbox` below `root` (temp names of a crash left out)."""
    return sorted(
        p
        for p in root.rglob("*")
        if "outbox" in p.relative_to(root).parts[:-1] and p.is_file() and not p.name.startswith(".")
    )


def check_tree(root: Path) -> dict[str, list[str]]:
    """{file: problems} for every outbox file under `root` that breaks its schema."""
    out: dict[str, list[str]] = {}
    for path in outbox_files(root):
        problems = check_file(path)
        if problems:
            out[str(path.relative_to(root))] = problems
    return out
