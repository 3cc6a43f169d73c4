"""One case from `new` to an end state: attachments → upload → intent → submit → outcome.

Every step is recorded in the journal before it is taken, and this is the only module
that moves a case's journal state once it exists: submission returns decisions
(`gateway/submission`), attachment files are decided in `folders/attachments.py`.
See `pipeline.py` for the order of journal records and actions (crash-safety).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings, Settings
from utlegg_gateway.elan.client import ElanClient
from utlegg_gateway.elan.results import UploadedAttachment
from utlegg_gateway.errors import AttachmentError, AuthError, ElanError, ErrorEntry
from utlegg_gateway.folders import attachments
from utlegg_gateway.gateway.submission import (
    Accept,
    Decision,
    Fail,
    Reject,
    Routed,
    decide,
    from_error,
    is_correction,
)
from utlegg_gateway.gateway.submission.corrections import find_original
from utlegg_gateway.gateway.submission.routing import Lookups
from utlegg_gateway.health import HealthState
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import (
    CASE_END_STATES,
    CaseRecord,
    CaseState,
    FileRecord,
)
from utlegg_gateway.mapping.results import AttachmentRef

__all__ = ["CaseWorker", "fill_attachment_uuids"]

log = get_logger(__name__)

C = CaseState
P = ParamSpec("P")
R = TypeVar("R")

# --- pure helpers --------------------------------------------------------------------


def _pointer_parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def fill_attachment_uuids(payload: Mapping[str, Any], uuids: Mapping[str, str]) -> dict[str, Any]:
    """A copy of `payload` with `uuid` set on the Vedlegg object at each JSON pointer.

    `uuids` maps a JSON pointer to the uuid the upload returned.
    """
    out: Any = _deep_copy(payload)
    for pointer, value in uuids.items():
        node: Any = out
        for part in _pointer_parts(pointer):
            node = node[int(part)] if isinstance(node, list) else node[part]
        if not isinstance(node, dict):
            raise ValueError(f"{pointer} does not point at an object")
        node["uuid"] = value
    assert isinstance(out, dict)
    return out


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(v) for v in value]
    return value


class CaseWorker:
    """Runs cases; every step is recorded in the journal before it is taken."""

    def __init__(
        self,
        settings: Settings,
        journal: JournalStore,
        client: ElanClient,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        health: HealthState | None = None,
        attachment_wait_cap: float | None = None,
        sightings: attachments.Sightings | None = None,
    ) -> None:
        self.settings = settings
        # The inbox scanners' observations feed it (runner): a PDF they saw unchanged is
        # ready at once; files they do not watch are observed here, by the same rule.
        self._sightings = sightings or attachments.Sightings(clock)
        # `once` (cron) waits for missing attachments at most this long in one run; the
        # case stays `waiting_attachments` and the next run goes on waiting until the
        # inbox's deadline. None (the daemon): wait up to the deadline.
        self.attachment_wait_cap = attachment_wait_cap
        self.journal = journal
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self._health = health
        # Shared by the cases this worker runs: one Betjeningskartet call per debtor at a
        # time, however many of its cases reach the submit step together.
        self._lookups: Lookups = {}

    def end(
        self,
        case: CaseRecord,
        state: CaseState,
        *,
        errors: Sequence[ErrorEntry] | None = None,
        ekstern_saksreferanse: str | None = None,
        korrelasjonsid: str | None = None,
        duplicate_of: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> CaseRecord:
        """Move the case to an end state (and count it for /metrics)."""
        case = self.journal.set_case_state(
            case.id,
            state,
            errors=errors,
            ekstern_saksreferanse=ekstern_saksreferanse,
            korrelasjonsid=korrelasjonsid,
            duplicate_of=duplicate_of,
            detail=detail,
        )
        if self._health is not None:
            self._health.metrics.case_finished(state.value, self.settings.tenant)
        return case

    async def aend(
        self,
        case: CaseRecord,
        state: CaseState,
        *,
        errors: Sequence[ErrorEntry] | None = None,
        ekstern_saksreferanse: str | None = None,
        korrelasjonsid: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> CaseRecord:
        """`end` off the event loop: a durable commit (fsync) must not stall other cases."""
        return await asyncio.to_thread(
            self.end,
            case,
            state,
            errors=errors,
            ekstern_saksreferanse=ekstern_saksreferanse,
            korrelasjonsid=korrelasjonsid,
            detail=detail,
        )

    async def _write(self, fn: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
        """A journal write off the event loop (SQLite serialises writers; the loop goes on)."""
        return await asyncio.to_thread(fn, *args, **kw)

    async def run(
        self, record: FileRecord, inbox: InboxSettings, path: Path, case: CaseRecord
    ) -> CaseState:
        """Take one case as far as it can go in this run; the state it was left in."""
        while case.state not in CASE_END_STATES:
            if case.state is C.RETRY_WAIT and case.next_attempt_at is not None:
                delay = (case.next_attempt_at - self._clock()).total_seconds()
                if delay > 0:
                    await self._sleep(delay)
            if case.state in (C.NEW, C.WAITING_ATTACHMENTS, C.UPLOADING, C.RETRY_WAIT) and (
                case.state is not C.RETRY_WAIT or case.meldingsid is None
            ):
                ready = await self._attachments(record, inbox, path, case)
                if ready is None:
                    case = self.journal.case(case.id)
                    if case.state is C.RETRY_WAIT:
                        # A temporary upload failure: wait and go on in this run, as a
                        # submit failure does; nothing else would take the case up again.
                        continue
                    return case.state
                case, payload = ready
            else:
                payload = case.payload
            case = await self._submit(record, case, payload)
        return case.state

    # --- attachments -------------------------------------------------------------------

    async def _attachments(
        self, record: FileRecord, inbox: InboxSettings, path: Path, case: CaseRecord
    ) -> tuple[CaseRecord, dict[str, Any]] | None:
        """Find, upload and check every attachment of the case; the case as it now stands
        and its payload with the uuids.

        None when the case ended (missing or refused attachment) or must wait (retry_wait,
        or still `waiting_attachments` when this run's wait cap is over).
        """
        wanted = attachments.attachments_of(case.source)
        seen = await self._await_files(record, inbox, [path.parent, inbox.path], case, wanted)
        if seen is None:
            return None
        found, case = seen
        if case.state in (C.NEW, C.WAITING_ATTACHMENTS, C.RETRY_WAIT):
            case = await self._write(self.journal.set_case_state, case.id, C.UPLOADING)
        uuids: dict[str, str] = {}
        uploads: dict[str, tuple[AttachmentRef, UploadedAttachment]] = {}
        for att in wanted:
            upload = await self._upload(record, inbox, case, att, found[att.filnavn])
            if upload is None:
                return None
            uploads[upload.uuid] = (att, upload)
            for pointer in att.pointers:
                uuids[pointer] = upload.uuid
        payload = fill_attachment_uuids(case.payload, uuids)
        if not uploads:
            return case, payload
        original = (
            find_original(self.journal, case.innsender_referanse, case.begjaeringsdato)
            if is_correction(self.settings, record)
            else None
        )
        try:
            states = await self.client.wait_until_ready(
                [u for _, u in uploads.values()],
                payload,
                change_of=original.ekstern_saksreferanse if original is not None else None,
            )
        except (ElanError, AuthError) as exc:
            await self._apply(record, case, from_error(exc, case.place))
            return None
        bad = [(uploads[uid][0], state) for uid, state in states.items() if state != "ready"]
        if bad:
            att, state = bad[0]
            entry = ErrorEntry(
                "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT",
                f"attachment {att.filnavn} ended in state {state!r}, not 'ready'",
                value=att.filnavn,
                place=case.place,
            )
            await self.aend(case, C.FAILED, errors=[entry])
            return None
        return case, payload

    def _look(
        self,
        wanted: Sequence[AttachmentRef],
        found: dict[str, Path],
        folders: list[Path],
        inbox: InboxSettings,
    ) -> tuple[list[str], int]:
        """One look for what is not found yet: (still missing, how many of them settle).

        A PDF still being copied in is not there yet (the data files' rule: size and
        mtime unchanged for `stable_seconds`). Raises AttachmentError for a refused one.
        """
        missing: list[str] = []
        settling = 0  # present, but not yet seen unchanged for the stable window
        window = inbox.readiness.stable_seconds
        for att in wanted:
            if att.filnavn in found:
                continue
            hit = attachments.locate(
                att.filnavn, folders, hard_links=inbox.attachments_allow_hard_links
            )
            if hit is not None and self._sightings.stable(hit[0], hit[1], window):
                found[att.filnavn] = hit[0]
                continue
            missing.append(att.filnavn)
            settling += self._sightings.settling(att.filnavn, folders)
        return missing, settling

    async def _await_files(
        self,
        record: FileRecord,
        inbox: InboxSettings,
        folders: list[Path],
        case: CaseRecord,
        wanted: Sequence[AttachmentRef],
    ) -> tuple[dict[str, Path], CaseRecord] | None:
        """Wait (bounded) until every named attachment is there and stable; their paths,
        and the case as it now stands (`waiting_attachments` if it had to wait).

        None when the case ended (refused, or never arrived by the inbox's deadline) or
        this run's wait cap is over (the case stays `waiting_attachments`).
        """
        found: dict[str, Path] = {}
        deadline = record.registered_at + timedelta(seconds=inbox.attachments_wait_seconds)
        cap = self.attachment_wait_cap
        give_up_run = None if cap is None else self._clock() + timedelta(seconds=cap)
        grace: datetime | None = None
        while True:
            try:
                missing, settling = self._look(wanted, found, folders, inbox)
            except AttachmentError as exc:
                await self.aend(case, C.FAILED, errors=[ErrorEntry.from_error(exc, case.place)])
                return None
            if not missing:
                return found, case
            if case.state is C.NEW:
                case = self.journal.set_case_state(
                    case.id, C.WAITING_ATTACHMENTS, detail={"missing": missing}
                )
            remaining = (deadline - self._clock()).total_seconds()
            if remaining <= 0 and settling == len(missing):
                # All there, only not yet seen stable (a resumed case, first looked at after
                # its deadline): give them one stable window more, not a failure.
                if grace is None:
                    grace = self._clock() + timedelta(seconds=inbox.readiness.stable_seconds + 1.0)
                remaining = (grace - self._clock()).total_seconds()
            if remaining <= 0:
                names = ", ".join(sorted(set(missing)))
                entry = ErrorEntry(
                    "attachment-missing",
                    f"attachment(s) named by the case never arrived: {names}",
                    value=names,
                    place=case.place,
                )
                await self.aend(case, C.FAILED, errors=[entry])
                return None
            if give_up_run is not None:
                left_in_run = (give_up_run - self._clock()).total_seconds()
                if left_in_run <= 0:
                    log.info(
                        "case still waiting for attachments; the next run goes on",
                        extra=fields(file=record.name, case=case.key, missing=missing),
                    )
                    return None
                remaining = min(remaining, left_in_run)
            await self._sleep(min(1.0, remaining))

    async def _upload(
        self,
        record: FileRecord,
        inbox: InboxSettings,
        case: CaseRecord,
        att: AttachmentRef,
        path: Path,
    ) -> UploadedAttachment | None:
        """Upload one attachment (once per content: the journal keeps its uuid); None
        when the case ended or must wait."""
        try:
            # Hashed and sent in chunks: memory stays flat whatever the file's size.
            checked = await asyncio.to_thread(
                attachments.check,
                path,
                max_bytes=inbox.attachments_max_bytes,
                hard_links=inbox.attachments_allow_hard_links,
            )
            known = self.journal.attachment_uuid(case.id, att.filnavn, checked.sha256)
            if known is not None:
                # Uploaded in an earlier run: its state is asked for again.
                return UploadedAttachment(known)
            upload = await self.client.upload_attachment(
                attachments.Stream(checked), att.filnavn, case.innsender_referanse
            )
        except AttachmentError as exc:
            await self.aend(case, C.FAILED, errors=[ErrorEntry.from_error(exc, case.place)])
            return None
        except (ElanError, AuthError) as exc:
            await self._apply(record, case, from_error(exc, case.place))
            return None
        await self._write(
            self.journal.record_attachment, case.id, att.filnavn, checked.sha256, upload.uuid
        )
        return upload

    # --- submit ------------------------------------------------------------------------

    async def _submit(
        self, record: FileRecord, case: CaseRecord, payload: dict[str, Any]
    ) -> CaseRecord:
        meldingsid = case.meldingsid or str(uuid.uuid4())
        if case.state is not C.SUBMITTING:
            # Intent and state in one commit, before the call: a crash from here on
            # resubmits with this Meldingsid; a crash before it sent nothing.
            case = await self._write(
                self.journal.set_case_state,
                case.id,
                C.SUBMITTING,
                meldingsid=meldingsid,
                payload=payload,
                intent="submit",
            )
        started = time.monotonic()
        decision = await decide(
            self.client,
            self.journal,
            self.settings,
            record,
            case,
            meldingsid=meldingsid,
            now=self._clock(),
            lookups=self._lookups,
        )
        if self._health is not None and isinstance(decision, Accept | Reject):
            self._health.metrics.submitted(time.monotonic() - started, self.settings.tenant)
        return await self._apply(record, case, decision)

    async def _reference_from_journal(self, case: CaseRecord) -> str | None:
        """The reference of our own accepted copy of this case, if the journal has one.

        Another file's copy may be in flight right now (ELAN took it, its answer not yet
        recorded): then wait, bounded by a call's timeout, until that copy has ended.
        """
        deadline = self._clock() + timedelta(seconds=2 * self.settings.elan.timeout_seconds)
        key = (case.innsender_referanse, case.begjaeringsdato)
        while True:
            prior = self.journal.accepted_case(*key)
            if prior is not None:
                return prior.ekstern_saksreferanse
            if self.journal.sibling_in_flight(*key, other_than=case.id) is None:
                return None
            if self._clock() >= deadline:
                return None
            await self._sleep(0.05)

    async def _apply(self, record: FileRecord, case: CaseRecord, decision: Decision) -> CaseRecord:
        """Record a decision: the one place a case's outcome becomes journal state."""
        if isinstance(decision, Accept):
            ref = decision.ekstern_saksreferanse
            if ref is None and decision.already_submitted:
                # DUPLIKAT_INNSENDING as published names no reference; the best source we
                # have is our own journal (another file may hold the same case, accepted).
                ref = await self._reference_from_journal(case)
            log.info(
                "case accepted",
                extra=fields(
                    file=record.name,
                    case=case.key,
                    ekstern_saksreferanse=ref,
                    korrelasjonsid=decision.korrelasjonsid,
                    already_submitted=decision.already_submitted,
                ),
            )
            return await self.aend(
                case,
                C.ACCEPTED,
                ekstern_saksreferanse=ref,
                korrelasjonsid=decision.korrelasjonsid,
                detail={"already_submitted": decision.already_submitted},
            )
        if isinstance(decision, Reject):
            return await self.aend(
                case, C.REJECTED, errors=decision.errors, korrelasjonsid=decision.korrelasjonsid
            )
        if isinstance(decision, Routed):
            return await self.aend(case, C.REJECTED, errors=decision.errors)
        if isinstance(decision, Fail):
            return await self.aend(
                case, C.FAILED, errors=decision.errors, korrelasjonsid=decision.korrelasjonsid
            )
        if decision.not_before is not None:
            return await self._write(
                self.journal.set_case_state,
                case.id,
                C.RETRY_WAIT,
                next_attempt_at=decision.not_before,
                errors=[decision.error],
            )
        return await self._retry_or_fail(record, case, decision.error)

    async def _retry_or_fail(
        self, record: FileRecord, case: CaseRecord, error: ErrorEntry
    ) -> CaseRecord:
        """After a temporary failure: wait and try again, or end `failed` when out of tries."""
        current = self.journal.case(case.id)
        # `attempts` counts submits only; a case failing before its submit (uploads, an
        # attachment never ready) counts its earlier waits, or it would retry for ever.
        earlier = sum(
            1 for t in self.journal.transitions("case", current.id) if t.to_state == "retry_wait"
        )
        if max(current.attempts, earlier + 1) <= self.settings.runner.case_retries:
            next_at = self._clock() + timedelta(
                seconds=self.settings.runner.case_retry_delay_seconds
            )
            log.warning(
                "case failed temporarily; will retry",
                extra=fields(file=record.name, case=current.key, error=error.to_json()),
            )
            return await self._write(
                self.journal.set_case_state,
                current.id,
                C.RETRY_WAIT,
                next_attempt_at=next_at,
                errors=[error],
            )
        return await self.aend(current, C.FAILED, errors=[error])
