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
A case starts as soon as it is recorded (`runner.submit_while_mapping`), while the rest
of its file is still being read; the file moves on only when all of it is read.
One slow or broken case never blocks the others: every case catches its own errors and
ends in a state. Cases that fail local prøving are never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Protocol

from utlegg_gateway._logging import fields, get_logger, mask
from utlegg_gateway._shipped import mapping_search_dirs
from utlegg_gateway.config import InboxSettings, Settings
from utlegg_gateway.elan.client import ElanClient
from utlegg_gateway.errors import (
    AttachmentError,
    ErrorEntry,
    GatewayError,
    InboxError,
    InternalError,
    JournalError,
    MappingSpecError,
    OutboxError,
    Place,
    SourceError,
)
from utlegg_gateway.folders import attachments, outbox
from utlegg_gateway.folders.archive import archive_file, move_to_failed
from utlegg_gateway.folders.outbox import Receipt
from utlegg_gateway.folders.outbox.receipts import build_error_report, build_receipt
from utlegg_gateway.gateway.casework import CaseWorker
from utlegg_gateway.gateway.submission import is_correction
from utlegg_gateway.health import HealthState
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import (
    CASE_END_STATES,
    CASE_RESUMABLE,
    CaseRecord,
    CaseState,
    FileRecord,
    FileState,
    NewCase,
)
from utlegg_gateway.mapping import map_file, resolve_mapping, workers_for
from utlegg_gateway.mapping.results import CaseResult
from utlegg_gateway.mapping.spec import MappingSpec
from utlegg_gateway.provning import ProvingContext

__all__ = [
    "CASE_OUTCOMES",
    "FileOutcome",
    "NullProgress",
    "Pipeline",
    "ProgressSink",
    "case_outcome",
]

log = get_logger(__name__)

C, F = CaseState, FileState

# Outcomes a `once` run counts as success (exit 0); anything else in the end is exit 1.
OK_CASE_STATES = frozenset({C.ACCEPTED, C.DUPLICATE})


class ProgressSink(Protocol):
    """Where progress goes (a rich display on a terminal, JSON lines off one, or nothing)."""

    def waiting(self, name: str, reason: str, seconds: float) -> None:
        """A data file seen but not ready yet: `reason` says for what, `seconds` how long."""

    def file_started(self, name: str) -> None: ...
    def cases_found(self, name: str, total: int) -> None: ...
    def case_finished(self, name: str, outcome: str) -> None:
        """One case ended: `outcome` is one of CASE_OUTCOMES' values or "open"."""

    def file_duplicate(self, name: str, original: str) -> None:
        """The whole file is a duplicate of `original` (answered, nothing sent)."""

    def file_finished(self, name: str, outcome: FileOutcome) -> None: ...


# How a case's end state is counted on the terminal and in the summary line. A case not
# in an end state (waiting for its attachments when `once` stops) is "open".
CASE_OUTCOMES: dict[CaseState, str] = {
    C.ACCEPTED: "accepted",
    C.REJECTED_LOCAL: "rejected",
    C.REJECTED: "rejected",
    C.FAILED: "failed",
    C.DUPLICATE: "duplicate",
}


def _fresh_duplicate(record: FileRecord) -> bool:
    """Registered as a duplicate of an earlier file, and not answered yet."""
    return record.duplicate_of is not None and record.state is F.CLAIMED


def case_outcome(state: CaseState) -> str:
    """accepted, rejected, failed, duplicate, or open (not ended yet)."""
    return CASE_OUTCOMES.get(state, "open")


class NullProgress:
    """Progress that goes nowhere (daemon, tests)."""

    def waiting(self, name: str, reason: str, seconds: float) -> None:
        """Nothing."""

    def file_started(self, name: str) -> None:
        """Nothing."""

    def cases_found(self, name: str, total: int) -> None:
        """Nothing."""

    def case_finished(self, name: str, outcome: str) -> None:
        """Nothing."""

    def file_duplicate(self, name: str, original: str) -> None:
        """Nothing."""

    def file_finished(self, name: str, outcome: FileOutcome) -> None:
        """Nothing."""


# --- the pipeline --------------------------------------------------------------------


@dataclass
class FileOutcome:
    """What became of one file: its final record and its cases' states (for exit codes)."""

    file: FileRecord
    # How many of its cases are in each state. The records stay in the journal
    # (`file_cases`): a run over a file of any size holds counts, not cases.
    counts: Counter[CaseState] = field(default_factory=Counter)
    receipts: list[Path] = field(default_factory=list)
    # False when the receipt or error report could not be written (tried again later).
    answered: bool = True

    @property
    def ok(self) -> bool:
        """True when no case was rejected or failed, the file was readable and answered."""
        if self.file.state is F.FAILED or not self.answered:
            return False
        # A case still waiting for its attachments (`once`) is not a failure yet.
        return all(
            state in OK_CASE_STATES or state is C.WAITING_ATTACHMENTS
            for state, n in self.counts.items()
            if n
        )

    @property
    def total(self) -> int:
        """The number of cases the file holds."""
        return sum(self.counts.values())


class Pipeline:
    """Composes mapping, the ELAN client, the journal and the outbox for claimed files."""

    def __init__(
        self,
        settings: Settings,
        journal: JournalStore,
        client: ElanClient,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        health: HealthState | None = None,
        progress: ProgressSink | None = None,
        attachment_wait_cap: float | None = None,
        sightings: attachments.Sightings | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._health = health
        self.progress: ProgressSink = progress or NullProgress()
        self._slots = asyncio.Semaphore(settings.runner.max_cases_in_flight)
        self._specs: dict[str, MappingSpec] = {}
        # Every source file is read in this one thread: an lxml iterparse advanced from
        # the pool threads of asyncio.to_thread (a different thread per `next`) corrupted
        # the heap ("munmap_chunk(): invalid pointer", reproduced in ~1 of 3 runs of 900
        # XML files). One thread creates, advances and closes each source iterator.
        self._mapper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="utlegg-mapping")
        self.cases = CaseWorker(
            settings,
            journal,
            client,
            clock=self._clock,
            sleep=sleep,
            health=health,
            attachment_wait_cap=attachment_wait_cap,
            sightings=sightings,
        )

    # -- mappings ----------------------------------------------------------------------

    def reload_mappings(self) -> None:
        """Forget loaded mappings and load every configured one again (SIGHUP).

        A mapping that fails to load keeps the old ones in force and raises
        MappingSpecError, so a typo in a live edit never stops the daemon.
        """
        fresh: dict[str, MappingSpec] = {}
        for inbox in self.settings.inboxes:
            for name in inbox.mappings:
                if name not in fresh:
                    fresh[name] = resolve_mapping(
                        name,
                        inbox.path / "_",
                        self._mapping_dirs(),
                        version=self.settings.model_version,
                    )
        self._specs = fresh

    def _mapping_dirs(self) -> tuple[Path, ...]:
        # The configured folders, then the mappings shipped with the package.
        return mapping_search_dirs(self.settings.runner.mapping_dirs)

    def _mapping_for(self, inbox: InboxSettings, path: Path) -> MappingSpec:
        dirs = self._mapping_dirs()
        # Checked against the configured model as they load (as `mapping check` does).
        version = self.settings.model_version
        names = list(inbox.mappings)
        if len(names) == 1:
            if names[0] not in self._specs:
                self._specs[names[0]] = resolve_mapping(names[0], path, dirs, version=version)
            return self._specs[names[0]]
        for name in names:
            if name not in self._specs:
                self._specs[name] = resolve_mapping(name, path, dirs, version=version)
            spec = self._specs[name]
            if any(fnmatch(path.name.lower(), p.lower()) for p in spec.patterns):
                return spec
        return resolve_mapping(None, path, dirs, version=version)

    # -- files -------------------------------------------------------------------------

    def inbox(self, name: str) -> InboxSettings:
        """The settings of the named inbox; InboxError when it is no longer configured."""
        for inbox in self.settings.inboxes:
            if inbox.name == name:
                return inbox
        raise InboxError(f"inbox {name!r} is not configured (any more)", field="inboxes")

    async def process(self, record: FileRecord) -> FileOutcome:
        """Take one registered file (fresh or resumed) to its end state."""
        name = record.name
        if not _fresh_duplicate(record):
            # A duplicate shows no counts, not even "0 of ?" for a moment: its line says
            # of what file it is a duplicate (`_answer_duplicate`).
            self.progress.file_started(name)
        try:
            outcome = await self._process(record)
        except JournalError:
            raise
        except OutboxError as exc:
            # The answer could not be written (outbox full, a share gone). What became of
            # the cases stands: the file keeps its state in work/ and is answered later
            # (the next start, or the daemon's sweep), never turned into "unreadable".
            log.error(
                "cannot write the answer; it is written again later",
                extra=fields(file=name, error=exc.details()),
            )
            outcome = self._outcome(self.journal.file(record.id), answered=False)
        except GatewayError as exc:
            current = self.journal.file(record.id)
            if current.state in (F.DONE, F.DUPLICATE):
                # Answered already; only the move to archive/ failed (full or read-only
                # disk). The file stays in work/: the daemon retries the move every
                # runner.move_retry_seconds, `once` at its next run.
                log.error(
                    "archiving failed; the move is retried later",
                    extra=fields(file=name, error=exc.details()),
                )
                outcome = self._outcome(current)
            else:
                # Anything file-level we did not foresee: report it, keep the gateway going.
                log.error("file failed", extra=fields(file=name, error=exc.details()))
                outcome = await self._fail_safely(current, exc)
        except Exception as exc:
            # Bulkhead: a bug or a library error while reading, mapping, answering or
            # moving one file fails that file (its traceback goes to the log, a short
            # reason to the error report), never the gateway and never the other files.
            log.exception("file failed unexpectedly", extra=fields(file=name))
            outcome = await self._fail_safely(self.journal.file(record.id), internal(exc))
        self.progress.file_finished(name, outcome)
        if self._health is not None:
            self._health.metrics.file_finished(outcome.file.state.value, self.settings.tenant)
        return outcome

    async def _process(self, record: FileRecord) -> FileOutcome:
        inbox = self.inbox(record.inbox)
        path = Path(record.path) if record.path else None
        if record.state in (F.DONE, F.DUPLICATE, F.FAILED):
            return await self._finish_moves(record)
        presence = "gone" if path is None else _presence(path)
        if presence == "away":
            # Its folder is not there at all (the inbox's share, which holds work/, is
            # unmounted): the file waits, open, until the folder is back; failing it would
            # answer "unreadable" for cases that may have been accepted.
            log.warning(
                "the file's work folder is not there (share away?); it waits",
                extra=fields(file=record.name),
            )
            return self._outcome(record, answered=False)
        if path is None or presence == "gone":
            raise InboxError("the claimed file is gone from work/", file=record.path or record.name)
        if _fresh_duplicate(record):
            return await self._answer_duplicate(record, inbox)
        started = _CaseTasks()
        if record.state in (F.CLAIMED, F.MAPPING):
            if record.state is F.CLAIMED:
                record = self.journal.set_file_state(record.id, F.MAPPING)
            stream = started if self.settings.runner.submit_while_mapping else None
            try:
                unreadable = await self._read_cases(record, path, inbox, stream)
            except BaseException:
                await started.cancel()  # a stop or a journal failure: resumable states
                raise
            # Every case started while reading ends (or waits) before the file moves on.
            await started.wait()
            if started.failures:
                raise started.failures[0]
            if unreadable is not None:
                return await self._fail_file(self.journal.file(record.id), unreadable)
            record = self.journal.set_file_state(record.id, F.PROCESSING)
        else:  # processing: every case is in the journal; resume the unfinished ones
            found = self.journal.case_counts(record.id)
            self.progress.cases_found(record.name, sum(found.values()))
            for state, n in found.items():
                if state in CASE_END_STATES:
                    for _ in range(n):
                        self.progress.case_finished(record.name, case_outcome(state))
        await self._run_cases(record, inbox, path, skip=started.ids)
        counts = self.journal.case_counts(record.id)
        if any(n and s not in CASE_END_STATES for s, n in counts.items()):
            # Only `once` gets here (cases still waiting for attachments): the file stays
            # in work/, `processing`, and the next run takes it up again.
            return self._outcome(self.journal.file(record.id))
        return await self._complete(self.journal.file(record.id), inbox)

    async def _read_cases(
        self, record: FileRecord, path: Path, inbox: InboxSettings, stream: _CaseTasks | None
    ) -> GatewayError | None:
        """`_map_cases`, with an unreadable file's error returned rather than raised."""
        try:
            await self._map_cases(record, path, inbox, stream)
        except (SourceError, MappingSpecError) as exc:
            return exc
        except JournalError:
            raise
        except Exception as exc:
            # A reader that let a library error through (csv.Error on a huge field):
            # still only this file is unreadable. Uncaught, it stopped the gateway and,
            # the file being resumed at every start, stopped it again each time.
            log.exception("reading the file failed", extra=fields(file=record.name))
            return SourceError(
                f"the file could not be read ({type(exc).__name__}: {exc})", file=record.name
            )
        return None

    async def _map_cases(
        self, record: FileRecord, path: Path, inbox: InboxSettings, stream: _CaseTasks | None
    ) -> None:
        """Map the file into the journal case by case; with `stream`, start each case too.

        Sources stream (an XML export is parsed record by record), so memory stays bounded:
        each case goes to the journal as it is built, and with `stream` its task starts as
        soon as it is recorded and a slot is free (waiting for that slot also holds the
        reading back). A syntax error at the end of a file is found only after earlier
        cases were built: with `stream` those may be in ELAN already and are answered in
        the receipt; without it (`runner.submit_while_mapping: false`) nothing is sent
        until the file has been read to its end, so a broken file fails whole.
        """
        spec = self._mapping_for(self.inbox(record.inbox), path)
        ctx = ProvingContext(
            today=self._clock().date(),
            version=self.settings.model_version,
            environment=self.settings.environment,
            # The innsender must be the organisation our token represents (ELAN refuses
            # anything else): found here, a tenant's file never goes out as another's.
            authenticated_orgnr=self.settings.acting_organisation,
        )
        loop = asyncio.get_running_loop()
        setting = self.settings.runner.mapping_workers
        # `auto` starts worker processes only for a big file held until it is read to its
        # end: there the mapping is all that stands before the first submit. A streamed
        # file is read as fast as ELAN takes its cases (~40/s here, against ~500/s mapped
        # per core), so workers would only wait, holding memory.
        workers = 1 if setting == "auto" and stream is not None else workers_for(path, setting)
        # Mapping is synchronous and may parse megabytes between cases: it runs off the
        # loop, so cases of other files keep talking to ELAN meanwhile.
        results: Iterator[CaseResult] = await loop.run_in_executor(
            self._mapper, lambda: iter(map_file(path, spec, ctx, workers=workers))
        )
        batches = _Batches(results)
        try:
            found = 0
            while True:
                # Cases are recorded a batch at a time (one commit each), the batch ending
                # after RECORD_BATCH cases or RECORD_SECONDS, so a slow source still lets
                # its first cases start at once.
                batch = await loop.run_in_executor(self._mapper, batches.next)
                if not batch:
                    break
                found += len(batch)
                self.progress.cases_found(record.name, found)
                # Recorded off the loop too: a batch's commit (and its per-case look-up of
                # an accepted original) would hold every call in flight meanwhile.
                recorded = await loop.run_in_executor(
                    self._mapper, self._record_cases, record, batch
                )
                for case in recorded:
                    if case.state in CASE_END_STATES:
                        self.progress.case_finished(record.name, case_outcome(case.state))
                    elif (
                        stream is not None
                        and case.state is C.NEW
                        and not await self._start_case(stream, record, inbox, path, case.id)
                    ):
                        raise stream.failures[0]  # the journal failed in a started case
            if found == 0:
                # Silence here lost cases: records in another namespace, a renamed element
                # or a wrong delimiter gave "0 cases", exit 0, and the file archived.
                raise SourceError(
                    f"the mapping {spec.name!r} found no case in the file",
                    file=record.name,
                    hint="check that the export is the kind this inbox's mapping reads "
                    "(record element and namespace, delimiter, header); an export with no "
                    "case at all should not be dropped",
                )
        finally:
            # Close (and so free the parser) in the thread that made it.
            close = getattr(results, "close", None)
            if close is not None:
                await loop.run_in_executor(self._mapper, close)
            del results

    def close(self) -> None:
        """Stop the mapping thread (idle by then: every file's mapping was awaited)."""
        self._mapper.shutdown(wait=True)

    def _record_cases(self, record: FileRecord, results: list[CaseResult]) -> list[CaseRecord]:
        """Record a batch of built cases in one transaction; end those that go no further."""
        new: list[NewCase] = []
        for result in results:
            place = Place.of(result.source)
            source = place.to_json() if place is not None else {}
            source["attachments"] = [
                {"filnavn": a.filnavn, "type": a.type, "pointers": list(a.pointers)}
                for a in result.attachments
            ]
            new.append(
                NewCase(
                    key=result.key,
                    innsender_referanse=result.innsender_referanse or result.key,
                    begjaeringsdato=result.begjaeringsdato or "",
                    payload=result.begjaering or {},
                    source=source,
                )
            )
        recorded = self.journal.add_cases(record.id, new)
        return [self._settle(record, r, c) for r, c in zip(results, recorded, strict=True)]

    def _settle(self, record: FileRecord, result: CaseResult, case: CaseRecord) -> CaseRecord:
        """A freshly recorded case refused locally or already accepted ends here."""
        if case.state is not C.NEW:
            return case
        if not result.ok:
            errors = [ErrorEntry.from_issue(i, case.place) for i in result.errors]
            log.info(
                "case rejected by local prøving",
                extra=fields(file=record.name, case=result.key, rules=[e.code for e in errors]),
            )
            return self.cases.end(case, C.REJECTED_LOCAL, errors=errors)
        prior = self.journal.accepted_case(case.innsender_referanse, case.begjaeringsdato)
        # In a corrections inbox the accepted original is the point, not a duplicate
        if prior is not None and prior.id != case.id and not is_correction(self.settings, record):
            prior_file = self.journal.file(prior.file_id)
            return self.cases.end(
                case,
                C.DUPLICATE,
                duplicate_of=prior.id,
                ekstern_saksreferanse=prior.ekstern_saksreferanse,
                errors=[
                    ErrorEntry(
                        "already-submitted",
                        f"innsenderReferanse {case.innsender_referanse} with begjaeringsdato "
                        f"{case.begjaeringsdato} was already accepted (file {prior_file.name}); "
                        "not sent again",
                        place=case.place,
                    )
                ],
            )
        return case

    # -- cases -------------------------------------------------------------------------

    async def _run_cases(
        self,
        record: FileRecord,
        inbox: InboxSettings,
        path: Path,
        *,
        skip: frozenset[int] | set[int] = frozenset(),
    ) -> None:
        """Run every open case of the file not in `skip` (those ran while it was read).

        A case's task starts only once its slot is free, so a waiting case costs one id,
        not a task and a record: memory stays flat in the number of cases of a file.
        """
        open_ids = [
            c.id
            for c in self.journal.file_cases(record.id)
            if c.state not in CASE_END_STATES and c.id not in skip
        ]
        tasks = _CaseTasks()
        try:
            for case_id in open_ids:
                if not await self._start_case(tasks, record, inbox, path, case_id):
                    break  # the journal failed: nothing more may be started
            await tasks.wait()
        except BaseException:
            # Cancelled (a stop after the grace): the cases started go down with the file;
            # their journal state is resumable.
            await tasks.cancel()
            raise
        if tasks.failures:
            raise tasks.failures[0]

    async def _start_case(
        self, tasks: _CaseTasks, record: FileRecord, inbox: InboxSettings, path: Path, case_id: int
    ) -> bool:
        """Start one case once a slot is free; False (nothing started) after a failure."""
        await self._slots.acquire()
        if tasks.failures:
            self._slots.release()
            return False
        tasks.add(case_id, self._guarded_case(record, inbox, path, case_id))
        return True

    async def _guarded_case(
        self, record: FileRecord, inbox: InboxSettings, path: Path, case_id: int
    ) -> None:
        """One case in a slot the caller acquired; released here, whatever happens."""
        # The state the case was left in, for progress; read again only after a failure.
        left: CaseState | None = None
        try:
            # The full record (with its payload) is read only now that the case runs.
            left = await self.cases.run(record, inbox, path, self.journal.case(case_id))
        except JournalError:
            raise
        except Exception as exc:
            # A bug or an unforeseen error in one case must not take the others down.
            current = self.journal.case(case_id)
            log.exception(
                "case failed unexpectedly", extra=fields(file=record.name, case=current.key)
            )
            if current.state not in CASE_END_STATES:
                error = exc if isinstance(exc, GatewayError) else internal(exc)
                entry = ErrorEntry.from_error(error, current.place)
                self.cases.end(current, C.FAILED, errors=[entry])
        finally:
            self._slots.release()
            outcome = case_outcome(left) if left is not None else self._case_outcome(case_id)
            self.progress.case_finished(record.name, outcome)

    def _case_outcome(self, case_id: int) -> str:
        """The case's outcome for progress; "open" when even the journal cannot say."""
        try:
            return case_outcome(self.journal.case_state(case_id))
        except GatewayError:
            return "open"  # the journal failed: that error is what propagates

    # -- endings -----------------------------------------------------------------------

    async def _complete(self, record: FileRecord, inbox: InboxSettings) -> FileOutcome:
        """Every case ended: receipt (atomic) → state done → archive the original."""

        receipt = build_receipt(record, self.journal.file_cases(record.id))
        receipts = self._write_receipt(record.name, receipt, inbox)
        record = self.journal.set_file_state(record.id, F.DONE)
        return await self._finish_moves(record, receipts=list(receipts))

    async def _answer_duplicate(self, record: FileRecord, inbox: InboxSettings) -> FileOutcome:

        assert record.duplicate_of is not None
        original = self.journal.file(record.duplicate_of)
        receipt = build_receipt(record, self.journal.file_cases(original.id), duplicate_of=original)
        receipts = self._write_receipt(record.name, receipt, inbox)
        record = self.journal.set_file_state(
            record.id, F.DUPLICATE, detail={"duplicate_of": original.id}
        )
        self.progress.file_duplicate(record.name, original.name)
        log.info(
            "duplicate file answered, not resubmitted",
            extra=fields(file=record.name, original=original.name),
        )
        return await self._finish_moves(record, receipts=list(receipts))

    async def _fail_safely(self, record: FileRecord, exc: GatewayError) -> FileOutcome:
        """`_fail_file`, and if even that fails (the move to failed/ refused), the file
        stays where it is, unanswered: the next start or sweep tries again."""
        try:
            return await self._fail_file(record, exc)
        except JournalError:
            raise
        except Exception:
            log.exception(
                "cannot answer or move the failed file; tried again later",
                extra=fields(file=record.name),
            )
            return self._outcome(self.journal.file(record.id), answered=False)

    async def _fail_file(self, record: FileRecord, exc: GatewayError) -> FileOutcome:
        """Record the file as failed (with the error), then report and move it."""
        log.warning(
            "file unreadable; moved to failed/",
            extra=fields(file=record.name, error=exc.details()),
        )
        if record.state is not F.FAILED:
            entry = ErrorEntry.from_error(exc, Place(file=record.name))
            record = self.journal.set_file_state(record.id, F.FAILED, error=entry)
        receipts: list[Path] = []
        cases = self.journal.file_cases(record.id)
        # Cases recorded before the break that were not sent (none is, unless
        # runner.submit_while_mapping started them; one waiting for its attachments was
        # not sent either) end as failed, saying so, so that every case of the file is
        # answered in a receipt and none stays open. Cases already sent keep their state.
        # Paged by id, so ending cases while walking them neither skips nor repeats one.
        for case in cases:
            if case.state in (C.NEW, C.WAITING_ATTACHMENTS):
                entry = ErrorEntry(
                    exc.code,
                    "the file could not be read to its end; this case was not sent"
                    f" ({exc.message})",
                    place=case.place,
                )
                self.cases.end(case, C.FAILED, errors=[entry])
        counts = self.journal.case_counts(record.id)
        if counts and all(s in CASE_END_STATES for s, n in counts.items() if n):
            receipts = self._write_receipt(
                record.name, build_receipt(record, cases), self.inbox(record.inbox)
            )
        return await self._finish_moves(record, receipts=receipts)

    def _write_receipt(self, name: str, receipt: Receipt, inbox: InboxSettings) -> list[Path]:
        return outbox.write_receipt(
            self.settings.folders.outbox,
            name,
            receipt,
            inbox.receipt_formats,
            csv_encoding=inbox.receipt_csv_encoding,
            csv_delimiter=inbox.receipt_csv_delimiter,
            csv_neutralise_formulas=inbox.receipt_csv_neutralise_formulas,
        )

    def _error_report(self, record: FileRecord) -> list[Path]:
        """NAME.feil.json/.txt from the journal's record of the failure (same bytes on re-write)."""
        at = next(
            (
                t.at
                for t in reversed(self.journal.transitions("file", record.id))
                if t.to_state == "failed"
            ),
            record.updated_at,
        )
        report = build_error_report(record, at=at, moved_to=str(self.settings.folders.failed))
        return outbox.write_error_report(self.settings.folders.outbox, record.name, report)

    async def _finish_moves(
        self,
        record: FileRecord,
        *,
        receipts: list[Path] | None = None,
    ) -> FileOutcome:
        """Move an ended file out of work/ (archive or failed); idempotent after a crash."""
        receipts = list(receipts or [])
        path = Path(record.path) if record.path else None
        # An inbox on a share has its own work folder there (`inboxes[].work`).
        work_roots = [self.settings.folders.work.resolve()] + [
            i.work.resolve() for i in self.settings.inboxes if i.work is not None
        ]
        present = path is not None and _presence(path) == "present"
        if path is not None and present and any(_is_within(path, r) for r in work_roots):
            if record.state is F.FAILED:
                receipts += self._error_report(record)
                moved = move_to_failed(path, self.settings.folders.failed)
            else:
                moved = archive_file(
                    path,
                    self.settings.folders.archive,
                    now=self._clock(),
                    attachments=self._attachment_files(record, self.journal.file_cases(record.id)),
                )
            self.journal.set_file_path(record.id, moved)
            record = self.journal.file(record.id)
        return self._outcome(record, receipts=receipts)

    def _outcome(
        self, record: FileRecord, *, receipts: list[Path] | None = None, answered: bool = True
    ) -> FileOutcome:
        return FileOutcome(
            file=record,
            counts=self.journal.case_counts(record.id),
            receipts=list(receipts or []),
            answered=answered,
        )

    def _attachment_files(self, record: FileRecord, cases: Iterable[CaseRecord]) -> list[Path]:
        try:
            inbox = self.inbox(record.inbox)
        except InboxError:
            return []
        folders = [Path(record.path).parent if record.path else None, inbox.path]
        # A PDF another unfinished file still needs stays where it is (it is archived
        # with the last file that uses it).
        still_needed = {
            att.filnavn
            for other in self.journal.cases_in_states(*CASE_RESUMABLE, payloads=False)
            if other.file_id != record.id
            for att in attachments.attachments_of(other.source)
        }
        out: list[Path] = []
        for case in cases:
            for att in attachments.attachments_of(case.source):
                if att.filnavn in still_needed:
                    continue
                try:
                    hit = attachments.locate(
                        att.filnavn,
                        [f for f in folders if f is not None],
                        hard_links=inbox.attachments_allow_hard_links,
                    )
                except AttachmentError:
                    continue  # refused when the case ran; never moved either
                if hit is not None and hit[0] not in out:
                    out.append(hit[0])
        return out


class _CaseTasks:
    """The case tasks one caller started: their ids, and the first errors they raised."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.failures: list[BaseException] = []
        self._running: set[asyncio.Task[None]] = set()

    def add(self, case_id: int, work: Coroutine[object, object, None]) -> None:
        self.ids.add(case_id)
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures.append(task.exception())  # type: ignore[arg-type]  # not None: checked

    async def wait(self) -> None:
        await asyncio.gather(*self._running, return_exceptions=True)

    async def cancel(self) -> None:
        for task in self._running:
            task.cancel()
        await self.wait()


# A batch of cases recorded in one commit: up to this many, or what mapping built in this
# long (so a slow source's first cases are not held back waiting for a full batch).
RECORD_BATCH = 100
RECORD_SECONDS = 0.1


class _Batches:
    """A source's cases a batch at a time (called in the mapping thread).

    An error while reading ends the batch it broke: the cases built before it come out
    first (to be recorded and answered), and the error is raised on the next call.
    """

    def __init__(self, results: Iterator[CaseResult]) -> None:
        self._results = results
        self._error: BaseException | None = None

    def next(self) -> list[CaseResult]:
        """The next cases; [] at the source's end."""
        if self._error is not None:
            raise self._error
        batch: list[CaseResult] = []
        until = time.monotonic() + RECORD_SECONDS
        try:
            for result in self._results:
                batch.append(result)
                if len(batch) >= RECORD_BATCH or time.monotonic() >= until:
                    break
        except Exception as exc:
            if not batch:
                raise
            self._error = exc
        return batch


def internal(exc: BaseException) -> InternalError:
    """An unforeseen exception as a short, masked reason for a receipt (no traceback)."""
    text = mask(" ".join(str(exc).split()))
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(reason) > 200:
        reason = reason[:199] + "…"
    return InternalError(f"internal error ({reason}); the log has the details")


def _presence(path: Path) -> str:
    """ "present", "gone" (its folder is there, the file not) or "away" (no folder, or a
    dead share erroring on every call)."""
    try:
        if path.exists() or path.is_symlink():
            return "present"
        return "gone" if path.parent.is_dir() else "away"
    except OSError:
        return "away"


def _is_within(path: Path, root: Path) -> bool:
    # The folder is resolved, not the file: a claimed symlink must not lead elsewhere.
    try:
        path.parent.resolve().relative_to(root)
    except ValueError:
        return False
    return True
