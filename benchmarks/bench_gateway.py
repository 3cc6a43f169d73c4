"""Gateway benchmark: drop→receipt latency and cases/s against the sandbox with injected latency.

    .venv/bin/python benchmarks/bench_gateway.py [--files 20] [--cases 1000] [--latency 0.05]

`--files 0` skips the latency part.

1. Latency: the daemon (`utlegg-gateway run`, a subprocess) watches an inbox with a
   native observer and no stability window (drops are temp-name + rename, so the rename
   is the readiness signal). Single-case files are dropped one at a time; the time from
   the rename to the receipt appearing is measured (p50 / p95).
2. Throughput, issue 15 goal 1, against two sandboxes (each its own process): one whose
   upload reply carries the attachment's state, one whose does not (the attachment-status
   call required). Against each, with every upload, attachment-status and submit call
   slowed to `--latency` s (the sandbox's `latency:` action, its work inside the time;
   `--fault delay` for the older `delay:`, work after it): one file of N cases through
   `utlegg-gateway once` (a subprocess; cases/s from the journal, first case recorded →
   last case ended), then
   the stripped-down ideal client (`ideal_client.py`, a subprocess) over the same mapped
   cases (first call → last answer). The sandbox is reset before each client, so each
   is counted alone and neither meets the other's cases. Ceiling: 5 calls in flight /
   (the ideal client's delayed calls per case as the sandbox counted them × latency),
   i.e. the minimal call pattern. Also shown per client: its span as the sandbox saw
   it (first upload → last submit received), calls per case, the calls in flight
   sampled from the admin stats every 50 ms, and the client process's CPU time (user +
   system, its start-up and mapping included) per case.

The sandbox runs in its own process, so it does not share the gateway's interpreter.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e._support import MAPPINGS, drop_attachments, make_batch  # noqa: E402

from utlegg_gateway.demo import write_gateway_config  # noqa: E402

_SANDBOX = """
import sys, json
from pathlib import Path
from utlegg_gateway.sandbox import SandboxOptions, running_sandbox, write_credentials
kw = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(sys.argv[3]).items()}
creds = write_credentials(Path(sys.argv[1]), **kw)
options = SandboxOptions(scanning_seconds=0.0, **json.loads(sys.argv[2]))
with running_sandbox(options, credentials=[creds], fast=True) as sb:
    print(json.dumps({"url": sb.url, "issuer": sb.issuer, "token_endpoint": sb.token_endpoint,
                      "elan_base_url": sb.elan_base_url, "client_id": creds.client_id,
                      "orgnr": creds.orgnr, "pkcs12_file": str(creds.pkcs12_file),
                      "password_file": str(creds.password_file)}), flush=True)
    sys.stdin.read()
"""


class _Obj:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


# The two sandbox configurations of issue 15 goal 1: the attachment's state in the upload
# reply (no status call needed), and not (the attachment-status call required).
SANDBOXES: dict[str, dict[str, Any]] = {
    "state in upload reply": {"upload_reply_status": True},
    "status call required": {"upload_reply_status": False},
}


def _start_sandbox(
    root: Path, options: dict[str, Any], credentials: dict[str, Any] | None = None
) -> tuple[subprocess.Popen[str], _Obj, _Obj]:
    """The sandbox (fast: httptools, uvloop) in a process of its own, so that it does not
    share the client's GIL; `options` for SandboxOptions, `credentials` for
    write_credentials. Ends when the returned process's stdin is closed."""
    try:
        import httptools  # noqa: F401 - only checked for: the sandbox subprocess imports them
        import uvloop  # noqa: F401
    except ImportError:
        sys.exit("the benchmark's sandbox needs the bench extra: pip install -e '.[dev,bench]'")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SANDBOX,
            str(root / "creds"),
            json.dumps(options),
            json.dumps(credentials or {}),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    sandbox = _Obj(**info)
    creds = _Obj(
        client_id=info["client_id"],
        orgnr=info["orgnr"],
        pkcs12_file=info["pkcs12_file"],
        password_file=info["password_file"],
    )
    return proc, sandbox, creds


def _admin(url: str) -> Any:
    from utlegg_gateway.sandbox import SandboxAdmin

    return SandboxAdmin(url)


def _archived(journal: Path, name: str) -> bool:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT path FROM files WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return bool(row and row[0] and "/archive/" in row[0])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(root: Path, sandbox: _Obj, creds: _Obj, files: int) -> dict[str, float]:
    """Drop single-case files one by one into a running daemon; rename → receipt times."""
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=creds,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.0,
        observer="native",
        extra={"health": {"enabled": False}},
    )
    inbox = root / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    staging = root / "staging"
    staging.mkdir()
    log = (root / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "utlegg_gateway", "run", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    times: list[float] = []
    try:
        journal = root / "state" / "journal.sqlite3"
        while not journal.exists():
            time.sleep(0.01)
        for n in range(files):
            name = f"utlegg_2026{n:04d}_000000.csv"
            make_batch(1, staging / name, prefix=f"IB-LAT-{n:04d}-")
            # The attachment must stay in the inbox for every file: copy it back each time.
            drop_attachments("csv-krav", inbox)
            receipt = root / "outbox" / f"{name}.kvittering.json"
            started = time.perf_counter()
            (staging / name).replace(inbox / name)
            while not receipt.exists():
                if daemon.poll() is not None:
                    raise RuntimeError((root / "daemon.log").read_text())
                time.sleep(0.002)
            times.append(time.perf_counter() - started)
            statuses = {c["status"] for c in json.loads(receipt.read_text())["cases"]}
            if statuses != {"accepted"}:
                raise RuntimeError(f"{name}: {receipt.read_text()}")
            # Wait until the original and its PDF are archived (the journal records the
            # archive path last) before the next drop brings the same PDF name again.
            while not _archived(journal, name):
                time.sleep(0.002)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
    return {
        "files": files,
        "p50": statistics.median(times),
        "p95": _pct(times, 0.95),
        "max": max(times),
    }


DELAYED = ("upload", "attachment_status", "submit")


class _InFlight:
    """Samples the sandbox's ELAN calls in flight (admin stats) every `every` s, in a thread."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        self._admin = _admin(url)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[int] = []

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append(sum(self._admin.stats()["in_flight"].values()))

    def __enter__(self) -> _InFlight:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._admin.close()

    def summary(self) -> dict[str, Any]:
        """Mean in flight and the share of samples at 5, between the first and last busy one."""
        busy = [i for i, n in enumerate(self.samples) if n]
        window = self.samples[busy[0] : busy[-1] + 1] if busy else []
        return {
            "samples": len(window),
            "mean_in_flight": statistics.fmean(window) if window else 0.0,
            "share_at_5": sum(n >= 5 for n in window) / len(window) if window else 0.0,
        }


def _measured(
    sandbox: _Obj, latency: float, cases: int, run: Callable[[], float | None], fault: str
) -> dict[str, Any]:
    """Run `run` (its own span in s, or None) against a fresh sandbox with delayed calls;
    the sandbox's count of calls, its own span (first upload → last submit) and in-flight."""
    admin = _admin(sandbox.url)
    admin.reset()  # forget the other client's cases (no DUPLIKAT) and count afresh
    delay = {"probability": 1.0, "actions": [f"{fault}:{latency}"]}
    admin.set_faults(dict.fromkeys(DELAYED, delay))
    with _InFlight(sandbox.url) as sampler:
        span = run()
    stats = admin.stats()
    uploads = [u["received_at"] for u in admin.uploads()]
    submits = [s["received_at"] for s in admin.submissions() if s["operation"] == "submit"]
    admin.clear_faults()
    admin.close()
    calls = {k: v for k, v in stats["calls"].items() if k != "token"}
    delayed = sum(calls.get(k, 0) for k in DELAYED)
    return {
        "span_seconds": span,
        "sandbox_span_seconds": max(submits) - min(uploads),
        "submits": len(submits),
        "calls": calls,
        "delayed_per_case": delayed / cases,
        "calls_per_case": sum(calls.values()) / cases,
        "max_in_flight": stats["max_concurrency_seen"],
        "refused_for_concurrency": stats["rejected_concurrency"],
        # The sandbox's own time per call, from its handler's start to its answer.
        "ms_handler_per_call": 1000
        * sum(v for k, v in stats["handler_seconds"].items() if k != "token")
        / sum(calls.values()),
        "ms_handler_per_delayed_call": 1000
        * sum(stats["handler_seconds"].get(k, 0.0) for k in DELAYED)
        / delayed,
        **sampler.summary(),
    }


def bench_throughput(
    root: Path, sandbox: _Obj, creds: _Obj, cases: int, latency: float, *, fault: str = "latency"
) -> dict[str, Any]:
    """One file of `cases` cases through `once`, then the ideal client over the same cases,
    each with `latency` s on every upload, attachment-status and submit call (the sandbox's
    `fault` action: `latency` answers that long after arrival with the work inside it,
    `delay` waits that long from arrival and then does the work)."""
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=creds,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.0,
        extra={"runner": {"max_cases_in_flight": 50}},
    )
    inbox = root / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    data = inbox / "utlegg_20260301_020000.csv"
    make_batch(cases, data, prefix="IB-THR-")
    # The ideal client's copy of the same file and PDFs (the gateway moves its own away).
    ideal_dir = root / "ideal"
    shutil.copytree(inbox, ideal_dir)

    cpu: dict[str, float] = {}

    def command(*args: str) -> str:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, cwd=root, check=False
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The client process's own CPU (user + system), start-up and mapping included.
        cpu["seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-4000:])
        return done.stdout

    def gateway() -> None:
        command("-m", "utlegg_gateway", "once", "--config", str(config))

    client_side: dict[str, float] = {}

    def ideal() -> float:
        client = str(Path(__file__).with_name("ideal_client.py"))
        out = command(client, str(config), str(ideal_dir / data.name), "--inbox", "csv-krav")
        result = json.loads(out)
        if result["accepted"] != cases:
            raise RuntimeError(f"ideal client: {result}")
        span: float = result["span_seconds"]
        # Calls in flight as the client saw them: its slot time over the span.
        client_side["mean_in_flight_client"] = result["in_slot_seconds"] / span
        client_side["ms_per_call_client"] = (
            result["in_slot_seconds"] / sum(result["calls"].values()) * 1000
        )
        return span

    gw = _measured(sandbox, latency, cases, gateway, fault)
    gw["cpu_ms_per_case"] = cpu["seconds"] * 1000 / cases
    conn = sqlite3.connect(root / "state" / "journal.sqlite3")
    first, last, accepted = conn.execute(
        "SELECT MIN(created_at), MAX(finished_at), SUM(state = 'accepted') FROM cases"
    ).fetchone()
    conn.close()
    if accepted != cases:
        raise RuntimeError(f"gateway: {accepted} of {cases} accepted")
    gw["span_seconds"] = (
        datetime.fromisoformat(last) - datetime.fromisoformat(first)
    ).total_seconds()
    best = _measured(sandbox, latency, cases, ideal, fault) | client_side
    best["cpu_ms_per_case"] = cpu["seconds"] * 1000 / cases
    # The ceiling from the minimal call pattern: the delayed calls the sandbox counted
    # for the ideal client, 5 in flight / (calls per case × latency).
    ceiling = 5 / (best["delayed_per_case"] * latency)
    for run in (gw, best):
        run["cases_per_second"] = cases / run["span_seconds"]
        run["sandbox_cases_per_second"] = cases / run["sandbox_span_seconds"]
        run["share_of_ceiling"] = run["cases_per_second"] / ceiling
        # How long a call stays in flight at the sandbox, on average (Little's law).
        run["ms_per_call"] = (
            run["mean_in_flight"] * run["sandbox_span_seconds"] / sum(run["calls"].values()) * 1000
        )
    return {
        "cases": cases,
        "latency": latency,
        "ceiling_cases_per_second": ceiling,
        "gateway": gw,
        "ideal": best,
        "gateway_over_ideal": gw["cases_per_second"] / best["cases_per_second"],
    }


def main() -> None:
    """Run the measurements and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20, help="0: skip the latency part")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--fault",
        choices=("latency", "delay"),
        default="latency",
        help="the sandbox action that slows the calls: latency (the server's work inside "
        "the time, as a real server's) or delay (the work after it, stop 33's runs)",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    results: dict[str, dict[str, Any]] = {}
    lat = None
    for label, options in SANDBOXES.items():
        proc, sandbox, creds = _start_sandbox(root / label, options)
        try:
            if lat is None and args.files:
                lat = bench_latency(root / label / "latency", sandbox, creds, args.files)
            results[label] = bench_throughput(
                root / label / "throughput",
                sandbox,
                creds,
                args.cases,
                args.latency,
                fault=args.fault,
            )
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    if lat is not None:
        ms = {k: lat[k] * 1000 for k in ("p50", "p95", "max")}
        print(
            f"drop→receipt, single-case files (n={lat['files']}): p50 {ms['p50']:.0f} ms, "
            f"p95 {ms['p95']:.0f} ms, max {ms['max']:.0f} ms\n"
        )
    print(
        f"{args.cases}-case file, {args.fault}:{args.latency} on every upload, "
        "attachment-status and submit call; ceiling = 5 / (the ideal client's delayed "
        "calls per case, as the sandbox counted them, × latency)\n"
    )
    print(
        "| sandbox | client | cases/s | cases/s (sandbox span) | delayed calls/case "
        "| all ELAN calls/case | ceiling cases/s | share of ceiling | gateway / ideal "
        "| mean in flight | samples at 5 | ms in flight per call | client CPU ms/case |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, thr in results.items():
        for who in ("gateway", "ideal"):
            r = thr[who]
            ratio = f"{thr['gateway_over_ideal'] * 100:.0f} %" if who == "gateway" else ""
            print(
                f"| {label} | {who} | {r['cases_per_second']:.1f} "
                f"| {r['sandbox_cases_per_second']:.1f} | {r['delayed_per_case']:.2f} "
                f"| {r['calls_per_case']:.2f} | {thr['ceiling_cases_per_second']:.1f} "
                f"| {r['share_of_ceiling'] * 100:.0f} % | {ratio} "
                f"| {r['mean_in_flight']:.2f} | {r['share_at_5'] * 100:.0f} % "
                f"| {r['ms_per_call']:.1f} | {r['cpu_ms_per_case']:.1f} |"
            )
    for label, thr in results.items():
        r = thr["ideal"]
        print(
            f"\nideal client, {label}: {r['mean_in_flight_client']:.2f} calls in flight on "
            f"average as the client saw them, {r['ms_per_call_client']:.1f} ms per call "
            "(request out → answer read, in its slot); the sandbox's handlers took "
            f"{r['ms_handler_per_call']:.1f} ms per call "
            f"({r['ms_handler_per_delayed_call']:.1f} ms per delayed call)"
        )
        g = thr["gateway"]
        print(
            f"gateway, {label}: the sandbox's handlers took {g['ms_handler_per_call']:.1f} ms "
            f"per call ({g['ms_handler_per_delayed_call']:.1f} ms per delayed call)"
        )
    print(f"\n{json.dumps(results)}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
