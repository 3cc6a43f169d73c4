"""Status på sak: poll each accepted case until it reaches a final status.

Per tick, every accepted case whose next poll is due (the interval grows with the case's
age, `followup.status_schedule`) is asked for its status through the shared `ElanClient`
(so its ≤ 5 calls in flight are shared with submissions). A new `saksstatus` becomes
`status/<innsenderReferanse>.<saksstatus>.json` in the outbox (+ `.csv`/`.xml` when the
case's inbox asks for those receipt formats), *then* the journal records it. The file is
built only from the response and journal data, never from the clock, so a crash between
the write and the record re-writes the same bytes under the same name and nothing is
written twice. A case that re-enters a status it had before (e.g. back to
`sakUnderBehandling`) gets `<innsenderReferanse>.<saksstatus>.<n>.json`, n = 2, 3, ….

State in the journal (key/value cursors): `followup.status.<case id>` = JSON
`{"saksstatus": last, "history": [...], "final": bool}`. The time of the last poll is
kept in memory only: after a restart every open case is polled once, then the schedule
applies again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings, Settings, StatusPollStep
from utlegg_gateway.errors import (
    ElanError,
    ElanPermanentError,
    ElanTemporaryError,
    JournalError,
)
from utlegg_gateway.folders.outbox import safe_name, write_atomic
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import CaseRecord, CaseState

__all__ = [
    "StatusChange",
    "StatusPoller",
    "StatusSource",
    "decisions",
    "interval_for_age",
    "safe_name",
    "status_document",
    "status_file_stem",
]

log = get_logger(__name__)


def interval_for_age(age_seconds: float, schedule: Sequence[StatusPollStep]) -> float:
    """Seconds between polls for a case of this age (the last step applies beyond the list)."""
    for step in schedule:
        if step.until_seconds is None or age_seconds < step.until_seconds:
            return step.every_seconds
    return schedule[-1].every_seconds if schedule else 3600.0


def decisions(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decisions in a StatusPåSak, flattened: one entry per measure (trekk, pant …)."""
    out: list[dict[str, Any]] = []
    for info in status.get("beslutningsinformasjon") or []:
        if not isinstance(info, Mapping):
            continue
        when = info.get("beslutningstidspunkt")
        for key, value in info.items():
            if not key.startswith("besluttet"):
                continue
            kind = key[len("besluttet") :]
            kind = kind[:1].lower() + kind[1:]
            for measure in value if isinstance(value, list) else [value]:
                if not isinstance(measure, Mapping):
                    continue
                ids = measure.get("kravgrunnlagsidentifikator") or []
                out.append(
                    {
                        "beslutning": kind,
                        "beslutningstidspunkt": when,
                        "tiltaksidentifikator": measure.get("tiltaksidentifikator"),
                        "kravgrunnlagsidentifikator": list(ids) if isinstance(ids, list) else [ids],
                    }
                )
    return out


def status_file_stem(innsender_referanse: str, saksstatus: str, occurrence: int) -> str:
    """`<ref>.<status>` the first time, `<ref>.<status>.<n>` when the case re-enters it."""
    stem = f"{safe_name(innsender_referanse)}.{safe_name(saksstatus)}"
    return stem if occurrence <= 1 else f"{stem}.{occurrence}"


def status_document(
    case: CaseRecord, status: Mapping[str, Any], *, previous: str | None, final: bool
) -> dict[str, Any]:
    """The outbox document for one status change: response + journal data only."""
    krav = [
        {
            "kravgrunnlagsidentifikator": k.get("kravgrunnlagsidentifikator"),
            "innsendersKravreferanse": k.get("innsendersKravreferanse"),
            "kravbeskrivelse": k.get("kravbeskrivelse"),
            "gjenstaaendeBeloep": k.get("gjenstaaendeBeloep"),
            "prioritetDekningsloven": k.get("prioritetDekningsloven"),
        }
        for k in status.get("kravISak") or []
        if isinstance(k, Mapping)
    ]
    return {
        "type": "statusendring",
        "innsenderReferanse": case.innsender_referanse,
        "begjaeringsdato": case.begjaeringsdato,
        "eksternSaksreferanse": case.ekstern_saksreferanse,
        "saksnummer": status.get("saksnummer"),
        "saksstatus": status.get("saksstatus"),
        "forrigeSaksstatus": previous,
        "endelig": final,
        "meldingsdato": status.get("meldingsdato"),
        "krav": krav,
        "beslutninger": decisions(status),
        "statusPaaSak": dict(status),
    }


def _csv(doc: Mapping[str, Any], settings: InboxSettings) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=settings.receipt_csv_delimiter, lineterminator="\r\n")
    writer.writerow(
        [
            "innsenderReferanse",
            "begjaeringsdato",
            "eksternSaksreferanse",
            "saksnummer",
            "saksstatus",
            "meldingsdato",
            "kravgrunnlagsidentifikator",
            "innsendersKravreferanse",
            "kravbeskrivelse",
            "beslutning",
            "tiltaksidentifikator",
        ]
    )
    head = [doc[k] or "" for k in ("innsenderReferanse", "begjaeringsdato", "eksternSaksreferanse")]
    head += [doc[k] or "" for k in ("saksnummer", "saksstatus", "meldingsdato")]
    by_krav: dict[str, list[dict[str, Any]]] = {}
    for d in doc["beslutninger"]:
        for ident in d["kravgrunnlagsidentifikator"]:
            by_krav.setdefault(str(ident), []).append(d)
    rows = 0
    for k in doc["krav"]:
        ident = str(k["kravgrunnlagsidentifikator"] or "")
        base = [ident, k["innsendersKravreferanse"] or "", k["kravbeskrivelse"] or ""]
        matches: list[dict[str, Any] | None] = [*by_krav.get(ident, [])] or [None]
        for d in matches:
            extra = [d["beslutning"], d["tiltaksidentifikator"] or ""] if d else ["", ""]
            writer.writerow(head + base + extra)
            rows += 1
    if rows == 0:
        writer.writerow([*head, "", "", "", "", ""])
    return out.getvalue().encode(settings.receipt_csv_encoding)


def _xml(doc: Mapping[str, Any]) -> bytes:
    root = etree.Element("statusendring")
    for key in ("innsenderReferanse", "begjaeringsdato", "eksternSaksreferanse", "saksnummer"):
        etree.SubElement(root, key).text = str(doc[key] or "")
    for key in ("saksstatus", "forrigeSaksstatus", "meldingsdato"):
        etree.SubElement(root, key).text = str(doc[key] or "")
    etree.SubElement(root, "endelig").text = "true" if doc["endelig"] else "false"
    krav = etree.SubElement(root, "krav")
    for k in doc["krav"]:
        item = etree.SubElement(krav, "kravISak")
        for key in ("kravgrunnlagsidentifikator", "innsendersKravreferanse", "kravbeskrivelse"):
            etree.SubElement(item, key).text = str(k[key] or "")
    besl = etree.SubElement(root, "beslutninger")
    for d in doc["beslutninger"]:
        item = etree.SubElement(besl, "beslutning", type=str(d["beslutning"]))
        etree.SubElement(item, "beslutningstidspunkt").text = str(d["beslutningstidspunkt"] or "")
        etree.SubElement(item, "tiltaksidentifikator").text = str(d["tiltaksidentifikator"] or "")
        for ident in d["kravgrunnlagsidentifikator"]:
            etree.SubElement(item, "kravgrunnlagsidentifikator").text = str(ident)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


class StatusSource(Protocol):
    """What the poller needs from `ElanClient`."""

    async def status(self, ekstern_saksreferanse: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StatusChange:
    """One status change written to the outbox."""

    case_id: int
    innsender_referanse: str
    saksstatus: str
    previous: str | None
    files: tuple[Path, ...]


def _state_key(case_id: int) -> str:
    return f"followup.status.{case_id}"


class StatusPoller:
    """Polls Status på sak for open cases; writes one outbox file set per change."""

    def __init__(
        self,
        settings: Settings,
        journal: JournalStore,
        elan: StatusSource,
        *,
        clock: Callable[[], datetime],
        after_write: Callable[[Path], None] | None = None,
    ) -> None:
        self._settings = settings
        self._journal = journal
        self._elan = elan
        self._clock = clock
        # Called after the files are written and before the journal records them
        # (tests use it to kill the process exactly there).
        self._after_write = after_write
        self._last_polled: dict[int, datetime] = {}
        # The cases whose status could not be had in the last `poll_once` (reference:
        # why), so a one-shot round (`followup`, `once --followup`) can exit 1.
        self.last_failures: dict[str, str] = {}
        self._inboxes = {i.name: i for i in settings.inboxes}
        self.folder = settings.folders.outbox / settings.followup.status_folder

    def last_status(self, case_id: int) -> dict[str, Any] | None:
        """The recorded follow-up state of a case, or None before its first status."""
        raw = self._journal.get_cursor(_state_key(case_id))
        return None if raw is None else dict(json.loads(raw))

    def due_cases(self) -> list[CaseRecord]:
        """Accepted cases, not final, whose next poll time has come."""
        now = self._clock()
        schedule = self._settings.followup.status_schedule
        out = []
        seen: set[str] = set()
        # Without payloads: a status file is made from the answer and the case row, and
        # decoding 10,000 begjæringer took 2.5-3 s of the loop before the first call.
        for case in self._journal.cases_in_states(CaseState.ACCEPTED, payloads=False):
            if not case.ekstern_saksreferanse:
                continue  # accepted as duplicate without a known reference: nothing to ask
            if case.ekstern_saksreferanse in seen:
                continue  # an accepted correction of an earlier case: the original reports
            seen.add(case.ekstern_saksreferanse)
            state = self.last_status(case.id)
            if state and state.get("final"):
                continue
            since = case.finished_at or case.submitted_at or case.updated_at
            age = max(0.0, (now - since).total_seconds())
            last = self._last_polled.get(case.id)
            if last is None or (now - last).total_seconds() >= interval_for_age(age, schedule):
                out.append(case)
        return out

    async def poll_once(self) -> list[StatusChange]:
        """Poll every due case (concurrency bounded by the ELAN client); the changes.

        A failing case does not stop the others; after all have finished, the first
        error that is not about one case (token, outbox, journal) is raised.
        """
        cases = self.due_cases()
        self.last_failures = {}
        results = await asyncio.gather(*(self._poll_case(c) for c in cases), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, StatusChange)]

    async def _poll_case(self, case: CaseRecord) -> StatusChange | None:
        assert case.ekstern_saksreferanse is not None
        self._last_polled[case.id] = self._clock()
        try:
            status = await self._elan.status(case.ekstern_saksreferanse)
        except ElanTemporaryError as exc:
            del self._last_polled[case.id]  # not answered: ask again next tick
            log.warning("status poll failed, next tick retries", extra=fields(**exc.details()))
            self.last_failures[case.innsender_referanse] = str(exc)
            return None
        except ElanPermanentError as exc:
            log.error("status poll refused", extra=fields(case=case.key, **exc.details()))
            self.last_failures[case.innsender_referanse] = str(exc)
            return None
        except ElanError as exc:
            log.error("status poll failed", extra=fields(case=case.key, **exc.details()))
            self.last_failures[case.innsender_referanse] = str(exc)
            return None
        # Off the event loop, as the pipeline's journal writes are: the files' and the
        # cursor's fsyncs held the loop, so the other slots' next calls waited on them.
        return await asyncio.to_thread(self.record, case, status)

    def record(self, case: CaseRecord, status: Mapping[str, Any]) -> StatusChange | None:
        """Write the outbox files for a changed status, then record it (idempotent)."""
        saksstatus = status.get("saksstatus")
        if not isinstance(saksstatus, str) or not saksstatus:
            log.warning("status answer without saksstatus", extra=fields(case=case.key))
            return None
        state = self.last_status(case.id) or {"saksstatus": None, "history": []}
        previous = state.get("saksstatus")
        if saksstatus == previous:
            return None
        history: list[str] = list(state.get("history") or [])
        final = saksstatus in self._settings.followup.final_statuses
        stem = status_file_stem(case.innsender_referanse, saksstatus, history.count(saksstatus) + 1)
        doc = status_document(case, status, previous=previous, final=final)
        files = [self.folder / f"{stem}.json"]
        payloads = [_json_bytes(doc)]
        inbox = self._inbox_of(case)
        if inbox is not None and "csv" in inbox.receipt_formats:
            files.append(self.folder / f"{stem}.csv")
            payloads.append(_csv(doc, inbox))
        if inbox is not None and "xml" in inbox.receipt_formats:
            files.append(self.folder / f"{stem}.xml")
            payloads.append(_xml(doc))
        self.folder.mkdir(parents=True, exist_ok=True)
        # The JSON last: a reader that waits for it sees the CSV/XML complete too.
        for path, data in reversed(list(zip(files, payloads, strict=True))):
            write_atomic(path, data)
        if self._after_write is not None:
            self._after_write(files[0])
        record = {"saksstatus": saksstatus, "history": [*history, saksstatus], "final": final}
        self._journal.set_cursor(_state_key(case.id), json.dumps(record, ensure_ascii=False))
        log.info(
            "case status changed",
            extra=fields(case=case.key, saksstatus=saksstatus, previous=previous, file=stem),
        )
        return StatusChange(case.id, case.innsender_referanse, saksstatus, previous, tuple(files))

    def _inbox_of(self, case: CaseRecord) -> InboxSettings | None:
        try:
            return self._inboxes.get(self._journal.file(case.file_id).inbox)
        except JournalError:  # a missing file row must not stop status reporting
            return None
