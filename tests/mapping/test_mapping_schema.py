"""The JSON Schema of mapping files: shipped in the package, in sync with the language and
the model, referenced by every shipped mapping, and it flags the mistakes an editor can see."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import yaml
from click.testing import CliRunner

from utlegg_gateway.cli import main
from utlegg_gateway.mapping.schema import SCHEMA_FILE, mapping_schema, schema_text
from utlegg_gateway.mapping.spec import _Loader

from .conftest import REPO
from .test_mapping_check import EIGHT_MISTAKES

SHIPPED = sorted(
    [*(REPO / "mappings").glob("*.yaml"), *(REPO / "mappings" / "examples").glob("*.yaml")]
)
_REF = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _errors(text: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(mapping_schema())
    doc = yaml.load(text, Loader=_Loader)
    return sorted("/".join(map(str, e.absolute_path)) for e in validator.iter_errors(doc))


def test_the_shipped_schema_is_current() -> None:
    """The shipped mapping.schema.json equals what the code makes now (after a change to
    the language or the model, regenerate it: `python -m utlegg_gateway.mapping.schema`)."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()
    jsonschema.Draft202012Validator.check_schema(mapping_schema())


def test_every_shipped_mapping_references_the_schema_and_is_valid() -> None:
    """First line `# yaml-language-server: $schema=…` pointing at the shipped file."""
    assert len(SHIPPED) >= 5
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        m = _REF.match(text.splitlines()[0])
        assert m, path.name
        assert (path.parent / m[1]).resolve() == SCHEMA_FILE.resolve(), path.name
        assert _errors(text) == [], path.name


def test_the_schema_flags_typos_an_editor_can_see() -> None:
    """A source option, a target field and an expression key misspelt; a wrong transform."""
    assert _errors(EIGHT_MISTAKES) == [
        "source",
        "template",
        "template/begjaeringensTvangsgrunnlag",
        "template/underskrift",
    ]


def test_mapping_schema_writes_it_out(tmp_path: Path) -> None:
    """`mapping schema --out FILE` writes the shipped schema."""
    out = tmp_path / "mapping.schema.json"
    result = CliRunner().invoke(main, ["mapping", "schema", "--out", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")
