"""XML exports: a hardened, streaming parser. The one place lxml errors are translated.

Refused on purpose (`UnsafeSourceError`): any DOCTYPE (so no DTD, no entity declarations,
no external entities, no billion laughs), and files over the size limit. The parser
itself resolves no entities, loads no DTD, touches no network and keeps libxml2's size
limits (`huge_tree=False`). Records are streamed with a pull parser; each record element is
dropped once its case is built, so memory stays flat however long the file. Elements
before the first record (the batch header, e.g. `Innsender`) stay in the tree, where an
absolute XPath from any record finds them.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from utlegg_gateway.errors import SourceError, UnsafeSourceError
from utlegg_gateway.mapping.spec import MappingSpec, XmlSource

__all__ = ["XmlRecord", "iter_xml_records"]

_PROLOG_BYTES = 64 * 1024
_CHUNK_BYTES = 64 * 1024
# libxml2's own limit for one text or attribute value without huge_tree (XML_MAX_TEXT_LENGTH).
_MAX_VALUE_BYTES = 10_000_000
_DOCTYPE = re.compile(r"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_ROOT_START = re.compile(r"<[A-Za-z_]")


@dataclass(slots=True)
class XmlRecord:
    """One record element (a case), its element path and its line.

    `foreign` is set (to the element's namespace, "" for none) for an element with the
    record's name in another namespace: it looks like a case the mapping cannot read.
    """

    element: Any
    path: str
    line: int
    foreign: str | None = None


def _prolog_text(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", errors="replace")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", errors="replace")
    # Any ASCII-compatible encoding shows markup as ASCII; latin-1 never fails to decode.
    return head.decode("latin-1")


def _refuse_doctype(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(_PROLOG_BYTES)
    text = _prolog_text(head)
    root = _ROOT_START.search(text)
    prolog = text[: root.start()] if root else text
    m = _DOCTYPE.search(prolog)
    if m:
        line = prolog.count("\n", 0, m.start()) + 1
        raise UnsafeSourceError(
            "the XML file declares a DOCTYPE; DTDs and entities are refused",
            file=str(path),
            row=line,
            hint="exports must not carry a DOCTYPE; ask the exporting system to leave it out",
        )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def _ancestor_path(element: Any) -> str:
    parts = []
    node = element.getparent()
    while node is not None:
        parts.append(_local(node.tag))
        node = node.getparent()
    return "".join(f"/{p}" for p in reversed(parts))


class _TooLong(Exception):
    """A tag or text value longer than libxml2 accepts, starting near byte `offset`."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


def _pull_events(parser: Any, fh: BinaryIO) -> Iterator[tuple[str, Any]]:
    """Feed the file in chunks and hand out every event parsed before a syntax error.

    `iterparse` gives no guarantee here: with libxml2 2.14 it raised on a small file before
    yielding any of the records in front of the error, so good cases were lost with the bad.
    """
    since_gt = 0  # bytes since the last '>': the tag or text libxml2 is still buffering
    while chunk := fh.read(_CHUNK_BYTES):
        last = chunk.rfind(b">")
        since_gt = since_gt + len(chunk) if last < 0 else len(chunk) - last - 1
        if since_gt > _MAX_VALUE_BYTES:
            # libxml2 refuses a value this long anyway (no huge_tree), but only once the
            # whole start tag is in its buffer: a 200 MB attribute cost ~0.5 GB first.
            yield from parser.read_events()
            raise _TooLong(fh.tell() - since_gt)
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError:
            yield from parser.read_events()
            raise
        yield from parser.read_events()
    # At the end of input libxml2 closes the elements still open and reports their ends
    # before raising: those records are cut short, so an error here hands out nothing more.
    parser.close()
    yield from parser.read_events()


def iter_xml_records(path: Path, spec: MappingSpec) -> Iterator[XmlRecord]:
    """Stream the record elements of an XML export; each is cleared when the caller resumes."""
    source = spec.source
    assert isinstance(source, XmlSource)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    if size > source.max_bytes:
        raise UnsafeSourceError(
            f"the file has {size} bytes, over the limit of {source.max_bytes}", file=str(path)
        )
    _refuse_doctype(path)
    counters: dict[str, int] = {}
    checked = False
    record_tag = spec.record_tag
    local = _local(record_tag)
    parser = etree.XMLPullParser(
        events=("end",),
        # The record's name in ANY namespace: a record in a foreign namespace is reported
        # as a case that cannot be read, never dropped without a word.
        tag=f"{{*}}{local}",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        with path.open("rb") as fh:
            for _event, element in _pull_events(parser, fh):
                if not checked:
                    docinfo = element.getroottree().docinfo
                    if docinfo.doctype or docinfo.internalDTD is not None:
                        raise UnsafeSourceError(
                            "the XML file declares a DOCTYPE; DTDs and entities are refused",
                            file=str(path),
                        )
                    checked = True
                foreign = None
                if element.tag != record_tag:
                    if any(a.tag == record_tag for a in element.iterancestors()):
                        continue  # a field of a record that happens to share its name
                    foreign = _namespace(element.tag)
                parent_path = _ancestor_path(element)
                counters[parent_path] = index = counters.get(parent_path, 0) + 1
                record_path = f"{parent_path}/{local}[{index}]"
                # Earlier records were cleared when their cases were built: detach them.
                parent = element.getparent()
                if parent is not None:
                    previous = element.getprevious()
                    while previous is not None and _local(previous.tag) == local:
                        parent.remove(previous)
                        previous = element.getprevious()
                yield XmlRecord(element, record_path, element.sourceline or 0, foreign)
                element.clear(keep_tail=False)
    except _TooLong as exc:
        raise UnsafeSourceError(
            f"an XML tag or text value from about byte {exc.offset} is longer than "
            f"{_MAX_VALUE_BYTES} bytes; refused before it was read",
            file=str(path),
        ) from None
    except etree.XMLSyntaxError as exc:
        raise SourceError(
            f"malformed XML: {exc.msg}", file=str(path), row=exc.lineno or None
        ) from exc
    except etree.LxmlError as exc:
        raise SourceError(f"cannot parse the XML: {exc}", file=str(path)) from exc
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
