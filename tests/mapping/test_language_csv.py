"""Constructs of the mapping language over CSV: grouping, lists, conditions, values, errors."""

from __future__ import annotations

from collections.abc import Callable

from utlegg_gateway.mapping import CaseResult

Build = Callable[..., list[CaseResult]]

HEAD = """
source: {kind: csv, delimiter: ";"}
case: {key: {col: SAK}}
"""


def test_rows_group_by_key_even_when_not_adjacent(build: Build) -> None:
    """Rows of one key form one case in order of first appearance, wherever they are."""
    cases = build(
        HEAD + "template:\n  ref: {col: SAK}\n  n: {$for_each: {rows: true}, $item: {col: NR}}\n",
        "SAK;NR\nA;1\nB;2\nA;3\n",
    )
    assert [(c.key, c.begjaering) for c in cases] == [
        ("A", {"ref": "A", "n": ["1", "3"]}),
        ("B", {"ref": "B", "n": ["2"]}),
    ]
    assert cases[0].source.rows == (2, 4)


def test_sub_groups_by_key_within_a_case(build: Build) -> None:
    """group_by forms sub-groups (grunnlag) inside a case, each with its own rows."""
    mapping = (
        HEAD
        + """
template:
  g:
    $for_each: {group_by: GRL}
    $item:
      nr: {col: GRL}
      krav: {$for_each: {rows: true}, $item: {col: KRAV}}
"""
    )
    (case,) = build(mapping, "SAK;GRL;KRAV\nA;g1;k1\nA;g2;k2\nA;g1;k3\n")
    assert case.begjaering == {
        "g": [{"nr": "g1", "krav": ["k1", "k3"]}, {"nr": "g2", "krav": ["k2"]}]
    }


def test_const_default_and_empty_cells_left_out(build: Build) -> None:
    """Constants are written, defaults fill empty cells, other empty cells are left out."""
    mapping = (
        HEAD
        + """
template:
  valuta: {const: NOK}
  land: {const: NO}
  flag: {const: true}
  tekst: {col: T, default: ukjent}
  tom: {col: T}
  obj: {a: {col: T}}
"""
    )
    (case,) = build(mapping, "SAK;T\nA;\n")
    assert case.begjaering == {"valuta": "NOK", "land": "NO", "flag": True, "tekst": "ukjent"}


def test_when_conditions_choose_model_alternatives(build: Build) -> None:
    """$when on objects picks særlig vs alminnelig; when+default reads as if/else."""
    mapping = (
        HEAD
        + """
template:
  saerlig: {$when: {col: ART, equals: FAKTURA}, art: {col: ART}}
  alminnelig: {$when: {col: ART, in: [DOM, FORLIK]}, art: {col: ART}}
  type: {const: forretningsadresse, when: {col: TYPE, equals: O}, default: bopelsadresse}
  ikke: {const: x, when: {not: {col: ART, not_in: [DOM]}}}
  alle: {const: y, when: {all: [{col: ART}, {col: TYPE, empty: true}]}}
  noen: {const: z, when: {any: [{col: ART, equals: FAKTURA}, {col: TYPE, present: true}]}}
"""
    )
    one, two = build(mapping, "SAK;ART;TYPE\nA;FAKTURA;O\nB;DOM;\n")
    assert one.begjaering == {
        "saerlig": {"art": "FAKTURA"},
        "type": "forretningsadresse",
        "noen": "z",
    }
    assert two.begjaering == {
        "alminnelig": {"art": "DOM"},
        "type": "bopelsadresse",
        "ikke": "x",
        "alle": "y",
    }


def test_static_list_items_can_be_conditional(build: Build) -> None:
    """A co-debtor item appears only when its column is filled."""
    mapping = (
        HEAD
        + """
template:
  skyldner:
    - id: {col: ID1}
    - $when: {col: ID2}
      id: {col: ID2}
"""
    )
    one, two = build(mapping, "SAK;ID1;ID2\nA;1;\nB;1;2\n")
    assert one.begjaering == {"skyldner": [{"id": "1"}]}
    assert two.begjaering == {"skyldner": [{"id": "1"}, {"id": "2"}]}


def test_split_pairs_series_with_bound_variable(build: Build) -> None:
    """`dd.mm.yyyy=amount|…` becomes a list, each pair bound to $as and transformed."""
    mapping = (
        HEAD
        + """
template:
  innbetaling:
    $for_each: {col: INN, transform: split_pairs}
    $as: p
    $item:
      bokfoertDato: {var: p.key, transform: date_no}
      beloep: {var: p.value, transform: decimal_no}
"""
    )
    (case,) = build(mapping, "SAK;INN\nA;01.04.2023=15 000,00|01.09.2023=8 749,50\n")
    assert case.begjaering == {
        "innbetaling": [
            {"bokfoertDato": "2023-04-01", "beloep": 15000},
            {"bokfoertDato": "2023-09-01", "beloep": 8749.5},
        ]
    }


def test_omit_if_empty_false_keeps_empty_containers(build: Build) -> None:
    """$omit_if_empty: false writes an empty object / list instead of leaving it out."""
    mapping = (
        HEAD
        + """
template:
  obj: {$omit_if_empty: false, a: {col: T}}
  liste: {$for_each: {rows: true}, $omit_if_empty: false, $item: {col: T}}
"""
    )
    (case,) = build(mapping, "SAK;T\nA;\n")
    assert case.begjaering == {"obj": {}, "liste": []}


def test_attachments_by_file_name_with_pointers(build: Build) -> None:
    """attachment: TYPE writes {type, filnavn} and lists every pointer that needs its uuid."""
    mapping = (
        HEAD
        + """
template:
  krav:
    $for_each: {rows: true}
    $item:
      dok: {col: FIL, attachment: betalingsoppfordring}
"""
    )
    (case,) = build(mapping, "SAK;FIL\nA;b.pdf\nA;b.pdf\nA;\n")
    assert case.begjaering == {
        "krav": [
            {"dok": {"type": "betalingsoppfordring", "filnavn": "b.pdf"}},
            {"dok": {"type": "betalingsoppfordring", "filnavn": "b.pdf"}},
        ]
    }
    (ref,) = case.attachments
    assert (ref.filnavn, ref.type, ref.pointers) == (
        "b.pdf",
        "betalingsoppfordring",
        ("/krav/0/dok", "/krav/1/dok"),
    )


def test_every_text_of_the_payload_is_nfc_and_the_key_and_file_name_stay_as_written(
    build: Build,
) -> None:
    """Texts are NFC wherever they are made (a column, a concat, a constant object, an
    attachment's filnavn); the case key and the file name looked up on disk are not."""
    decomposed = "A\u030as"  # `Ås` typed as A + combining ring
    mapping = (
        HEAD
        + """
template:
  navn: {col: NAVN}
  ref: {concat: [{col: SAK}, "-", {col: NAVN}]}
  fast: {const: {tekst: "A\u030a"}}
  dok: {col: FIL, attachment: tvangsgrunnlag}
"""
    )
    (case,) = build(mapping, f"SAK;NAVN;FIL\n{decomposed};{decomposed};{decomposed}.pdf\n")
    assert case.key == decomposed
    assert case.begjaering == {
        "navn": "\u00c5s",
        "ref": "\u00c5s-\u00c5s",
        "fast": {"tekst": "\u00c5"},
        "dok": {"type": "tvangsgrunnlag", "filnavn": "\u00c5s.pdf"},
    }
    (ref,) = case.attachments
    assert ref.filnavn == f"{decomposed}.pdf"


def test_attachment_name_with_a_path_is_refused(build: Build) -> None:
    """A file name with a folder part (path trick) is an error on its row, not a file read."""
    mapping = HEAD + "template:\n  dok: {col: FIL, attachment: tvangsgrunnlag}\n"
    (case,) = build(mapping, "SAK;FIL\nA;../../etc/passwd\n")
    assert not case.ok
    (issue,) = case.errors
    assert (issue.code, issue.location, issue.column) == ("invalid-attachment-name", "/dok", "FIL")


def test_errors_name_row_column_field_rule_and_value(build: Build) -> None:
    """A bad date on line 3 names the case, line, column, target pointer, rule and value."""
    mapping = (
        HEAD
        + """
template:
  krav:
    $for_each: {rows: true}
    $item:
      forfall: {col: FORFALL, transform: date_no}
      beloep: {col: BELOP, transform: decimal_no}
      art: {col: ART, transform: {map: {HK: Hovedkrav}}}
"""
    )
    (case,) = build(mapping, "SAK;FORFALL;BELOP;ART\nA;01.01.2025;1,00;HK\nA;31.02.2025;1,005;XX\n")
    assert case.key == "A"
    assert not case.ok
    assert case.begjaering is None
    got = {(i.code, i.location, i.source.rows if i.source else None, i.column, i.value)
           for i in case.errors}  # fmt: skip
    assert got == {
        ("invalid-date", "/krav/1/forfall", (3,), "FORFALL", "31.02.2025"),
        ("too-many-decimals", "/krav/1/beloep", (3,), "BELOP", "1,005"),
        ("unknown-code", "/krav/1/art", (3,), "ART", "XX"),
    }
    assert {i.field for i in case.errors} == {"forfall", "beloep", "art"}
    # Only the amount has a server rule (a malformed date is an HTTP 400 there).
    assert {i.code: i.rule for i in case.errors} == {
        "invalid-date": None,
        "too-many-decimals": "UGYLDIG_BELOEP",
        "unknown-code": None,
    }
    assert next(i for i in case.errors if i.rule).to_json()["rule"] == "UGYLDIG_BELOEP"


def test_required_value_missing(build: Build) -> None:
    """required: true on an empty cell is missing-value with its column and row."""
    mapping = HEAD + "template:\n  underskrift: {col: U, required: true}\n"
    (case,) = build(mapping, "SAK;U\nA;\n")
    (issue,) = case.errors
    assert (issue.code, issue.location, issue.column) == ("missing-value", "/underskrift", "U")
    assert issue.source is not None and issue.source.rows == (2,)


def test_identifiers_are_masked_in_issues(build: Build) -> None:
    """A bad fødselsnummer is shown masked, in the value and in the message."""
    mapping = (
        HEAD
        + """
template:
  identifikator:
    taxIdentificationNumber: {col: FNR, transform: digits}
"""
    )
    (case,) = build(mapping, "SAK;FNR\nA;4492670175X\n")
    (issue,) = case.errors
    assert issue.value is not None and "4492670175" not in issue.value
    assert "4492670175" not in issue.message


def test_a_bad_case_does_not_stop_the_others(build: Build) -> None:
    """Cases before and after a broken one are built."""
    mapping = HEAD + "template:\n  d: {col: D, transform: date_no}\n"
    cases = build(mapping, "SAK;D\nA;01.01.2025\nB;nope\nC;02.01.2025\n")
    assert [(c.key, c.ok) for c in cases] == [("A", True), ("B", False), ("C", True)]


def test_short_row_and_missing_key_fail_only_their_case(build: Build) -> None:
    """A row with too few fields and a row without a key are reported on their own lines."""
    mapping = HEAD + "template:\n  d: {col: D}\n"
    cases = build(mapping, "SAK;D;E\nA;1;2\nB;1\n;3;4\n")
    assert [(c.key, c.ok) for c in cases] == [("A", True), ("B", False), ("line 4", False)]
    assert cases[1].errors[0].code == "row-malformed"
    assert cases[1].errors[0].source is not None and cases[1].errors[0].source.rows == (3,)
    assert cases[2].errors[0].code == "missing-case-key"


def test_rows_that_disagree_on_a_case_column_fail_the_case(build: Build) -> None:
    """A case-level column that differs between the case's rows is an error naming both lines."""
    mapping = (
        HEAD
        + """
template:
  dato: {col: DATO}
  krav: {$for_each: {rows: true}, $item: {col: NR}}
"""
    )
    bad, good = build(mapping, "SAK;DATO;NR\nA;01.01.2025;1\nB;02.01.2025;2\nA;03.01.2025;3\n")
    assert (bad.key, bad.ok, good.ok) == ("A", False, True)
    (issue,) = bad.errors
    assert (issue.code, issue.location, issue.column, issue.value) == (
        "inconsistent-rows", "/dato", "DATO", "03.01.2025")  # fmt: skip
    assert issue.source is not None and issue.source.rows == (4,)
    assert "line 2" in issue.message and "line 4" in issue.message
