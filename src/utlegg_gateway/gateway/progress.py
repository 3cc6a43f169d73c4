"""What `once` shows while it runs and when it ends.

On a terminal (`TerminalProgress`): one rich Live line per file,
`NAME  ████░░░░  accepted 3 · rejected 1 · failed 0 of 4`, what it is still waiting for
during the readiness window, log lines printed above (the logging handler writes through
the same Console), and a summary table at the end (`print_summary`).

Off a terminal (`JsonLinesProgress`, cron): one JSON line per file answered and per
receipt written, and a final summary line (`summary_line`), on stdout.

Names and paths are never cut mid-name: a file line that does not fit the width puts the
name on a line of its own, and the summary prints paths on their own lines.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from utlegg_gateway.errors import EXIT_MEANINGS
from utlegg_gateway.gateway.pipeline import FileOutcome, case_outcome
from utlegg_gateway.journal.sqlite import FileState

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

__all__ = [
    "OUTCOME_ORDER",
    "JsonLinesProgress",
    "ProgressTee",
    "RunSummary",
    "TerminalProgress",
    "counts_text",
    "print_summary",
    "summarise",
    "summary_line",
]

# The order outcomes are shown in; the first three always, the others when there are any.
OUTCOME_ORDER = ("accepted", "rejected", "failed", "duplicate", "open")
_ALWAYS = frozenset({"accepted", "rejected", "failed"})
_BAR_WIDTH = 12


def counts_text(counts: Counter[str], total: int | None) -> str:
    """`accepted 3 · rejected 1 · failed 0 of 4` (duplicate/open only when there are any)."""
    parts = [f"{o} {counts[o]}" for o in OUTCOME_ORDER if o in _ALWAYS or counts[o]]
    return " · ".join(parts) + f" of {'?' if total is None else total}"


def _outcome_counts(outcome: FileOutcome) -> Counter[str]:
    counts: Counter[str] = Counter()
    for state, n in outcome.counts.items():
        counts[case_outcome(state)] += n
    return counts


@dataclass
class _FileLine:
    """What the terminal shows for one file."""

    name: str
    waiting: str | None = None  # "to be 1 s old (3 s)" while the file is not claimed yet
    started: bool = False
    total: int | None = None
    counts: Counter[str] = field(default_factory=Counter)
    state: str | None = None  # the file's end state, once it has one
    duplicate_of: str | None = None
    answered: bool = True


def _state_note(line: _FileLine) -> str:
    if line.state is None:
        return ""
    if line.state == FileState.FAILED.value:
        return "unreadable, moved to failed/"
    if line.state == FileState.DONE.value:
        return "answered" if line.answered else "answer not written yet"
    if line.state == FileState.PROCESSING.value:
        return "left open for the next run"
    return line.state


class TerminalProgress:
    """The rich Live display of `once` on a terminal (see the module docstring)."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._files: dict[str, _FileLine] = {}
        # The refresh thread renders while the event loop updates.
        self._lock = threading.Lock()
        # One writer at a time on the terminal: the refresh and each log line. rich's own
        # refresh thread and a log line printed from another thread could interleave: the
        # log line then measured the live lines before they were first drawn, and was
        # written after them on the same line (seen once in tests/test_terminal.py).
        self._out = threading.RLock()
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self._live: Live | None = None

    def print(self, *objects: Any, **kw: Any) -> None:
        """Print above the live lines (what the logging handler calls)."""
        with self._out:
            self.console.print(*objects, **kw)

    def __enter__(self) -> TerminalProgress:
        from rich.live import Live

        # Live's own redirect would catch print(); our logs already go through print().
        self._live = Live(
            self,
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        with self._out:
            self._live.start(refresh=True)
        self._stop.clear()
        self._refresher = threading.Thread(
            target=self._refresh_loop, name="terminal-refresh", daemon=True
        )
        self._refresher.start()
        return self

    def _refresh_loop(self) -> None:
        while not self._stop.wait(0.25):  # 4 times a second, as rich's own thread did
            with self._out:
                if self._live is not None:
                    self._live.refresh()

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join()
            self._refresher = None
        with self._out:
            if self._live is not None:
                self._live.stop()
                self._live = None

    def _line(self, name: str) -> _FileLine:
        if name not in self._files:
            self._files[name] = _FileLine(name)
        return self._files[name]

    # -- ProgressSink ------------------------------------------------------------------

    def waiting(self, name: str, reason: str, seconds: float) -> None:
        """The file is seen but not ready: say for what, and for how long so far."""
        with self._lock:
            line = self._line(name)
            if not line.started:
                line.waiting = f"{reason} ({seconds:.0f} s)"

    def file_started(self, name: str) -> None:
        """The file was claimed: from now on its counts are shown."""
        with self._lock:
            line = self._line(name)
            line.started, line.waiting = True, None

    def cases_found(self, name: str, total: int) -> None:
        """Mapping found `total` cases so far."""
        with self._lock:
            self._line(name).total = total

    def case_finished(self, name: str, outcome: str) -> None:
        """One more case ended with `outcome`."""
        with self._lock:
            self._line(name).counts[outcome] += 1

    def file_duplicate(self, name: str, original: str) -> None:
        """The whole file is a duplicate: no bar, no counts (it is never `file_started`)."""
        with self._lock:
            line = self._line(name)
            line.started, line.waiting = True, None
            line.duplicate_of = original

    def file_finished(self, name: str, outcome: FileOutcome) -> None:
        """The file ended: its counts are now the journal's."""
        with self._lock:
            line = self._line(name)
            line.started, line.waiting = True, None
            line.state = outcome.file.state.value
            line.answered = outcome.answered
            if line.duplicate_of is None:
                line.counts = _outcome_counts(outcome)
                line.total = outcome.total

    # -- rendering ---------------------------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        with self._lock:
            lines = [_copy(line) for line in self._files.values()]
        for line in lines:
            yield from _render(line, options.max_width)


def _copy(line: _FileLine) -> _FileLine:
    return replace(line, counts=Counter(line.counts))


def _render(line: _FileLine, width: int) -> Iterator[Any]:
    """One file as rich Text lines: on one line when it fits, else the name on its own."""
    from rich.text import Text

    if not line.started:
        reason = line.waiting or ""
        whole = Text(f"waiting for {line.name} {reason}".rstrip(), style="yellow")
        if whole.cell_len <= width:
            yield whole
        else:
            yield Text(line.name, style="bold")
            yield Text(f"  waiting {reason}".rstrip(), style="yellow")
        return
    if line.duplicate_of is not None:
        rest = Text(f"duplicate of {line.duplicate_of}", style="cyan")
    else:
        done = sum(line.counts.values())
        if line.state is not None:
            filled = _BAR_WIDTH  # ended, whatever became of its cases
        elif not line.total:
            filled = 0  # nothing found yet: no progress to show
        else:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * done // line.total)
        rest = Text()
        rest.append("█" * filled, style="green" if line.state else "blue")
        rest.append("░" * (_BAR_WIDTH - filled), style="grey50")
        note = _state_note(line)
        if line.state is None or line.total:
            rest.append("  " + counts_text(line.counts, line.total))
            note = f" · {note}" if note else ""
        else:  # ended without a case (unreadable before its first one): only how
            note = f"  {note}"
        rest.append(note, style="red" if line.state == FileState.FAILED.value else "")
    name = Text(line.name, style="bold")
    if name.cell_len + 2 + rest.cell_len <= width:
        yield Text.assemble(name, "  ", rest)
    else:
        yield name
        yield Text.assemble("  ", rest)


# --- off a terminal ---------------------------------------------------------------------


class JsonLinesProgress:
    """One JSON line per file answered and per receipt written, to `stream` (stdout)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._duplicates: dict[str, str] = {}

    def _emit(self, data: dict[str, Any]) -> None:
        self._stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        self._stream.flush()  # cron and `| tee` see each line as it happens

    def waiting(self, name: str, reason: str, seconds: float) -> None:
        """Not a line of its own: the log says it once per file."""

    def file_started(self, name: str) -> None:
        """Nothing until the file is answered."""

    def cases_found(self, name: str, total: int) -> None:
        """Nothing until the file is answered."""

    def case_finished(self, name: str, outcome: str) -> None:
        """Nothing until the file is answered."""

    def file_duplicate(self, name: str, original: str) -> None:
        """Remembered for the file's line."""
        self._duplicates[name] = original

    def file_finished(self, name: str, outcome: FileOutcome) -> None:
        """The file's line, then one line per receipt or error report written for it."""
        counts = _outcome_counts(outcome)
        self._emit(
            {
                "event": "file",
                "file": name,
                "inbox": outcome.file.inbox,
                "state": outcome.file.state.value,
                "answered": outcome.answered,
                "cases": {o: counts[o] for o in OUTCOME_ORDER},
                "total": outcome.total,
                "duplicate_of": self._duplicates.get(name),
            }
        )
        for path in outcome.receipts:
            self._emit({"event": "receipt", "file": name, "path": str(path)})


class ProgressTee:
    """Every progress call to each of `sinks` (the terminal and JSON lines at once)."""

    def __init__(self, *sinks: Any) -> None:
        self._sinks = sinks

    def waiting(self, name: str, reason: str, seconds: float) -> None:
        """To each sink."""
        for sink in self._sinks:
            sink.waiting(name, reason, seconds)

    def file_started(self, name: str) -> None:
        """To each sink."""
        for sink in self._sinks:
            sink.file_started(name)

    def cases_found(self, name: str, total: int) -> None:
        """To each sink."""
        for sink in self._sinks:
            sink.cases_found(name, total)

    def case_finished(self, name: str, outcome: str) -> None:
        """To each sink."""
        for sink in self._sinks:
            sink.case_finished(name, outcome)

    def file_duplicate(self, name: str, original: str) -> None:
        """To each sink."""
        for sink in self._sinks:
            sink.file_duplicate(name, original)

    def file_finished(self, name: str, outcome: FileOutcome) -> None:
        """To each sink."""
        for sink in self._sinks:
            sink.file_finished(name, outcome)


# --- the end of a run -------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """What a `once` run did, counted: for the summary table and the summary JSON line."""

    files: dict[str, int]  # by end state (done, duplicate, failed, processing)
    cases: dict[str, int]  # by outcome (OUTCOME_ORDER)
    receipts: int
    outbox: Path
    failed_folder: Path | None  # where unreadable files went, when there were any
    exit_code: int
    # `once --followup`: status changes, letters and errors of the round after.
    followup: dict[str, int] | None = None

    @property
    def meaning(self) -> str:
        """What the exit code says (errors.EXIT_MEANINGS)."""
        return EXIT_MEANINGS.get(self.exit_code, "")

    def to_json(self) -> dict[str, Any]:
        """The summary line's fields."""
        return {
            "event": "summary",
            "files": self.files,
            "cases": self.cases,
            "receipts": self.receipts,
            "outbox": str(self.outbox),
            "failed_folder": None if self.failed_folder is None else str(self.failed_folder),
            "followup": self.followup,
            "exit_code": self.exit_code,
            "meaning": self.meaning,
        }


def summarise(
    outcomes: Iterable[FileOutcome],
    *,
    exit_code: int,
    outbox: Path,
    failed: Path,
    followup: dict[str, int] | None = None,
) -> RunSummary:
    """Count files by state and cases by outcome (a duplicate file's cases are the
    original's and are not counted again)."""
    files: Counter[str] = Counter()
    cases: Counter[str] = Counter()
    receipts = 0
    for outcome in outcomes:
        files[outcome.file.state.value] += 1
        cases.update(_outcome_counts(outcome))
        receipts += len(outcome.receipts)
    return RunSummary(
        files=dict(sorted(files.items())),
        cases={o: cases[o] for o in OUTCOME_ORDER},
        receipts=receipts,
        outbox=outbox,
        failed_folder=failed if files[FileState.FAILED.value] else None,
        exit_code=exit_code,
        followup=followup,
    )


def summary_line(summary: RunSummary) -> str:
    """The final JSON line off a terminal."""
    return json.dumps(summary.to_json(), ensure_ascii=False)


def print_summary(console: Console, summary: RunSummary) -> None:
    """The summary table, then the folders each on a line of its own (never cut)."""
    from rich.table import Table

    table = Table(title="utlegg-gateway once", title_justify="left", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("count", overflow="fold")
    total_files = sum(summary.files.values())
    by_state = " · ".join(f"{state} {n}" for state, n in summary.files.items())
    table.add_row("files", f"{total_files}" + (f": {by_state}" if by_state else ""))
    shown = [o for o in OUTCOME_ORDER if o in _ALWAYS or summary.cases[o]]
    by_outcome = " · ".join(f"{o} {summary.cases[o]}" for o in shown)
    table.add_row("cases", f"{sum(summary.cases.values())}: {by_outcome}")
    table.add_row("receipts", f"{summary.receipts} written (see below)")
    if summary.followup is not None:
        f = summary.followup
        table.add_row(
            "follow-up",
            f"{f['status_changes']} status change(s) · {f['letters']} letter(s) · "
            f"{f['errors']} error(s)",
        )
    table.add_row("exit code", f"{summary.exit_code}: {summary.meaning}")
    console.print(table)
    console.print("receipts and error reports are in:")
    console.print(f"  {summary.outbox}", overflow="fold", highlight=False)
    if summary.failed_folder is not None:
        console.print("unreadable files were moved to:")
        console.print(f"  {summary.failed_folder}", overflow="fold", highlight=False)
