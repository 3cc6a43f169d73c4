"""One key, one case of a file: a repeated key is a refused case of its own, not a lost one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from utlegg_gateway.mapping import CaseResult, build_file, load_mapping
from utlegg_gateway.mapping.sources import _csv

from .conftest import write_mapping

XML_MAPPING = """
    source: {kind: xml, record: Sak}
    case: {key: {xpath: "@nr"}}
    template:
      navn: {xpath: "@navn"}
    """

CSV_MAPPING = """
    source: {kind: csv, delimiter: ";"}
    case: {key: {col: SAK}}
    template:
      navn: {col: NAVN}
    """


def _codes(result: CaseResult) -> list[str]:
    return [e.code for e in result.errors]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_key_used_again_in_an_xml_file_refuses_the_later_case_under_a_name_of_its_own(
    tmp_path: Path, workers: int
) -> None:
    spec = load_mapping(write_mapping(tmp_path, XML_MAPPING))
    export = tmp_path / "in.xml"
    export.write_text(
        "<Batch>\n"
        '  <Sak nr="A" navn="first"/>\n'
        '  <Sak nr="B" navn="other"/>\n'
        '  <Sak nr="A" navn="second"/>\n'
        "</Batch>\n",
        encoding="utf-8",
    )
    results = list(build_file(export, spec, workers=workers))

    assert [r.key for r in results] == ["A", "B", "A (again, /Batch/Sak[3] (line 4))"]
    first, other, again = results
    assert first.ok and first.begjaering == {"navn": "first"}
    assert other.ok
    assert not again.ok and again.begjaering is None
    assert _codes(again) == ["duplicate-case-key"]
    message = again.errors[0].message
    assert "'A'" in message and "(line 2)" in message
    assert again.source.element == "/Batch/Sak[3]"


@pytest.mark.parametrize("spill_rows", [None, 2])
def test_a_csv_key_spelt_like_a_keyless_row_s_name_keeps_its_rows_apart(
    build: Callable[..., list[CaseResult]],
    monkeypatch: pytest.MonkeyPatch,
    spill_rows: int | None,
) -> None:
    """Line 3 has no key; the real key `line 3` is on lines 2 and 4. Before, the keyless
    row took the name over and line 4 joined it: two cases named `line 3`, rows mixed."""
    if spill_rows is not None:
        monkeypatch.setattr(_csv, "SPILL_ROWS", spill_rows)
    source = "SAK;NAVN\nline 3;a\n;no key\nline 3;a\nS9;c\n"
    results = build(CSV_MAPPING, source)

    by_key = {r.key: r for r in results}
    assert list(by_key) == ["line 3", "line 3 (no key)", "S9"]
    assert by_key["line 3"].source.rows == (2, 4)
    assert by_key["line 3"].ok and by_key["line 3"].begjaering == {"navn": "a"}
    assert by_key["line 3 (no key)"].source.rows == (3,)
    assert _codes(by_key["line 3 (no key)"]) == ["missing-case-key"]
    assert by_key["S9"].ok
