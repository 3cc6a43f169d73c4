"""One claimed file from start to end state: map → per case: upload → submit → record → receipt.

The pipeline composes the stages; it owns no I/O of its own beyond reading attachment
bytes. Every state change goes to the journal BEFORE the action it announces:

    file  claimed → mapping        (before reading the file)
    case  new → uploading          (before the first upload; each uuid recorded as it comes)
    case  intent(submit, Meldingsid) + → submitting            (before the submit call)
    case  → accepted | rejected | failed | retry_wait          (the outcome)
    file  receipt written (atomic) → done → original archived  (in that order)

so a crash at any instant leaves a state `resume_file` completes: a case left in
`submitting` is submitted again with the same Meldingsid (the client reads
DUPLIKAT_INNSENDING as "already in"), uploads are reused from the journal, and a receipt
is rebuilt from journal data only (no write-time timestamps), so a re-write after a crash
has the same bytes.

Cases of a file run concurrently: each is its own task, bounded by a semaphore shared by
all files (`runner.max_cases_in_flight`); the ELAN client caps calls in flight (≤ 5).
One slow or broken case never blocks the others: every case catches its own errors and
ends in a state. Cases that fail local prøving are never sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings, Settings
from utlegg_gateway.errors import (
    AuthError,
    ElanError,
    ElanTemporaryError,
    GatewayError,
    InboxError,
    JournalError,
    MappingSpecError,
    SourceError,
)
from utlegg_gateway.health import HealthState
from utlegg_gateway.journal import (
    CASE_END_STATES,
    CaseRecord,
    CaseState,
    FileRecord,
    FileState,
    Journal,
)

__all__ = [
    "AttachmentProblem",
    "NullProgress",
    "Pipeline",
    "ProgressSink",
    "fill_attachment_uuids",
    "safe_attachment_path",
]

log = get_logger(__name__)

C, F = CaseState, FileState

# Outcomes a `once` run counts as success (exit 0); anything else in the end is exit 1.
OK_CASE_STATES = frozenset({C.ACCEPTED, C.DUPLICATE})


class ProgressSink(Protocol):
    """Where progress goes (a rich progress bar on a terminal; nothing otherwise)."""

    def file_started(self, name: str) -> None: ...
    def cases_found(self, name: str, total: int) -> None: ...
    def case_finished(self, name: str) -> None: ...
    def file_finished(self, name: str, state: str) -> None: ...


class NullProgress:
    """Progress that goes nowhere (daemon, non-terminal)."""

    def file_started(self, name: str) -> None:
        """Nothing."""

    def cases_found(self, name: str, total: int) -> None:
        """Nothing."""

    def case_finished(self, name: str) -> None:
        """Nothing."""

    def file_finished(self, name: str, state: str) -> None:
        """Nothing."""


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


def _source_dict(source: Any) -> dict[str, Any]:
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


def _issue_dict(issue: Any, case_source: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping CaseIssue as an error entry of the journal and the receipt."""
    src = _source_dict(getattr(issue, "source", None)) or dict(case_source)
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


def _error_dict(
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


def _attachments_of(source: Mapping[str, Any]) -> list[_Attachment]:
    return [
        _Attachment(a["filnavn"], a.get("type", ""), tuple(a.get("pointers", ())))
        for a in source.get("attachments", ())
    ]


# --- the pipeline --------------------------------------------------------------------


@dataclass
class FileOutcome:
    """What became of one file: its final record and its cases (for exit codes and the demo)."""

    file: FileRecord
    cases: list[CaseRecord] = field(default_factory=list)
    receipts: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file ended well and every case was accepted (or already in)."""
        if self.file.state is F.FAILED:
            return False
        return all(c.state in OK_CASE_STATES for c in self.cases)


class Pipeline:
    """Composes mapping, the ELAN client, the journal and the outbox for claimed files."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        client: Any,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        health: HealthState | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._health = health
        self.progress: ProgressSink = progress or NullProgress()
        self._slots = asyncio.Semaphore(settings.runner.max_cases_in_flight)
        self._specs: dict[str, Any] = {}

    # -- mappings ----------------------------------------------------------------------

    def reload_mappings(self) -> None:
        """Forget loaded mappings and load every configured one again (SIGHUP).

        A mapping that fails to load keeps the old ones in force and raises
        MappingSpecError, so a typo in a live edit never stops the daemon.
        """
        from utlegg_gateway.mapping import resolve_mapping

        fresh: dict[str, Any] = {}
        for inbox in self.settings.inboxes:
            for name in inbox.mappings:
                if name not in fresh:
                    fresh[name] = resolve_mapping(
                        name, inbox.path / "_", self.settings.runner.mapping_dirs
                    )
        self._specs = fresh

    def _mapping_for(self, inbox: InboxSettings, path: Path) -> Any:
        from fnmatch import fnmatch

        from utlegg_gateway.mapping import resolve_mapping

        dirs = self.settings.runner.mapping_dirs
        names = list(inbox.mappings)
        if len(names) == 1:
            if names[0] not in self._specs:
                self._specs[names[0]] = resolve_mapping(names[0], path, dirs)
            return self._specs[names[0]]
        for name in names:
            if name not in self._specs:
                self._specs[name] = resolve_mapping(name, path, dirs)
            spec = self._specs[name]
            if any(fnmatch(path.name.lower(), p.lower()) for p in spec.patterns):
                return spec
        return resolve_mapping(None, path, dirs)

    # -- files -------------------------------------------------------------------------

    def inbox(self, name: str) -> InboxSettings:
        """The settings of the named inbox; InboxError when it is no longer configured."""
        for inbox in self.settings.inboxes:
            if inbox.name == name:
                return inbox
        raise InboxError(f"inbox {name!r} is not configured (any more)", field="inboxes")

    def register(self, inbox: InboxSettings, path: Path) -> FileRecord:
        """Record a freshly claimed file in the journal (hashing its bytes)."""
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        return self.journal.register_file(
            inbox=inbox.name, name=path.name, sha256=digest.hexdigest(), size=size, path=path
        )

    async def process(self, record: FileRecord) -> FileOutcome:
        """Take one registered file (fresh or resumed) to its end state."""
        name = record.name
        self.progress.file_started(name)
        try:
            outcome = await self._process(record)
        except JournalError:
            raise
        except GatewayError as exc:
            # Anything file-level we did not foresee: report it, keep the gateway going.
            log.error("file failed", extra=fields(file=name, error=exc.details()))
            outcome = await self._fail_file(self.journal.file(record.id), exc)
        self.progress.file_finished(name, outcome.file.state.value)
        if self._health is not None:
            self._health.metrics.files_finished.labels(outcome.file.state.value).inc()
        return outcome

    async def _process(self, record: FileRecord) -> FileOutcome:
        inbox = self.inbox(record.inbox)
        path = Path(record.path) if record.path else None
        if record.state in (F.DONE, F.DUPLICATE, F.FAILED):
            return await self._finish_moves(record)
        if path is None or not path.exists():
            raise InboxError("the claimed file is gone from work/", file=record.path or record.name)
        if record.duplicate_of is not None and record.state is F.CLAIMED:
            return await self._answer_duplicate(record, inbox)
        if record.state in (F.CLAIMED, F.MAPPING):
            if record.state is F.CLAIMED:
                record = self.journal.set_file_state(record.id, F.MAPPING)
            try:
                await self._map_and_run(record, inbox, path)
            except (SourceError, MappingSpecError) as exc:
                return await self._fail_file(self.journal.file(record.id), exc)
            record = self.journal.set_file_state(record.id, F.PROCESSING)
        else:  # processing: every case is in the journal; resume the unfinished ones
            cases = self.journal.cases_for_file(record.id)
            self.progress.cases_found(record.name, len(cases))
            for case in cases:
                if case.state in CASE_END_STATES:
                    self.progress.case_finished(record.name)
            await asyncio.gather(
                *(
                    self._guarded_case(record, inbox, path, case)
                    for case in cases
                    if case.state not in CASE_END_STATES
                )
            )
        return await self._complete(self.journal.file(record.id), inbox)

    async def _map_and_run(self, record: FileRecord, inbox: InboxSettings, path: Path) -> None:
        from utlegg_gateway.mapping import map_file
        from utlegg_gateway.provning import ProvingContext

        spec = self._mapping_for(inbox, path)
        ctx = ProvingContext(
            today=self._clock().date(),
            version=self.settings.model_version,
            environment=self.settings.environment,
        )
        results: Iterator[Any] = iter(map_file(path, spec, ctx))
        tasks: list[asyncio.Task[None]] = []
        found = 0
        try:
            while True:
                # Mapping is synchronous and may parse megabytes between cases: keep it
                # off the loop so cases already running keep talking to ELAN.
                result = await asyncio.to_thread(next, results, None)
                if result is None:
                    break
                found += 1
                self.progress.cases_found(record.name, found)
                case = self._record_case(record, result)
                if case.state in CASE_END_STATES:
                    self.progress.case_finished(record.name)
                    continue
                await self._slots.acquire()
                tasks.append(
                    asyncio.create_task(
                        self._guarded_case(record, inbox, path, case, slot_held=True)
                    )
                )
        finally:
            # Cases already started finish (and are recorded) even if the file broke.
            if tasks:
                await asyncio.gather(*tasks)

    def _record_case(self, record: FileRecord, result: Any) -> CaseRecord:
        source = _source_dict(result.source)
        source["attachments"] = [
            {"filnavn": a.filnavn, "type": a.type, "pointers": list(a.pointers)}
            for a in result.attachments
        ]
        case = self.journal.add_case(
            record.id,
            key=result.key,
            innsender_referanse=result.innsender_referanse or result.key,
            begjaeringsdato=result.begjaeringsdato or "",
            payload=result.begjaering or {},
            source=source,
        )
        if case.state is not C.NEW:
            return case
        if not result.ok:
            errors = [_issue_dict(i, source) for i in result.errors]
            log.info(
                "case rejected by local prøving",
                extra=fields(file=record.name, case=result.key, rules=[e["code"] for e in errors]),
            )
            return self._end_case(record, case, C.REJECTED_LOCAL, errors=errors)
        prior = self.journal.accepted_case(case.innsender_referanse, case.begjaeringsdato)
        if prior is not None and prior.id != case.id:
            prior_file = self.journal.file(prior.file_id)
            return self._end_case(
                record,
                case,
                C.DUPLICATE,
                duplicate_of=prior.id,
                ekstern_saksreferanse=prior.ekstern_saksreferanse,
                errors=[
                    _error_dict(
                        "already-submitted",
                        f"innsenderReferanse {case.innsender_referanse} with begjaeringsdato "
                        f"{case.begjaeringsdato} was already accepted (file {prior_file.name}); "
                        "not sent again",
                        source,
                    )
                ],
            )
        return case

    def _end_case(
        self, record: FileRecord, case: CaseRecord, state: CaseState, **kw: Any
    ) -> CaseRecord:
        case = self.journal.set_case_state(case.id, state, **kw)
        if self._health is not None:
            self._health.metrics.cases_finished.labels(state.value).inc()
        return case

    # -- cases -------------------------------------------------------------------------

    async def _guarded_case(
        self,
        record: FileRecord,
        inbox: InboxSettings,
        path: Path,
        case: CaseRecord,
        *,
        slot_held: bool = False,
    ) -> None:
        if not slot_held:
            await self._slots.acquire()
        try:
            await self._run_case(record, inbox, path, case)
        except JournalError:
            raise
        except Exception as exc:
            # A bug or an unforeseen error in one case must not take the others down.
            log.exception("case failed unexpectedly", extra=fields(file=record.name, case=case.key))
            current = self.journal.case(case.id)
            if current.state not in CASE_END_STATES:
                detail = exc.details() if isinstance(exc, GatewayError) else {}
                self._end_case(
                    record,
                    current,
                    C.FAILED,
                    errors=[
                        _error_dict(
                            detail.get("code", "internal-error"),
                            str(exc) or type(exc).__name__,
                            current.source,
                        )
                    ],
                )
        finally:
            self._slots.release()
            self.progress.case_finished(record.name)

    async def _run_case(
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
                if payload is None:
                    return
                case = self.journal.case(case.id)
            else:
                payload = case.payload
            case = await self._submit(record, case, payload)

    async def _attachments(
        self, record: FileRecord, inbox: InboxSettings, path: Path, case: CaseRecord
    ) -> dict[str, Any] | None:
        """Find, upload and check every attachment of the case; the payload with uuids.

        None when the case ended (missing or refused attachment) or must wait (retry_wait).
        """
        wanted = _attachments_of(case.source)
        folders = [path.parent, inbox.path]
        found: dict[str, Path] = {}
        deadline = record.registered_at + timedelta(seconds=inbox.attachments_wait_seconds)
        while True:
            missing: list[str] = []
            for att in wanted:
                if att.filnavn in found:
                    continue
                try:
                    hit = self._locate(att.filnavn, folders, inbox)
                except AttachmentProblem as exc:
                    self._end_case(
                        record,
                        case,
                        C.FAILED,
                        errors=[_error_dict("attachment-refused", str(exc), case.source)],
                    )
                    return None
                if hit is None:
                    missing.append(att.filnavn)
                else:
                    found[att.filnavn] = hit
            if not missing:
                break
            if case.state is C.NEW:
                case = self.journal.set_case_state(
                    case.id, C.WAITING_ATTACHMENTS, detail={"missing": missing}
                )
            remaining = (deadline - self._clock()).total_seconds()
            if remaining <= 0:
                self._end_case(
                    record,
                    case,
                    C.FAILED,
                    errors=[
                        _error_dict(
                            "attachment-missing",
                            "attachment(s) named by the case never arrived: "
                            + ", ".join(sorted(set(missing))),
                            case.source,
                            value=", ".join(sorted(set(missing))),
                        )
                    ],
                )
                return None
            await self._sleep(min(1.0, remaining))
        if case.state in (C.NEW, C.WAITING_ATTACHMENTS) or case.state is C.RETRY_WAIT:
            case = self.journal.set_case_state(case.id, C.UPLOADING)
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
                    self.journal.record_attachment(case.id, att.filnavn, sha, ref)
                state = await self.client.wait_until_ready(ref)
            except (ElanTemporaryError, AuthError) as exc:
                self._retry_or_fail(record, case, exc)
                return None
            except ElanError as exc:
                self._end_case(
                    record, case, C.FAILED, errors=[_error_dict(exc.code, exc.message, case.source)]
                )
                return None
            if state != "ready":
                self._end_case(
                    record,
                    case,
                    C.FAILED,
                    errors=[
                        _error_dict(
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
                stat = candidate.stat()
            except FileNotFoundError:
                continue
            # A PDF still being copied in is not there yet: same stability rule as data files.
            if time.time() - stat.st_mtime < inbox.readiness.stable_seconds:
                return None
            return candidate
        return None

    def _retry_or_fail(self, record: FileRecord, case: CaseRecord, exc: GatewayError) -> CaseRecord:
        """After a temporary failure: wait and try again, or end `failed` when out of tries."""
        current = self.journal.case(case.id)
        error = _error_dict(
            exc.code, exc.message, current.source, korrelasjonsid=exc.korrelasjonsid
        )
        if current.attempts <= self.settings.runner.case_retries:
            next_at = self._clock() + timedelta(
                seconds=self.settings.runner.case_retry_delay_seconds
            )
            log.warning(
                "case failed temporarily; will retry",
                extra=fields(file=record.name, case=current.key, error=exc.details()),
            )
            return self.journal.set_case_state(
                current.id, C.RETRY_WAIT, next_attempt_at=next_at, errors=[error]
            )
        return self._end_case(record, current, C.FAILED, errors=[error])

    async def _submit(
        self, record: FileRecord, case: CaseRecord, payload: dict[str, Any]
    ) -> CaseRecord:
        from utlegg_gateway.elan import Accepted, FailedPermanently, Rejected

        meldingsid = case.meldingsid or str(uuid.uuid4())
        if case.state is not C.SUBMITTING:
            # Intent first: a crash from here on resubmits with this Meldingsid.
            self.journal.record_intent(case.id, "submit", meldingsid)
            case = self.journal.set_case_state(
                case.id, C.SUBMITTING, meldingsid=meldingsid, payload=payload
            )
        started = time.monotonic()
        try:
            result = await self.client.submit(case.payload, meldingsid=meldingsid)
        except (ElanTemporaryError, AuthError) as exc:
            return self._retry_or_fail(record, case, exc)
        except ElanError as exc:
            return self._end_case(
                record, case, C.FAILED, errors=[_error_dict(exc.code, exc.message, case.source)]
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
            return self._end_case(
                record,
                case,
                C.ACCEPTED,
                ekstern_saksreferanse=result.ekstern_saksreferanse,
                korrelasjonsid=result.korrelasjonsid,
                detail={"already_submitted": result.already_submitted},
            )
        if isinstance(result, Rejected):
            errors = [
                _error_dict(
                    rule.kode,
                    rule.melding,
                    case.source,
                    location=rule.lokasjon,
                    korrelasjonsid=result.korrelasjonsid,
                )
                for rule in result.rules
            ] or [_error_dict(result.kode or "elan-rejected", result.melding, case.source)]
            return self._end_case(
                record, case, C.REJECTED, errors=errors, korrelasjonsid=result.korrelasjonsid
            )
        if isinstance(result, FailedPermanently):
            return self._end_case(
                record,
                case,
                C.FAILED,
                korrelasjonsid=result.korrelasjonsid,
                errors=[
                    _error_dict(
                        result.kode or result.error.code,
                        result.melding,
                        case.source,
                        http_status=result.http_status,
                        korrelasjonsid=result.korrelasjonsid,
                    )
                ],
            )
        return self._retry_or_fail(record, case, result.error)

    # -- endings -----------------------------------------------------------------------

    async def _complete(self, record: FileRecord, inbox: InboxSettings) -> FileOutcome:
        """Every case ended: receipt (atomic) → state done → archive the original."""
        from utlegg_gateway import outbox

        cases = self.journal.cases_for_file(record.id)
        receipt = build_receipt(record, cases)
        receipts = outbox.write_receipt(
            self.settings.folders.outbox, record.name, receipt, inbox.receipt_formats
        )
        record = self.journal.set_file_state(record.id, F.DONE)
        return await self._finish_moves(record, cases=cases, receipts=list(receipts))

    async def _answer_duplicate(self, record: FileRecord, inbox: InboxSettings) -> FileOutcome:
        from utlegg_gateway import outbox

        assert record.duplicate_of is not None
        original = self.journal.file(record.duplicate_of)
        receipt = build_receipt(
            record,
            self.journal.cases_for_file(original.id),
            duplicate_of=original,
        )
        receipts = outbox.write_receipt(
            self.settings.folders.outbox, record.name, receipt, inbox.receipt_formats
        )
        record = self.journal.set_file_state(
            record.id, F.DUPLICATE, detail={"duplicate_of": original.id}
        )
        log.info(
            "duplicate file answered, not resubmitted",
            extra=fields(file=record.name, original=original.name),
        )
        return await self._finish_moves(record, receipts=list(receipts))

    async def _fail_file(self, record: FileRecord, exc: GatewayError) -> FileOutcome:
        """Record the file as failed (with the error), then report and move it."""
        details = exc.details()
        details.setdefault("file", record.name)
        log.warning(
            "file unreadable; moved to failed/", extra=fields(file=record.name, error=details)
        )
        if record.state is not F.FAILED:
            record = self.journal.set_file_state(record.id, F.FAILED, error=details)
        receipts: list[Path] = []
        cases = self.journal.cases_for_file(record.id)
        if cases and all(c.state in CASE_END_STATES for c in cases):
            # The file broke after some cases were already sent: say what became of them.
            from utlegg_gateway import outbox

            receipts = outbox.write_receipt(
                self.settings.folders.outbox,
                record.name,
                build_receipt(record, cases),
                self.inbox(record.inbox).receipt_formats,
            )
        return await self._finish_moves(record, cases=cases, receipts=receipts)

    def _error_report(self, record: FileRecord) -> list[Path]:
        """NAME.feil.json/.txt from the journal's record of the failure (same bytes on re-write)."""
        from utlegg_gateway import outbox

        error = record.error or {"code": "gateway-error", "message": "unknown failure"}
        at = next(
            (
                t.at
                for t in reversed(self.journal.transitions("file", record.id))
                if t.to_state == "failed"
            ),
            record.updated_at,
        )
        report = outbox.ErrorReport(
            source_name=record.name,
            code=str(error.get("code", "gateway-error")),
            message=str(error.get("message", "")),
            at=at,
            inbox=record.inbox,
            sha256=record.sha256,
            moved_to=str(self.settings.folders.failed),
            hint=error.get("hint")
            or f"fix the cause, then: utlegg-gateway replay {record.name} --config <config>",
            errors=(
                outbox.ReceiptError(
                    rule=str(error.get("rule") or error.get("kode") or error.get("code")),
                    message=str(error.get("message", "")),
                    origin="local",
                    row=error.get("row"),
                    element=error.get("element"),
                    column=error.get("column"),
                    field=error.get("field"),
                    value=error.get("value"),
                ),
            ),
        )
        return outbox.write_error_report(self.settings.folders.outbox, record.name, report)

    async def _finish_moves(
        self,
        record: FileRecord,
        *,
        cases: list[CaseRecord] | None = None,
        receipts: list[Path] | None = None,
    ) -> FileOutcome:
        """Move an ended file out of work/ (archive or failed); idempotent after a crash."""
        from utlegg_gateway.inbox import archive_file, move_to_failed

        if cases is None:
            cases = self.journal.cases_for_file(record.id)
        receipts = list(receipts or [])
        path = Path(record.path) if record.path else None
        work_root = self.settings.folders.work.resolve()
        if path is not None and path.exists() and _is_within(path, work_root):
            if record.state is F.FAILED:
                receipts += self._error_report(record)
                moved = move_to_failed(path, self.settings.folders.failed)
            else:
                attachments = self._attachment_files(record, cases)
                moved = archive_file(
                    path, self.settings.folders.archive, now=self._clock(), attachments=attachments
                )
            self.journal.set_file_path(record.id, moved)
            record = self.journal.file(record.id)
        return FileOutcome(file=record, cases=cases, receipts=receipts)

    def _attachment_files(self, record: FileRecord, cases: list[CaseRecord]) -> list[Path]:
        try:
            inbox = self.inbox(record.inbox)
        except InboxError:
            return []
        folders = [Path(record.path).parent if record.path else None, inbox.path]
        out: list[Path] = []
        for case in cases:
            for att in _attachments_of(case.source):
                for folder in folders:
                    if folder is None:
                        continue
                    try:
                        candidate = safe_attachment_path(folder, att.filnavn)
                    except AttachmentProblem:
                        continue
                    if candidate.is_file() and candidate not in out:
                        out.append(candidate)
                        break
        return out


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


_RECEIPT_STATUS: dict[CaseState, str] = {
    C.ACCEPTED: "accepted",
    C.REJECTED: "rejected",
    C.REJECTED_LOCAL: "rejected",
    C.FAILED: "failed",
    C.DUPLICATE: "duplicate",
}
_ORIGIN: dict[CaseState, str] = {C.REJECTED: "server", C.REJECTED_LOCAL: "local"}


def _receipt_error(entry: Mapping[str, Any], origin: str) -> Any:
    from utlegg_gateway.outbox import ReceiptError

    source = entry.get("source") or {}
    return ReceiptError(
        rule=str(entry.get("rule") or entry.get("code") or "error"),
        message=str(entry.get("message", "")),
        origin=origin,  # type: ignore[arg-type]
        location=entry.get("location"),
        row=source.get("row"),
        element=source.get("element"),
        column=entry.get("column"),
        field=entry.get("field"),
        value=entry.get("value"),
    )


def build_receipt(
    record: FileRecord, cases: Sequence[CaseRecord], *, duplicate_of: FileRecord | None = None
) -> Any:
    """The receipt of a file from journal data only (a re-write after a crash is byte-equal)."""
    from utlegg_gateway.outbox import CaseReceipt, Receipt

    entries = []
    for case in cases:
        status = "duplicate" if duplicate_of is not None else _RECEIPT_STATUS[case.state]
        origin = _ORIGIN.get(case.state, "gateway")
        entries.append(
            CaseReceipt(
                innsender_referanse=case.innsender_referanse,
                begjaeringsdato=case.begjaeringsdato,
                status=status,  # type: ignore[arg-type]
                ekstern_saksreferanse=case.ekstern_saksreferanse,
                korrelasjonsid=case.korrelasjonsid,
                submitted_at=case.submitted_at,
                finished_at=case.finished_at,
                errors=tuple(_receipt_error(e, origin) for e in case.errors)
                if duplicate_of is None
                else (),
            )
        )
    finished = [c.finished_at for c in cases if c.finished_at is not None]
    return Receipt(
        source_name=record.name,
        inbox=record.inbox,
        sha256=record.sha256,
        received_at=record.registered_at,
        finished_at=max(finished) if finished else record.registered_at,
        cases=tuple(entries),
        duplicate_of=duplicate_of.name if duplicate_of is not None else None,
    )
