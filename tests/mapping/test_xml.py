"""XML sources: nested records, ancestors and batch elements, locations, hardening, streaming."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from utlegg_gateway.errors import SourceError, UnsafeSourceError
from utlegg_gateway.mapping import CaseResult, load_mapping
from utlegg_gateway.mapping.sources import iter_xml_records

from .conftest import SAMPLES, write_mapping

Build = Callable[..., list[CaseResult]]

HEAD = """
source: {kind: xml, namespaces: {b: "urn:b"}, record: "b:Sak", max_bytes: 100000}
case: {key: {xpath: "@nr"}}
"""

DOC = """<?xml version="1.0" encoding="UTF-8"?>
<b:Batch xmlns:b="urn:b">
  <b:Avsender orgnr="312597772"><b:Navn>Byrå AS</b:Navn></b:Avsender>
  <b:Sak nr="S1">
    <b:Krav ref="K1" belop="100.50">
      <b:Krav ref="K1-R" belop="1.00"/>
      <b:Krav ref="K1-S" belop="2.00"><b:Krav ref="K1-S-X" belop="3.00"/></b:Krav>
    </b:Krav>
    <b:Krav ref="K2" belop="7"/>
  </b:Sak>
  <b:Sak nr="S2">
    <b:Krav ref="K3" belop="1.234"/>
  </b:Sak>
</b:Batch>
"""


def test_nested_records_ancestors_and_batch_level(build: Build) -> None:
    """Depth-first claims, the parent's ref as related claim, and the batch sender for each case."""
    mapping = (
        HEAD
        + """
template:
  sender: {xpath: "/b:Batch/b:Avsender/b:Navn"}
  orgnr: {xpath: "ancestor::b:Batch/b:Avsender/@orgnr"}
  refs: {$for_each: {xpath: ".//b:Krav/@ref"}, $item: {var: item}}
  krav:
    $for_each: {xpath: ".//b:Krav"}
    $item:
      ref: {xpath: "@ref"}
      relatert: [{xpath: "parent::b:Krav/@ref"}]
"""
    )
    first, second = build(mapping, DOC, "in.xml")
    assert first.ok
    assert first.begjaering == {
        "sender": "Byrå AS",
        "orgnr": "312597772",
        "refs": ["K1", "K1-R", "K1-S", "K1-S-X", "K2"],
        "krav": [
            {"ref": "K1"},
            {"ref": "K1-R", "relatert": ["K1"]},
            {"ref": "K1-S", "relatert": ["K1"]},
            {"ref": "K1-S-X", "relatert": ["K1-S"]},
            {"ref": "K2"},
        ],
    }
    assert second.begjaering is not None and second.begjaering["sender"] == "Byrå AS"
    assert (first.source.element, first.source.line) == ("/Batch/Sak[1]", 4)
    assert second.source.element == "/Batch/Sak[2]"


def test_error_names_element_path_line_and_attribute(build: Build) -> None:
    """Three decimals in the 2nd Sak names its element path, line, attribute and value."""
    mapping = (
        HEAD
        + """
template:
  krav:
    $for_each: {xpath: ".//b:Krav"}
    $item: {beloep: {xpath: "@belop", transform: decimal}}
"""
    )
    first, second = build(mapping, DOC, "in.xml")
    assert first.ok
    assert (second.key, second.ok) == ("S2", False)
    (issue,) = second.errors
    assert issue.code == "too-many-decimals"
    assert issue.location == "/krav/0/beloep"
    assert issue.column == "@belop"
    assert issue.value == "1.234"
    assert issue.source is not None
    assert (issue.source.element, issue.source.line) == ("/Batch/Sak[2]/Krav[1]", 12)


def test_element_present_even_without_text(build: Build) -> None:
    """An empty element (`<Renter/>`) satisfies a presence condition; a missing one does not."""
    mapping = HEAD + "template:\n  r: {$when: {xpath: 'b:Renter'}, x: {const: 1}}\n"
    doc = '<b:B xmlns:b="urn:b"><b:Sak nr="1"><b:Renter/></b:Sak><b:Sak nr="2"/></b:B>'
    one, two = build(mapping, doc, "in.xml")
    assert one.begjaering == {"r": {"x": 1}}
    assert two.begjaering is None or two.begjaering == {}
    assert two.ok


def test_records_are_dropped_as_the_stream_goes(tmp_path: Path) -> None:
    """Once the next record is read, the previous one is cleared and detached from the tree."""
    spec = load_mapping(write_mapping(tmp_path, HEAD + "template: {a: {const: 1}}\n"))
    path = tmp_path / "in.xml"
    path.write_text(DOC, encoding="utf-8")
    records = iter_xml_records(path, spec)
    first = next(records)
    root = first.element.getroottree().getroot()
    assert len(first.element) == 2  # the two top-level Krav, still there while it is built
    second = next(records)
    assert len(first.element) == 0  # cleared
    assert first.element.getparent() is None  # and removed
    assert [child.tag for child in root] == ["{urn:b}Avsender", "{urn:b}Sak"]
    assert second.element.get("nr") == "S2"


def test_a_record_in_a_foreign_namespace_is_a_case_that_was_not_read(build: Build) -> None:
    """A <Sak> in another namespace between two good ones is a refused case naming its element,
    line and both namespaces; a same-named element nested inside a record is not a record."""
    doc = """<b:B xmlns:b="urn:b" xmlns:o="urn:other">
<b:Sak nr="1"><o:Sak ref="nested, part of case 1"/></b:Sak>
<o:Sak nr="2"/>
<b:Sak nr="3"/>
</b:B>"""
    one, foreign, three = build(HEAD + "template: {nr: {xpath: '@nr'}}\n", doc, "in.xml")
    assert (one.key, one.ok, one.begjaering) == ("1", True, {"nr": "1"})
    assert (three.key, three.ok) == ("3", True)
    assert (foreign.key, foreign.ok) == ("/B/Sak[2]", False)
    (issue,) = foreign.errors
    assert issue.code == "foreign-record"
    assert "<Sak> element at line 3 is in namespace 'urn:other'" in issue.message
    assert "'urn:b'" in issue.message
    assert issue.source is not None
    assert (issue.source.element, issue.source.line) == ("/B/Sak[2]", 3)


def test_a_file_with_only_foreign_records_is_a_file_error(build: Build) -> None:
    """Nothing readable: the wrong kind of export, one error naming the count and namespace."""
    doc = '<o:B xmlns:o="urn:v4">\n<o:Sak nr="1"/>\n<o:Sak nr="2"/>\n</o:B>'
    with pytest.raises(SourceError) as raised:
        build(HEAD + "template: {nr: {xpath: '@nr'}}\n", doc, "in.xml")
    assert "its 2 <Sak> element(s) are in namespace 'urn:v4'" in str(raised.value)
    assert "reads 'urn:b'" in str(raised.value)
    assert raised.value.row == 2


@pytest.fixture
def http_hits() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 (random port) recording every request path."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<x>leaked</x>")

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _xml_spec(tmp_path: Path) -> Path:
    return write_mapping(tmp_path, HEAD + "template:\n  n: {xpath: 'b:Navn'}\n")


def test_external_entities_are_refused_and_nothing_is_fetched(
    tmp_path: Path, http_hits: tuple[str, list[str]]
) -> None:
    """XXE to a local file and to a URL: refused as unsafe, no request made, no file content."""
    url, hits = http_hits
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    spec = load_mapping(_xml_spec(tmp_path))
    for target in (secret.as_uri(), f"{url}/dtd"):
        path = tmp_path / "xxe.xml"
        path.write_text(
            f'<?xml version="1.0"?>\n<!DOCTYPE b:Batch [<!ENTITY e SYSTEM "{target}">]>\n'
            f'<b:Batch xmlns:b="urn:b"><b:Sak nr="1"><b:Navn>&e;</b:Navn></b:Sak></b:Batch>\n',
            encoding="utf-8",
        )
        with pytest.raises(UnsafeSourceError) as info:
            list(iter_xml_records(path, spec))
        assert "DOCTYPE" in info.value.message
        assert info.value.row == 2
    path = tmp_path / "ext-dtd.xml"
    path.write_text(f'<!DOCTYPE b:Batch SYSTEM "{url}/ext.dtd">\n<b:Batch xmlns:b="urn:b"/>\n')
    with pytest.raises(UnsafeSourceError):
        list(iter_xml_records(path, spec))
    assert hits == []


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    """The billion-laughs DTD is refused before any expansion."""
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    path = tmp_path / "lol.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE b:Batch [' + "".join(lol) + "]>\n"
        '<b:Batch xmlns:b="urn:b"><b:Sak nr="1"><b:Navn>&lol9;</b:Navn></b:Sak></b:Batch>\n'
    )
    with pytest.raises(UnsafeSourceError):
        list(iter_xml_records(path, load_mapping(_xml_spec(tmp_path))))


def test_doctype_in_utf16_is_refused(tmp_path: Path) -> None:
    """A DOCTYPE hidden in a UTF-16 file is seen too."""
    path = tmp_path / "u16.xml"
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE b:Batch [<!ENTITY e "x">]>\n'
    path.write_bytes((text + '<b:Batch xmlns:b="urn:b"/>\n').encode("utf-16"))
    with pytest.raises(UnsafeSourceError):
        list(iter_xml_records(path, load_mapping(_xml_spec(tmp_path))))


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    """A mismatched tag is a SourceError with its line."""
    path = tmp_path / "bad.xml"
    path.write_text('<b:Batch xmlns:b="urn:b">\n<b:Sak nr="1">\n</b:Sakk>\n</b:Batch>\n')
    with pytest.raises(SourceError) as info:
        list(iter_xml_records(path, load_mapping(_xml_spec(tmp_path))))
    assert not isinstance(info.value, UnsafeSourceError)
    assert info.value.row == 3
    assert "malformed XML" in info.value.message


def test_undeclared_entity_is_an_error(tmp_path: Path) -> None:
    """An entity reference without a declaration is malformed, not silently dropped."""
    path = tmp_path / "ent.xml"
    path.write_text('<b:Batch xmlns:b="urn:b"><b:Sak nr="1">&e;</b:Sak></b:Batch>\n')
    with pytest.raises(SourceError):
        list(iter_xml_records(path, load_mapping(_xml_spec(tmp_path))))


def test_oversize_file_is_refused_unread(tmp_path: Path) -> None:
    """A file over source.max_bytes is refused as unsafe."""
    path = tmp_path / "big.xml"
    path.write_text('<b:Batch xmlns:b="urn:b">' + " " * 100_001 + "</b:Batch>")
    with pytest.raises(UnsafeSourceError, match="over the limit"):
        list(iter_xml_records(path, load_mapping(_xml_spec(tmp_path))))


_LOL = "".join(
    ['<!ENTITY a0 "lol">'] + [f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)]
)


@pytest.mark.parametrize(
    "doctype",
    ['<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', f"<!DOCTYPE x [{_LOL}]>"],
    ids=["xxe", "billion-laughs"],
)
def test_cli_on_unsafe_xml_is_exit_2(tmp_path: Path, doctype: str) -> None:
    """`map` on an XML file with an external entity or billion laughs: file refused, exit 2."""
    from click.testing import CliRunner

    from utlegg_gateway.cli import main

    path = tmp_path / "inkassonett_20990101.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n{doctype}\n'
        '<in:Utleggsbatch xmlns:in="urn:no:inkassonett:eksport:3"><in:Sak saksnr="1">&e;&a9;'
        "</in:Sak></in:Utleggsbatch>\n"
    )
    result = CliRunner().invoke(main, ["map", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "[source-unsafe]" in result.stderr
    assert "root:" not in result.stderr


def test_cli_malformed_after_good_cases(tmp_path: Path) -> None:
    """Streaming: cases before a syntax error are written, then the file fails with exit 2."""
    from click.testing import CliRunner

    from utlegg_gateway.cli import main

    good = (SAMPLES / "xml-sak" / "inkassonett_20251001.xml").read_text(encoding="iso-8859-1")
    broken = good.replace("</in:Utleggsbatch>", '<in:Sak saksnr="X"></in:Sakk>\n</in:Utleggsbatch>')
    path = tmp_path / "inkassonett_20251001.xml"
    path.write_text(broken, encoding="iso-8859-1")
    result = CliRunner().invoke(main, ["map", str(path)])
    assert result.exit_code == 2
    assert [json.loads(line)["case"] for line in result.stdout.splitlines()] == [
        "IB-2025-000127", "IB-2025-000311"]  # fmt: skip
    assert "malformed XML" in result.stderr
    assert "row=88" in result.stderr  # the broken Sak replaces the last line (88)
