"""One case from `new` to an end state: attachments → upload → intent → submit → outcome.

Also the pure parts the pipeline relies on: attachment-name safety, filling upload uuids
at JSON pointers, error entries for the journal, and receipts built from journal data.
See `pipeline.py` for the order of journal records and actions (crash-safety).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings, Settings
from utlegg_gateway.errors import AuthError, ElanError, ElanTemporaryError, GatewayError
from utlegg_gateway.health import HealthState
from utlegg_gateway.journal.sqlite import (
    CASE_END_STATES,
    CaseRecord,
    CaseState,
    FileRecord,
    Journal,
)

__all__ = [
    "AttachmentProblem",
    "CaseWorker",
    "error_entry",
    "fill_attachment_uuids",
    "issue_entry",
    "safe_attachment_path",
    "source_entry",
]

log = get_logger(__name__)

C = CaseState
P = ParamSpec("P")
R = TypeVar("R")

# --- pure helpers --------------------------------------------------------------------


class AttachmentProblem(Exception):
    """An attachment name that must not be read (path tricks, symlinks)."""


def safe_attachment_path(folder: Path, filnavn: str) -> Path:
    """The attachment `filnavn` inside `folder`, refusing anything that could leave it.

    Refused: empty names, separators, `..`, absolute paths, NUL bytes, symlinks, and
    anything whose resolved path is not directly inside the resolved folder.
    """
    if (
        not filnavn
        or filnavn in {".", ".."}
        or "/" in filnavn
        or "\\" in filnavn
        or "\x00" in filnavn
        or Path(filnavn).is_absolute()
    ):
        raise AttachmentProblem(f"attachment name {filnavn!r} is not a plain file name")
    candidate = folder / filnavn
    if candidate.is_symlink():
        raise AttachmentProblem(f"attachment {filnavn!r} is a symbolic link; refused")
    if candidate.exists() and candidate.resolve().parent != folder.resolve():
        raise AttachmentProblem(f"attachment {filnavn!r} resolves outside its folder")
    return candidate


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


def source_entry(source: Any) -> dict[str, Any]:
    """A mapping SourceLocation as JSON (rows → the first row as `row` too)."""
    if source is None:
        return {}
    out: dict[str, Any] = {}
    rows = getattr(source, "rows", None)
    if rows:
        out["rows"] = list(rows)
        out["row"] = rows[0]
    for name in ("element", "line", "file"):
        value = getattr(source, name, None)
        if value is not None:
            out[name] = value
    return out


def issue_entry(issue: Any, case_source: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping CaseIssue as an error entry of the journal and the receipt."""
    src = source_entry(getattr(issue, "source", None)) or dict(case_source)
    src.pop("attachments", None)
    out: dict[str, Any] = {
        "code": issue.code,
        "rule": issue.code,
        "message": issue.message,
        "location": issue.location,
        "field": issue.field,
        "column": issue.column,
        "value": issue.value,
        "source": src,
    }
    return {k: v for k, v in out.items() if v not in (None, {})}


def error_entry(
    code: str, message: str, case_source: Mapping[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    src = {k: v for k, v in (case_source or {}).items() if k != "attachments"}
    out: dict[str, Any] = {"code": code, "rule": code, "message": message, **extra}
    if src:
        out["source"] = src
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class _Attachment:
    filnavn: str
    type: str
    pointers: tuple[str, ...]


def attachments_of(source: Mapping[str, Any]) -> list[_Attachment]:
    return [
        _Attachment(a["filnavn"], a.get("type", ""), tuple(a.get("pointers", ())))
        for a in source.get("attachments", ())
    ]


class CaseWorker:
    """Runs cases; every step is recorded in the journal before it is taken."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        client: Any,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        health: HealthState | None = None,
        attachment_wait_cap: float | None = None,
        attachment_stable: Callable[[Path, os.stat_result], bool] | None = None,
    ) -> None:
        self.settings = settings
        # The inbox scanners' observations (runner): a PDF seen unchanged by the scans
        # is ready at once. Files they do not watch are observed here, same rule.
        self._scanned_stable = attachment_stable
        self._seen: dict[Path, tuple[tuple[int, int], datetime]] = {}
        # `once` (cron) waits for missing attachments at most this long in one run; the
        # case stays `waiting_attachments` and the next run goes on waiting until the
        # inbox's deadline. None (the daemon): wait up to the deadline.
        self.attachment_wait_cap = attachment_wait_cap
        self.journal = journal
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self._health = health

    def end(self, record: FileRecord, case: CaseRecord, state: CaseState, **kw: Any) -> CaseRecord:
        case = self.journal.set_case_state(case.id, state, **kw)
        if self._health is not None:
            self._health.metrics.cases_finished.labels(state.value).inc()
        return case

    async def aend(
        self, record: FileRecord, case: CaseRecord, state: CaseState, **kw: Any
    ) -> CaseRecord:
        """`end` off the event loop: a durable commit (fsync) must not stall other cases."""
        return await asyncio.to_thread(self.end, record, case, state, **kw)

    async def _write(self, fn: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
        """A journal write off the event loop (SQLite serialises writers; the loop goes on)."""
        return await asyncio.to_thread(fn, *args, **kw)

    async def run(
        self, record: FileRecord, inbox: InboxSettings, path: Path, case: CaseRecord
    ) -> None:
        while case.state not in CASE_END_STATES:
            if case.state is C.RETRY_WAIT and case.next_attempt_at is not None:
                delay = (case.next_attempt_at - self._clock()).total_seconds()
                if delay > 0:
                    await self._sleep(delay)
            if case.state in (C.NEW, C.WAITING_ATTACHMENTS, C.UPLOADING, C.RETRY_WAIT) and (
                case.state is not C.RETRY_WAIT or case.meldingsid is None
            ):
                payload = await self._attachments(record, inbox, path, case)
                case = self.journal.case(case.id)
                if payload is None:
                    if case.state is C.RETRY_WAIT:
                        # A temporary upload failure: wait and go on in this run, as a
                        # submit failure does; nothing else would take the case up again.
                        continue
                    return
            else:
                payload = case.payload
            case = await self._submit(record, case, payload)

    async def _attachments(
        self, record: FileRecord, inbox: InboxSettings, path: Path, case: CaseRecord
    ) -> dict[str, Any] | None:
        """Find, upload and check every attachment of the case; the payload with uuids.

        None when the case ended (missing or refused attachment) or must wait (retry_wait,
        or still `waiting_attachments` when this run's wait cap is over).
        """
        wanted = attachments_of(case.source)
        folders = [path.parent, inbox.path]
        found: dict[str, Path] = {}
        deadline = record.registered_at + timedelta(seconds=inbox.attachments_wait_seconds)
        cap = self.attachment_wait_cap
        give_up_run = None if cap is None else self._clock() + timedelta(seconds=cap)
        grace: datetime | None = None
        while True:
            missing: list[str] = []
            settling = 0  # present, but not yet seen unchanged for the stable window
            for att in wanted:
                if att.filnavn in found:
                    continue
                try:
                    hit = self._locate(att.filnavn, folders, inbox)
                except AttachmentProblem as exc:
                    await self.aend(
                        record,
                        case,
                        C.FAILED,
                        errors=[error_entry("attachment-refused", str(exc), case.source)],
                    )
                    return None
                if hit is None:
                    missing.append(att.filnavn)
                    settling += self._settling(att.filnavn, folders)
                else:
                    found[att.filnavn] = hit
            if not missing:
                break
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
                await self.aend(
                    record,
                    case,
                    C.FAILED,
                    errors=[
                        error_entry(
                            "attachment-missing",
                            "attachment(s) named by the case never arrived: "
                            + ", ".join(sorted(set(missing))),
                            case.source,
                            value=", ".join(sorted(set(missing))),
                        )
                    ],
                )
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
        if case.state in (C.NEW, C.WAITING_ATTACHMENTS) or case.state is C.RETRY_WAIT:
            case = await self._write(self.journal.set_case_state, case.id, C.UPLOADING)
        uuids: dict[str, str] = {}
        for att in wanted:
            content = found[att.filnavn].read_bytes()
            sha = hashlib.sha256(content).hexdigest()
            try:
                ref = self.journal.attachment_uuid(case.id, att.filnavn, sha)
                if ref is None:
                    ref = await self.client.upload_attachment(
                        content, att.filnavn, case.innsender_referanse
                    )
                    await self._write(
                        self.journal.record_attachment, case.id, att.filnavn, sha, ref
                    )
                state = await self.client.wait_until_ready(ref)
            except (ElanTemporaryError, AuthError) as exc:
                await self._retry_or_fail(record, case, exc)
                return None
            except ElanError as exc:
                await self.aend(
                    record, case, C.FAILED, errors=[error_entry(exc.code, exc.message, case.source)]
                )
                return None
            if state != "ready":
                await self.aend(
                    record,
                    case,
                    C.FAILED,
                    errors=[
                        error_entry(
                            "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT",
                            f"attachment {att.filnavn} ended in state {state!r}, not 'ready'",
                            case.source,
                            value=att.filnavn,
                        )
                    ],
                )
                return None
            for pointer in att.pointers:
                uuids[pointer] = ref
        return fill_attachment_uuids(case.payload, uuids)

    def _locate(self, filnavn: str, folders: Sequence[Path], inbox: InboxSettings) -> Path | None:
        for folder in folders:
            candidate = safe_attachment_path(folder, filnavn)
            try:
                st = candidate.stat()
            except FileNotFoundError:
                continue
            # A PDF still being copied in is not there yet: the data files' rule, size and
            # mtime unchanged for stable_seconds of our clock. Not the mtime's age: a share's
            # clock may run ahead, and a copy may keep an old mtime while it is written.
            if not self._stable(candidate, st, inbox.readiness.stable_seconds):
                return None
            return candidate
        return None

    def _settling(self, filnavn: str, folders: Sequence[Path]) -> bool:
        """True when `filnavn` is present in a folder, only not yet seen stable."""
        return any((folder / filnavn) in self._seen for folder in folders)

    def _stable(self, path: Path, st: os.stat_result, window: float) -> bool:
        if window <= 0 or (self._scanned_stable is not None and self._scanned_stable(path, st)):
            return True
        now = self._clock()
        key = (st.st_size, st.st_mtime_ns)
        seen = self._seen.get(path)
        if seen is None or seen[0] != key:
            if len(self._seen) > 10_000:  # a long-running daemon: forget old sightings
                self._seen.clear()
            self._seen[path] = (key, now)
            return False
        return (now - seen[1]).total_seconds() >= window

    async def _retry_or_fail(
        self, record: FileRecord, case: CaseRecord, exc: GatewayError
    ) -> CaseRecord:
        """After a temporary failure: wait and try again, or end `failed` when out of tries."""
        current = self.journal.case(case.id)
        error = error_entry(
            exc.code, exc.message, current.source, korrelasjonsid=exc.korrelasjonsid
        )
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
                extra=fields(file=record.name, case=current.key, error=exc.details()),
            )
            return await self._write(
                self.journal.set_case_state,
                current.id,
                C.RETRY_WAIT,
                next_attempt_at=next_at,
                errors=[error],
            )
        return await self.aend(record, current, C.FAILED, errors=[error])

    async def _submit(
        self, record: FileRecord, case: CaseRecord, payload: dict[str, Any]
    ) -> CaseRecord:
        from utlegg_gateway.elan import Accepted, FailedPermanently, Rejected
        from utlegg_gateway.gateway.submission import submit_case

        meldingsid = case.meldingsid or str(uuid.uuid4())
        if case.state is not C.SUBMITTING:
            # Intent first: a crash from here on resubmits with this Meldingsid.
            await self._write(self.journal.record_intent, case.id, "submit", meldingsid)
            case = await self._write(
                self.journal.set_case_state,
                case.id,
                C.SUBMITTING,
                meldingsid=meldingsid,
                payload=payload,
            )
        started = time.monotonic()
        try:
            # Corrections become changes, old-rule debtors go to outbox/elsa
            answer = await submit_case(self, record, case, meldingsid, now=self._clock())
            if isinstance(answer, CaseRecord):
                return answer
            result = answer
        except (ElanTemporaryError, AuthError) as exc:
            return await self._retry_or_fail(record, case, exc)
        except ElanError as exc:
            return await self.aend(
                record, case, C.FAILED, errors=[error_entry(exc.code, exc.message, case.source)]
            )
        if self._health is not None:
            self._health.metrics.submit_latency.observe(time.monotonic() - started)
        if isinstance(result, Accepted):
            log.info(
                "case accepted",
                extra=fields(
                    file=record.name,
                    case=case.key,
                    ekstern_saksreferanse=result.ekstern_saksreferanse,
                    korrelasjonsid=result.korrelasjonsid,
                    already_submitted=result.already_submitted,
                ),
            )
            return await self.aend(
                record,
                case,
                C.ACCEPTED,
                ekstern_saksreferanse=result.ekstern_saksreferanse,
                korrelasjonsid=result.korrelasjonsid,
                detail={"already_submitted": result.already_submitted},
            )
        if isinstance(result, Rejected):
            errors = [
                error_entry(
                    rule.kode,
                    rule.melding,
                    case.source,
                    location=rule.lokasjon,
                    korrelasjonsid=result.korrelasjonsid,
                )
                for rule in result.rules
            ] or [error_entry(result.kode or "elan-rejected", result.melding, case.source)]
            return await self.aend(
                record, case, C.REJECTED, errors=errors, korrelasjonsid=result.korrelasjonsid
            )
        if isinstance(result, FailedPermanently):
            return await self.aend(
                record,
                case,
                C.FAILED,
                korrelasjonsid=result.korrelasjonsid,
                errors=[
                    error_entry(
                        result.kode or result.error.code,
                        result.melding,
                        case.source,
                        http_status=result.http_status,
                        korrelasjonsid=result.korrelasjonsid,
                    )
                ],
            )
        return await self._retry_or_fail(record, case, result.error)
