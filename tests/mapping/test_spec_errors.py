"""A mistake in a mapping file is a MappingSpecError with its line and column, not a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from utlegg_gateway.errors import MappingSpecError
from utlegg_gateway.mapping import MappingSpec, load_mapping, resolve_mapping

from .conftest import REPO, write_mapping

Load = Callable[[str], MappingSpec]

CSV_HEAD = """\
source: {kind: csv}
case: {key: {col: SAK}}
template:
"""
XML_HEAD = """\
source: {kind: xml, namespaces: {in: "urn:x"}, record: "in:Sak"}
case: {key: {xpath: "@nr"}}
template:
"""


def error_of(load: Load, text: str) -> MappingSpecError:
    with pytest.raises(MappingSpecError) as info:
        load(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "token", "words"),
    [
        # a typo in an expression key, with a suggestion
        (
            CSV_HEAD + "  a: {col: X, transfrom: date_no}\n",
            4,
            "transfrom",
            "did you mean 'transform'",
        ),
        # a typo in the source key leaves a bare value behind
        (CSV_HEAD + "  a: {colum: X}\n", 4, "X", "bare value 'X'"),
        # an unknown transform, with a suggestion
        (
            CSV_HEAD + "  a: {col: X, transform: date_nor}\n",
            4,
            "date_nor",
            "did you mean 'date_no'",
        ),
        # a transform argument of the wrong shape
        (CSV_HEAD + "  a: {col: X, transform: {map: U}}\n", 4, "U}", "transform 'map'"),
        # a directive typo
        (
            CSV_HEAD + "  a:\n    $wehn: {col: X}\n    b: {col: X}\n",
            5,
            "$wehn",
            "did you mean '$when'",
        ),
        # for_each without $item
        (CSV_HEAD + "  a: {$for_each: {rows: true}}\n", 4, "{$for_each", "needs an $item"),
        # a variable that is not bound
        (CSV_HEAD + "  a: {var: p.key}\n", 4, "p.key", "variable 'p' is not bound"),
        # xpath in a CSV mapping
        (CSV_HEAD + "  a: {xpath: '@x'}\n", 4, "'@x'", "xpath is for XML"),
        # an unknown attachment type
        (
            CSV_HEAD + "  a: {col: F, attachment: tvangsgrunlag}\n",
            4,
            "tvangsgrunlag",
            "unknown attachment type",
        ),
        # a wrong type for a flag ("yes" is text: booleans are only true/false)
        (CSV_HEAD + "  a: {col: X, required: yes}\n", 4, "yes", "expected true or false"),
        # a condition with two tests
        (
            CSV_HEAD + "  a: {const: 1, when: {col: X, equals: a, empty: true}}\n",
            4,
            "{col: X, equals",
            "one test",
        ),
        # a duplicated key
        (CSV_HEAD + "  a: {const: 1}\n  a: {const: 2}\n", 5, "a:", "duplicate key 'a'"),
        # XPath that does not compile
        (XML_HEAD + "  a: {xpath: 'in:Sak[@'}\n", 4, "'in:Sak[@'", "does not compile"),
        # an XPath function that does not exist
        (XML_HEAD + "  a: {xpath: 'nosuch(@x)'}\n", 4, "'nosuch", "does not compile"),
        # an undeclared namespace prefix
        (XML_HEAD + "  a: {xpath: 'ns:Sak/@x'}\n", 4, "'ns:", "prefix 'ns'"),
        # col in an XML mapping
        (XML_HEAD + "  a: {col: X}\n", 4, "X}", "col is for CSV"),
    ],
)
def test_template_mistakes_are_located(
    spec_from: Load, text: str, line: int, token: str, words: str
) -> None:
    """Each kind of template mistake is reported at the YAML line/column of the culprit."""
    column = text.splitlines()[line - 1].index(token) + 1
    err = error_of(spec_from, text)
    assert (err.row, err.column) == (line, str(column))
    assert words in err.message
    assert f":{line}:{column}:" in err.message


def test_unknown_source_option_is_located(spec_from: Load) -> None:
    """A typo in the source options (pydantic) points at the key in the YAML."""
    err = error_of(spec_from, "source:\n  kind: csv\n  delimter: ';'\ncase: {}\ntemplate: {}\n")
    assert (err.row, err.column) == (3, "3")
    assert "source.csv.delimter: unknown key" in err.message


def test_bad_option_value_is_located(spec_from: Load) -> None:
    """An unknown encoding is reported at its line."""
    err = error_of(spec_from, "source:\n  kind: csv\n  encodings: [utf-8, cp9999]\n"
                   "case: {key: {col: A}}\ntemplate: {}\n")  # fmt: skip
    assert err.row == 3
    assert "cp9999" in err.message


def test_yaml_syntax_error_is_located(spec_from: Load) -> None:
    """Broken YAML is reported with its line and column."""
    err = error_of(spec_from, CSV_HEAD + "  a: {col: X\n  b: {const: 1}\n")
    assert err.row is not None and err.row >= 4
    assert "not valid YAML" in err.message


def test_missing_case_key_and_empty_file(spec_from: Load) -> None:
    """A mapping without case.key, or not a mapping at all, is refused with a location."""
    err = error_of(spec_from, "source: {kind: csv}\ncase: {}\ntemplate: {a: {const: 1}}\n")
    assert err.row == 2
    err = error_of(spec_from, "- just a list\n")
    assert err.row == 1


def test_shipped_mappings_load(tmp_path: Path) -> None:
    """Both shipped mappings are valid and declare their file-name patterns."""
    csv_spec = load_mapping(REPO / "mappings" / "csv-krav.yaml")
    xml_spec = load_mapping(REPO / "mappings" / "xml-sak.yaml")
    assert (csv_spec.name, csv_spec.kind, csv_spec.patterns) == (
        "csv-krav", "csv", ("utlegg_*.csv",))  # fmt: skip
    assert (xml_spec.name, xml_spec.kind, xml_spec.patterns) == (
        "xml-sak", "xml", ("inkassonett_*.xml",))  # fmt: skip


def test_resolve_by_name_path_and_pattern(tmp_path: Path) -> None:
    """NAME finds <dir>/NAME.yaml; None picks by pattern; an unknown name is an error."""
    folder = tmp_path / "maps"
    folder.mkdir()
    write_mapping(folder, "patterns: ['a_*.csv']\n" + CSV_HEAD + "  x: {const: 1}\n", "alpha.yaml")
    write_mapping(folder, "patterns: ['b_*.csv']\n" + CSV_HEAD + "  x: {const: 2}\n", "beta.yaml")
    assert resolve_mapping("beta", tmp_path / "z.csv", [folder]).name == "beta"
    assert resolve_mapping(None, tmp_path / "b_1.csv", [folder]).name == "beta"
    assert resolve_mapping(str(folder / "alpha.yaml"), tmp_path / "z", []).name == "alpha"
    with pytest.raises(MappingSpecError, match="no mapping named 'gamma'"):
        resolve_mapping("gamma", tmp_path / "z.csv", [folder])
    with pytest.raises(MappingSpecError, match="no mapping declares"):
        resolve_mapping(None, tmp_path / "c_1.csv", [folder])
