"""A big file mapped on every core: N worker processes, the cases in the file's order.

Each worker reads the whole file and builds (and checks) only every N-th chunk of cases;
chunk `i` is worker `i % N`'s, and the caller gets chunk after chunk in that order, so the
results are exactly those of the one-process path, in the same order. Why every worker
reads the whole file: what a case means can depend on what came before it (the XML batch
header kept in the tree, the grouping of CSV rows, the first readable record), and
reading costs a few per cent of building and checking a case, so nothing has to ship
lxml elements or row groups between processes.

Nothing is lost to a worker: when one stops early (a file error, a bug, a kill), the
caller carries on in its own process from the first case not yet handed out, so the same
error is raised by the same code as without workers. Workers have no side effects (no
journal, no network, no file but the CSV grouping's temporary index).

A worker is `python -m utlegg_gateway.mapping._worker`, its job pickled on stdin and its
chunks pickled on stdout, not a `multiprocessing` child: that would run the parent's
`__main__` again in each worker (`python -m utlegg_gateway` would start the CLI anew),
and a forked copy of the daemon could inherit a lock held by one of its threads. A full
pipe holds a worker back when the caller is slow (the gateway sends ~40 cases/s, a
worker builds several hundred), and a worker whose parent is gone dies on its next write.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from utlegg_gateway.mapping.results import CaseResult
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


# (kind, number, results): ("chunk", chunk number, its cases), ("end", cases in the file,
# []), ("error", the position of the case where the worker stopped, []).
Message = tuple[str, int, list["CaseResult"]]


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
    handed = 0
    try:
        for index in range(workers):
            job = Job(path, spec.path, spec.text, spec.model_version, ctx, index, workers, chunk)
            procs.append(_start(job))
        number = 0
        while True:
            message = _receive(procs[number % workers])
            if message is None:
                break  # the worker is gone without a word: carry on here
            kind, value, results = message
            if kind == "end" and value == handed:
                return
            if kind != "chunk" or value != number:
                break
            for result in results:
                yield result
                handed += 1
            number += 1
    finally:
        _stop(procs)
    # The same cases, read and skipped up to where the workers stopped, built from there.
    yield from _results_from(path, spec, ctx, handed)


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
            proc.terminate()  # SIGTERM: the worker removes its temporary index and exits
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
    job: Job = pickle.load(sys.stdin.buffer)  # noqa: S301  (our parent, over our own stdin)
    with contextlib.suppress(_Stopped, BrokenPipeError):
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
