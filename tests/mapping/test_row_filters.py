"""Row filters: `$when` on a list item keeps only the rows/records/elements it holds for;
the `present` test is true for a given value and `present: false` for one not given."""

from __future__ import annotations

from collections.abc import Callable

from utlegg_gateway.mapping import CaseResult

Build = Callable[..., list[CaseResult]]

CSV = """\
source: {kind: csv}
case: {key: {col: SAK}}
template:
  krav:
    $for_each: {rows: true}
    $item:
      $when: {all: [{col: ART, not_in: [INFO]}, {col: BELOP, present: true}]}
      ref: {col: REF}
  merknad:
    $for_each: {rows: true}
    $item:
      $when: {col: BELOP, present: false}
      ref: {col: REF}
  adresse:
    - $when: {col: LAND, present: false}
      norsk: {const: true}
    - $when: {col: LAND}
      land: {col: LAND}
"""


def test_when_on_a_list_item_filters_rows(build: Build) -> None:
    """An item whose `$when` is false is left out; the others keep their order, no gaps."""
    (case,) = build(
        CSV,
        "SAK;REF;ART;BELOP;LAND\nA;1;HK;100;\nA;2;INFO;;\nA;3;HK;;\nA;4;HK;5;\n",
    )
    assert case.ok, case.errors
    assert case.begjaering == {
        "krav": [{"ref": "1"}, {"ref": "4"}],
        "merknad": [{"ref": "2"}, {"ref": "3"}],
        "adresse": [{"norsk": True}],
    }


def test_present_false_and_true_on_a_static_list(build: Build) -> None:
    """`{col: X}` alone means present; `present: false` is its opposite (empty: true)."""
    (case,) = build(CSV, "SAK;REF;ART;BELOP;LAND\nB;1;HK;1;SE\n")
    assert case.begjaering is not None
    assert case.begjaering["adresse"] == [{"land": "SE"}]


def test_when_filters_records_and_xml_elements(build: Build) -> None:
    """The same filter over record-type details and over XML elements."""
    records = """\
    source:
      kind: records
      records:
        S: {role: case, columns: [T, SAK]}
        K: {role: detail, columns: [T, REF, BELOP]}
    case: {key: {col: S.SAK}}
    template:
      krav:
        $for_each: {records: K}
        $item:
          $when: {col: K.BELOP, present: true}
          ref: {col: K.REF}
    """
    (case,) = build(records, "S;A\nK;1;10\nK;2;\nK;3;30\n", name="in.txt")
    assert case.begjaering == {"krav": [{"ref": "1"}, {"ref": "3"}]}
    xml = """\
    source: {kind: xml, record: Sak}
    case: {key: {xpath: "@nr"}}
    template:
      krav:
        $for_each: {xpath: Krav}
        $item:
          $when: {xpath: "@slettet", present: false}
          ref: {xpath: "@ref"}
    """
    (case,) = build(
        xml,
        '<B><Sak nr="1"><Krav ref="a"/><Krav ref="b" slettet="J"/><Krav ref="c"/></Sak></B>',
        name="in.xml",
    )
    assert case.begjaering == {"krav": [{"ref": "a"}, {"ref": "c"}]}
