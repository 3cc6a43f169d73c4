"""Letters from Dialogporten: rettebrev, nektebrev, varsel, vedtak → `meldinger/` in the outbox.

One poll cycle (research/dialogporten-notes.md §5.3):

1. `t_start` = now; the lower bound is `cursor - overlap` (the cursor is the start time of
   the last *completed* cycle), or `now - sweep_window` when the daily wide sweep is due,
   or nothing on the very first run (backfill everything visible).
2. Search `updatedAfter=<lower>&orderBy=updatedAt_asc`, following `continuationToken`.
   A dialog whose `updatedAt` equals the one recorded is skipped (overlap duplicate).
3. Each other dialog is synced: its transmissions (`GET …/transmissions`, which does not
   mark it seen) — or, with `letters_as: dialogs`, the dialog itself — and every letter
   whose id is not yet recorded is written: attachments first, then the JSON description,
   then the id is recorded in the journal. Novelty is decided by ids, never timestamps.
4. Only when every page succeeded does the cursor move to `t_start`.

A crash after writing a letter and before recording it makes the next cycle write the
same files again: names come from ids and the case link, content from the response and
the journal, so the re-write is the same bytes under the same names (atomic writes make
it harmless). A dialog is linked to our case when its `case_reference_field` holds (per
`case_reference_pattern`) the `eksternSaksreferanse` of a case in the journal.

Journal keys (cursors): `dialogporten.cursor.<party>.<resource>`, `….sweep.…` (last wide
sweep), `dialogporten.dialog.<id>` (updatedAt synced), `dialogporten.letter.<id>` (file).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import DialogportenSettings, InboxSettings, Settings
from utlegg_gateway.elan.dialogporten import DialogPage, iso_utc
from utlegg_gateway.errors import ConfigError, JournalError
from utlegg_gateway.folders.outbox import safe_name, write_atomic
from utlegg_gateway.folders.outbox.formats import neutralise, xml_safe
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import CaseRecord, CaseState

__all__ = [
    "KNOWN_KINDS",
    "LetterFiles",
    "LettersPoller",
    "LettersSource",
    "case_reference",
    "letter_csv",
    "letter_kind",
    "letter_rules",
    "letter_xml",
    "localized",
    "pick_url",
]

log = get_logger(__name__)

KNOWN_KINDS = ("rettebrev", "nektebrev", "varsel", "vedtak")
_NOT_DOWNLOADABLE = ("urn:dialogporten:unauthorized", "urn:dialogporten:expired")


class LettersSource(Protocol):
    """What the poller needs from `DialogportenClient`."""

    def search(
        self,
        *,
        service_resource: str,
        party: str,
        updated_after: datetime | None,
        limit: int = 100,
        order_by: str = "updatedAt_asc",
    ) -> Any: ...  # AsyncIterator[DialogPage]

    async def transmissions(self, dialog_id: str) -> list[dict[str, Any]]: ...

    async def dialog(self, dialog_id: str) -> dict[str, Any]: ...

    async def download(self, url: str) -> bytes: ...


@dataclass(frozen=True)
class LetterFiles:
    """One letter written to the outbox."""

    letter_id: str
    dialog_id: str
    kind: str
    innsender_referanse: str | None
    json_file: Path
    attachments: tuple[Path, ...]
    # The CSV and XML copies the case's inbox asked for (receipt_formats).
    copies: tuple[Path, ...] = ()


def localized(value: Any, prefer: Sequence[str] = ("nb", "nn", "en")) -> str | None:
    """The text of a ContentValue/Localization list in the preferred language."""
    if isinstance(value, Mapping):
        value = value.get("value")
    if not isinstance(value, list):
        return value if isinstance(value, str) else None
    texts = {
        str(x.get("languageCode")): str(x.get("value"))
        for x in value
        if isinstance(x, Mapping) and x.get("value") is not None
    }
    for code in prefer:
        if code in texts:
            return texts[code]
    return next(iter(texts.values()), None)


def letter_kind(item: Mapping[str, Any]) -> str:
    """rettebrev/nektebrev/varsel/vedtak from the last segment of `extendedType` (a
    transmission) or `extendedStatus` (a dialog that is one letter); else `melding`."""
    for key in ("extendedType", "extendedStatus"):
        extended = str(item.get(key) or "")
        last = re.split(r"[:/#]", extended)[-1].lower() if extended else ""
        if last in KNOWN_KINDS:
            return last
    return "melding"


def case_reference(
    settings: DialogportenSettings, dialog: Mapping[str, Any], letter: Mapping[str, Any]
) -> str | None:
    """The authority's case reference in the configured field, cut out by the pattern."""
    field = settings.case_reference_field
    raw = (
        letter.get("externalReference")
        if field == "transmission.externalReference"
        else dialog.get(field)
    )
    if not isinstance(raw, str) or not raw:
        return None
    match = re.search(settings.case_reference_pattern, raw)
    if match is None:
        return None
    ref = match.groupdict().get("ref") or match.group(0)
    return ref or None


def pick_url(attachment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The URL to download: usable, API consumer first, PDF first (notes §2.4)."""
    urls = [
        u
        for u in attachment.get("urls") or []
        if isinstance(u, Mapping) and u.get("url") and u.get("url") not in _NOT_DOWNLOADABLE
    ]

    def rank(u: Mapping[str, Any]) -> tuple[int, int]:
        return (u.get("consumerType") != "Api", u.get("mediaType") != "application/pdf")

    return dict(sorted(urls, key=rank)[0]) if urls else None


# An ELAN rule code as letters name them: MANGLER_OPPLYSNINGER_OM_SAKSOEKT.
_RULE_CODE = re.compile(r"\b[A-ZÆØÅ][A-ZÆØÅ0-9]*(?:_[A-ZÆØÅ0-9]+)+\b")

# `meldinger/REF.KIND.ID.csv` (schemas/melding.v1.csv.json): one row per rule to correct.
LETTER_CSV_COLUMNS = (
    "art",
    "meldingId",
    "innsenderReferanse",
    "begjaeringsdato",
    "eksternSaksreferanse",
    "saksreferanse",
    "opprettet",
    "tittel",
    "regel",
    "fil",
)


def letter_rules(*texts: str | None) -> list[str]:
    """The rule codes a letter names (its summary, then its title), in order, once each."""
    seen: dict[str, None] = {}
    for text in texts:
        for code in _RULE_CODE.findall(text or ""):
            seen.setdefault(code, None)
    return list(seen)


def letter_csv(doc: Mapping[str, Any], settings: InboxSettings) -> bytes:
    """The letter for a legacy reader of CSV: one row per rule (one row when none)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=settings.receipt_csv_delimiter, lineterminator="\r\n")
    writer.writerow(LETTER_CSV_COLUMNS)
    files = [str(v["fil"]) for v in doc["vedlegg"] if v.get("fil")]
    for rule in doc["regler"] or [""]:
        row = {**doc, "regel": rule, "fil": files[0] if files else None}
        cells = [xml_safe(str(row.get(c) or "")) for c in LETTER_CSV_COLUMNS]
        if settings.receipt_csv_neutralise_formulas:
            cells = [neutralise(c) for c in cells]
        writer.writerow(cells)
    return out.getvalue().encode(settings.receipt_csv_encoding, errors="replace")


def letter_xml(doc: Mapping[str, Any]) -> bytes:
    """The letter for a legacy reader of XML (schemas/melding.v1.xsd); empty means null."""
    root = etree.Element("melding")
    for key in LETTER_CSV_COLUMNS[:8]:
        etree.SubElement(root, key).text = xml_safe(str(doc.get(key) or ""))
    etree.SubElement(root, "sammendrag").text = xml_safe(str(doc.get("sammendrag") or ""))
    rules = etree.SubElement(root, "regler")
    for rule in doc["regler"]:
        etree.SubElement(rules, "regel").text = rule
    attachments = etree.SubElement(root, "vedlegg")
    for v in doc["vedlegg"]:
        item = etree.SubElement(attachments, "fil")
        item.text = xml_safe(str(v.get("fil") or ""))
        for attr, key in (("navn", "navn"), ("mediaType", "mediaType"), ("sha256", "sha256")):
            if v.get(key):
                item.set(attr, xml_safe(str(v[key])))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


class LettersPoller:
    """Polls Dialogporten for letters and writes each one to the outbox once."""

    def __init__(
        self,
        settings: Settings,
        journal: JournalStore,
        source: LettersSource,
        *,
        clock: Callable[[], datetime],
        after_write: Callable[[Path], None] | None = None,
    ) -> None:
        self._settings = settings
        self._dp = settings.dialogporten
        self._journal = journal
        self._source = source
        self._clock = clock
        # Called after a letter's files are written, before the journal records it.
        self._after_write = after_write
        self.folder = settings.folders.outbox / settings.followup.letters_folder
        self.party = self._dp.party or self._default_party(settings)
        scope = f"{safe_name(self.party)}.{safe_name(self._dp.service_resource)}"
        self._cursor_key = f"dialogporten.cursor.{scope}"
        self._sweep_key = f"dialogporten.sweep.{scope}"
        self._cases: dict[str, CaseRecord] | None = None
        self._inboxes = {i.name: i for i in settings.inboxes}

    @staticmethod
    def _default_party(settings: Settings) -> str:
        sb = settings.maskinporten.systembruker
        org = (sb.org if sb else None) or settings.organisation
        if not org:
            raise ConfigError(
                "dialogporten needs a party: set dialogporten.party or organisation",
                field="dialogporten.party",
            )
        return f"urn:altinn:organization:identifier-no:{org}"

    def lower_bound(self, now: datetime) -> tuple[datetime | None, bool]:
        """(updatedAfter for this cycle, whether it is a wide sweep)."""
        cursor = self._journal.get_cursor(self._cursor_key)
        if cursor is None:
            return None, True  # first run: everything visible
        last_sweep = self._journal.get_cursor(self._sweep_key)
        sweep_due = last_sweep is None or (now - _parse(last_sweep)).total_seconds() >= (
            self._dp.sweep_interval_seconds
        )
        if sweep_due:
            return now - timedelta(days=self._dp.sweep_window_days), True
        return _parse(cursor) - timedelta(seconds=self._dp.overlap_seconds), False

    async def poll_once(self) -> list[LetterFiles]:
        """One cycle; raises (cursor unchanged) when a page or a dialog cannot be read."""
        t_start = self._clock()
        lower, sweep = self.lower_bound(t_start)
        self._cases = None
        written: list[LetterFiles] = []
        pages = self._source.search(
            service_resource=self._dp.service_resource,
            party=self.party,
            updated_after=lower,
            limit=self._dp.page_limit,
        )
        # A few dialogs at a time: each costs two or three round trips.
        slots = asyncio.Semaphore(self._dp.max_concurrency)

        async def sync(item: Mapping[str, Any]) -> list[LetterFiles]:
            async with slots:
                return await self.sync_dialog(item)

        page: DialogPage
        async for page in pages:
            results = await asyncio.gather(
                *(sync(item) for item in page.items), return_exceptions=True
            )
            # Every dialog of the page finished (written + recorded) before any failure
            # ends the cycle: nothing is left half-done in the background.
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                written += result
        self._journal.set_cursor(self._cursor_key, iso_utc(t_start))
        if sweep:
            self._journal.set_cursor(self._sweep_key, iso_utc(t_start))
        return written

    async def sync_dialog(self, item: Mapping[str, Any]) -> list[LetterFiles]:
        """Write the dialog's letters not yet recorded; skip it if unchanged since last sync."""
        dialog_id = str(item.get("id") or "")
        if not dialog_id:
            return []
        updated = str(item.get("updatedAt") or "")
        key = f"dialogporten.dialog.{dialog_id}"
        if updated and self._journal.get_cursor(key) == updated:
            return []
        written: list[LetterFiles] = []
        if self._dp.letters_as == "dialogs":
            if self._journal.get_cursor(f"dialogporten.letter.{dialog_id}") is None:
                detail = await self._source.dialog(dialog_id)
                written.append(await self._write_letter(detail, detail, letter_id=dialog_id))
        else:
            transmissions = await self._source.transmissions(dialog_id)
            transmissions.sort(key=lambda t: (str(t.get("createdAt") or ""), str(t.get("id"))))
            for tx in transmissions:
                tx_id = str(tx.get("id") or "")
                if not tx_id or tx.get("deletedAt"):
                    continue
                if self._journal.get_cursor(f"dialogporten.letter.{tx_id}") is not None:
                    continue
                written.append(await self._write_letter(item, tx, letter_id=tx_id))
        if updated:
            await asyncio.to_thread(self._journal.set_cursor, key, updated)
        return written

    def _case_for(self, reference: str | None) -> CaseRecord | None:
        if reference is None:
            return None
        if self._cases is None:
            self._cases = {
                c.ekstern_saksreferanse: c
                for c in self._journal.cases_in_states(CaseState.ACCEPTED, payloads=False)
                if c.ekstern_saksreferanse
            }
        return self._cases.get(reference)

    def _formats_for(self, case: CaseRecord | None) -> tuple[InboxSettings | None, set[str]]:
        """The inbox whose `receipt_formats` a letter follows: its case's; a letter for no
        known case follows every inbox, so no legacy reader misses it."""
        inbox: InboxSettings | None = None
        if case is not None:
            try:
                inbox = self._inboxes.get(self._journal.file(case.file_id).inbox)
            except JournalError:  # a missing file row must not stop the letter
                inbox = None
        chosen = [inbox] if inbox is not None else list(self._inboxes.values())
        formats: set[str] = {str(f) for i in chosen for f in i.receipt_formats}
        csv_settings = next((i for i in chosen if "csv" in i.receipt_formats), None)
        return csv_settings, formats

    async def _write_letter(
        self, dialog: Mapping[str, Any], letter: Mapping[str, Any], *, letter_id: str
    ) -> LetterFiles:
        kind = letter_kind(letter)
        reference = case_reference(self._dp, dialog, letter)
        case = self._case_for(reference)
        owner = safe_name(case.innsender_referanse) if case else "ukjent-sak"
        stem = f"{owner}.{kind}.{safe_name(letter_id)}"
        content = letter.get("content") if isinstance(letter.get("content"), Mapping) else {}
        assert isinstance(content, Mapping)
        # Download everything before writing anything: a failed download leaves no trace.
        blobs: list[tuple[dict[str, Any], bytes | None]] = []
        for n, attachment in enumerate(letter.get("attachments") or [], start=1):
            if not isinstance(attachment, Mapping):
                continue
            url = pick_url(attachment)
            name = str(attachment.get("name") or localized(attachment.get("displayName")) or "")
            described: dict[str, Any] = {
                "id": attachment.get("id"),
                "navn": name or None,
                "mediaType": url.get("mediaType") if url else None,
            }
            if url is None:
                described["fil"] = None
                described["merknad"] = "ingen nedlastbar URL (ikke autorisert eller utløpt)"
                blobs.append((described, None))
                continue
            data = await self._source.download(str(url["url"]))
            suffix = Path(name).suffix if Path(name).suffix else ".pdf"
            described["fil"] = f"{stem}.{n}-{safe_name(Path(name).stem or 'vedlegg')}{suffix}"
            described["sha256"] = hashlib.sha256(data).hexdigest()
            described["bytes"] = len(data)
            blobs.append((described, data))
        doc = {
            "type": "melding",
            "art": kind,
            "dialogId": dialog.get("id"),
            "meldingId": letter_id,
            "transmissionType": letter.get("type"),
            "extendedType": letter.get("extendedType"),
            "tittel": localized(content.get("title")),
            "sammendrag": localized(content.get("summary")),
            "opprettet": letter.get("createdAt"),
            "saksreferanse": reference,
            "eksternSaksreferanse": case.ekstern_saksreferanse if case else None,
            "innsenderReferanse": case.innsender_referanse if case else None,
            "begjaeringsdato": case.begjaeringsdato if case else None,
            "dialog": {
                "serviceResource": dialog.get("serviceResource"),
                "party": dialog.get("party"),
                "externalReference": dialog.get("externalReference"),
                "process": dialog.get("process"),
                "status": dialog.get("status"),
            },
            "vedlegg": [d for d, _ in blobs],
            "regler": letter_rules(
                localized(content.get("summary")), localized(content.get("title"))
            ),
        }
        # Off the event loop, as the status poller's writes are: each file's fsyncs and the
        # cursor's commit would hold every other call of the daemon meanwhile.
        return await asyncio.to_thread(
            self._store, dialog, case, doc, blobs, stem=stem, kind=kind, letter_id=letter_id
        )

    def _store(
        self,
        dialog: Mapping[str, Any],
        case: CaseRecord | None,
        doc: dict[str, Any],
        blobs: list[tuple[dict[str, Any], bytes | None]],
        *,
        stem: str,
        kind: str,
        letter_id: str,
    ) -> LetterFiles:
        """Write one letter's files (attachments, CSV/XML, the JSON last), then record it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for described, blob in blobs:
            if blob is not None:
                path = self.folder / str(described["fil"])
                write_atomic(path, blob)
                paths.append(path)
        # CSV and XML as the case's inbox asks for them, then the JSON last: a reader that
        # waits for the JSON sees the others complete too.
        csv_settings, formats = self._formats_for(case)
        copies: list[Path] = []
        if "csv" in formats and csv_settings is not None:
            copies.append(self.folder / f"{stem}.csv")
            write_atomic(copies[-1], letter_csv(doc, csv_settings))
        if "xml" in formats:
            copies.append(self.folder / f"{stem}.xml")
            write_atomic(copies[-1], letter_xml(doc))
        json_file = self.folder / f"{stem}.json"
        write_atomic(json_file, _json_bytes(doc))
        if self._after_write is not None:
            self._after_write(json_file)
        self._journal.set_cursor(f"dialogporten.letter.{letter_id}", json_file.name)
        log.info(
            "letter written",
            extra=fields(kind=kind, letter=letter_id, case=doc["innsenderReferanse"]),
        )
        return LetterFiles(
            letter_id=letter_id,
            dialog_id=str(dialog.get("id")),
            kind=kind,
            innsender_referanse=case.innsender_referanse if case else None,
            json_file=json_file,
            attachments=tuple(paths),
            copies=tuple(copies),
        )
