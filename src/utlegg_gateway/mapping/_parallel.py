"""A big file mapped on every core: N worker processes, the cases in the file's order.

Chunk `i` of 64 cases is built (and checked) by worker `i % N`, and the caller takes the
chunks back in that order, so the results are exactly those of the one-process path, in
the same order. How a worker gets its cases depends on the source:

- **Rows** (CSV, record-type, fixed-width): the caller reads the file once, in a thread
  of its own, and sends each chunk's rows to its worker. Reading a row file is the
  costly part of the workers' overhead (a CSV past 50,000 rows: 177 µs per case to group
  through sorted runs, against ~1 ms to build and check it), and the grouping's memory
  and temporary runs are then held once, not once per worker.
- **XML**: each worker reads the whole file and builds only its own chunks. An lxml
  element cannot be sent, and what a case means may depend on what came before it (the
  batch header kept in the tree, the first readable record); reading costs 26 µs a case.

Nothing is lost to a worker: when one stops early (a file error, a bug, a kill), the
caller carries on in its own process from the first case not yet handed out, so the same
error is raised by the same code as without workers. Workers have no side effects: no
journal, no network, no file written (a row file's sorted runs are the caller's).

A worker is `python -m utlegg_gateway.mapping._worker`, its job pickled on stdin and its
chunks pickled on stdout, not a `multiprocessing` child: that would run the parent's
`__main__` again in each worker (`python -m utlegg_gateway` would start the CLI anew),
and a forked copy of the daemon could inherit a lock held by one of its threads. Full
pipes hold the reader and the workers back when the caller is slow (the gateway sends
~40 cases/s, a worker builds several hundred), and a worker whose parent is gone dies
on its next read or write.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from utlegg_gateway.mapping.engine import Scope
    from utlegg_gateway.mapping.results import CaseIssue, CaseResult, SourceLocation
    from utlegg_gateway.mapping.spec import MappingSpec
    from utlegg_gateway.provning import ProvingContext

__all__ = ["CHUNK_CASES", "PARALLEL_MIN_BYTES", "Workers", "parallel_results", "workers_for"]

# Cases per message: large enough that pickling is a small share, small enough that the
# first case reaches the caller a few tenths of a second after the workers are up.
CHUNK_CASES = 64
# `auto` starts workers only from this size: a worker costs a fresh interpreter importing
# lxml and pydantic, which a file of a few thousand cases repays.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

Workers = int | Literal["auto"]


def workers_for(path: Path, setting: Workers) -> int:
    """How many processes map `path`: the setting, or with `auto` every core for a big file."""
    if setting != "auto":
        return max(1, setting)
    try:
        size = path.stat().st_size
    except OSError:
        return 1  # the mapping itself reports the unreadable file
    if size < PARALLEL_MIN_BYTES:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


@dataclass(frozen=True, slots=True)
class Job:
    """What one worker builds: its share of the cases of one file, under one mapping."""

    path: Path
    spec_path: Path
    text: str  # the mapping's YAML, so the worker compiles exactly the caller's spec
    version: str | None
    ctx: ProvingContext | None  # None: build only, no prøving (`build_file`)
    index: int
    count: int
    chunk: int
    # True: the cases come on stdin after the job, chunk by chunk (row sources); False:
    # the worker reads the file itself and builds every count-th chunk from `index` (XML).
    sent: bool = False


# (kind, number, results): ("chunk", chunk number, its cases), ("end", cases in the file
# or -1 when they were sent, []), ("error", where the worker stopped, []).
Message = tuple[str, int, list["CaseResult"]]
# What `_cases` gives for one case, sent to a worker: (scope, key, location, issues).
Case = tuple["Scope", str, "SourceLocation", list["CaseIssue"]]


def parallel_results(
    path: Path,
    spec: MappingSpec,
    ctx: ProvingContext | None,
    workers: int,
    *,
    chunk: int = CHUNK_CASES,
) -> Generator[CaseResult, None, None]:
    """The results of `map_file` (or `build_file` with ctx None), built by `workers` processes."""
    from utlegg_gateway.mapping import _results_from

    procs: list[subprocess.Popen[bytes]] = []
    sent = spec.kind != "xml"
    feeder: _Feeder | None = None
    handed = 0
    try:
        for index in range(workers):
            job = Job(
                path, spec.path, spec.text, spec.model_version, ctx, index, workers, chunk, sent
            )
            procs.append(_start(job))
        if sent:
            feeder = _Feeder(path, spec, procs, chunk)
            feeder.start()
        number = 0
        while True:
            message = _receive(procs[number % workers])
            if message is None:
                break  # the worker is gone without a word: carry on here
            kind, value, results = message
            if kind == "end":
                if feeder is not None:
                    feeder.join()
                    value = feeder.cases if feeder.complete else -1
                if value == handed:
                    return
                break
            if kind != "chunk" or value != number:
                break
            for result in results:
                yield result
                handed += 1
            number += 1
    finally:
        _stop(procs)
        if feeder is not None:
            feeder.join()
    # The same cases, read and skipped up to where the workers stopped, built from there.
    yield from _results_from(path, spec, ctx, handed)


class _Feeder(threading.Thread):
    """Reads a row file once and sends chunk `i` of its cases to worker `i % N`."""

    def __init__(
        self, path: Path, spec: MappingSpec, procs: list[subprocess.Popen[bytes]], chunk: int
    ) -> None:
        super().__init__(name="utlegg-map-feeder", daemon=True)
        self._path, self._spec, self._procs, self._chunk = path, spec, procs, chunk
        self.cases = 0
        self.complete = False  # read to its end without an error

    def run(self) -> None:
        from utlegg_gateway.mapping import _cases

        pipes = [proc.stdin for proc in self._procs]
        batch: list[Case] = []
        number = 0
        try:
            with contextlib.closing(_cases(self._path, self._spec)) as cases:
                for case in cases:
                    batch.append(case)
                    if len(batch) == self._chunk:
                        self._send(pipes[number % len(pipes)], number, batch)
                        self.cases += len(batch)
                        batch, number = [], number + 1
            if batch:
                self._send(pipes[number % len(pipes)], number, batch)
                self.cases += len(batch)
            self.complete = True
        except Exception:
            # A worker gone (or stopped), or the file broken: not complete, so the caller
            # reads the file again itself from its first case not handed out, and meets
            # the same error there.
            self.complete = False
        finally:
            for pipe in pipes:
                with contextlib.suppress(OSError, ValueError):
                    assert pipe is not None
                    pipe.close()

    def _send(self, pipe: IO[bytes] | None, number: int, batch: list[Case]) -> None:
        assert pipe is not None
        pickle.dump((number, batch), pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pipe.flush()


def _start(job: Job) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    # The worker imports this very package, also when it runs from a source tree.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "utlegg_gateway.mapping._worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        # Ctrl-C at a terminal goes to the whole group: the caller decides, and stops them.
        start_new_session=True,
    )
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        pickle.dump(job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.flush()
        if not job.sent:
            proc.stdin.close()
    return proc


def _receive(proc: subprocess.Popen[bytes]) -> Message | None:
    """The worker's next message, None once it has ended without one (or sent half)."""
    assert proc.stdout is not None
    # A chunk is thousands of new dicts and lists, and each allocation counts towards a
    # cyclic-GC pass over everything the caller holds: with GC on, unpickling took 5×
    # as long (measured: 217 against 39 µs per case with 2,000 results held). A chunk
    # holds no cycles, so nothing is left for the collector to find.
    collecting = gc.isenabled()
    gc.disable()
    try:
        message: Message = pickle.load(proc.stdout)  # noqa: S301  (our own child, over its own pipe)
    except (EOFError, pickle.UnpicklingError, OSError, ValueError):
        return None
    finally:
        if collecting:
            gc.enable()
    return message


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: the worker stops where it is and exits
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class _Stopped(BaseException):
    """SIGTERM from the caller, or its end of the pipe closed."""


def worker_main() -> None:
    """A worker process: read the job from stdin, send this worker's chunks to stdout."""

    def stopped(_signum: int, _frame: object) -> None:
        raise _Stopped

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    # Nothing else may write to the pipe the caller unpickles from.
    sys.stdout = sys.stderr
    source = sys.stdin.buffer
    job: Job = pickle.load(source)  # noqa: S301  (our parent, over our own stdin)
    with contextlib.suppress(_Stopped, BrokenPipeError):
        if job.sent:
            build_sent(job, source, out)
        else:
            build_share(job, out)
        # Done and cleaned up: a SIGTERM from here on may simply end the process.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(BrokenPipeError, OSError):
        out.close()


def build_share(job: Job, out: IO[bytes]) -> None:
    """Build the job's chunks of the file's cases and write each as one message."""
    from utlegg_gateway.mapping import _build, _cases
    from utlegg_gateway.mapping.spec import load_mapping

    def send(message: Message) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    position = 0
    batch: list[CaseResult] = []
    current = -1
    try:
        spec = load_mapping(job.spec_path, version=job.version, text=job.text)
        for scope, key, source, pre in _cases(job.path, spec):
            number = position // job.chunk
            if number % job.count == job.index:
                current = number
                batch.append(_build(spec, scope, key, source, ctx=job.ctx, pre=pre))
                if len(batch) == job.chunk:
                    send(("chunk", number, batch))
                    batch = []
            position += 1
    except Exception:
        # The caller carries on from here in its own process and meets the same error.
        if batch:
            send(("chunk", current, batch))
        send(("error", position, []))
        return
    if batch:
        send(("chunk", current, batch))
    send(("end", position, []))


def build_sent(job: Job, source: IO[bytes], out: IO[bytes]) -> None:
    """Build each chunk of cases the caller sends, until it closes the pipe."""
    from utlegg_gateway.mapping import _build
    from utlegg_gateway.mapping.spec import load_mapping

    def send(message: Message) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        spec = load_mapping(job.spec_path, version=job.version, text=job.text)
        while True:
            try:
                number, cases = pickle.load(source)  # noqa: S301  (our parent's pipe)
            except EOFError:
                break
            results = [
                _build(spec, scope, key, where, ctx=job.ctx, pre=pre)
                for scope, key, where, pre in cases
            ]
            send(("chunk", number, results))
    except Exception:
        send(("error", -1, []))  # the caller builds from its first case not handed out
        return
    send(("end", -1, []))
