"""Gateway benchmark: drop→receipt latency and cases/s against the sandbox with injected latency.

    .venv/bin/python benchmarks/bench_gateway.py [--files 20] [--cases 1000] [--latency 0.05]

1. Latency: the daemon (`utlegg-gateway run`, a subprocess) watches an inbox with a
   native observer and no stability window (drops are temp-name + rename, so the rename
   is the readiness signal). Single-case files are dropped one at a time; the time from
   the rename to the receipt appearing is measured (p50 / p95).
2. Throughput: one file of N cases through `utlegg-gateway once` (a subprocess) while
   the sandbox delays every upload, attachment-status and submit call by `--latency`
   seconds. Cases/s is taken from the journal (first case recorded → last case ended),
   so interpreter start-up is not counted; the wall time of the whole run is shown too.
   Ceiling: at most 5 ELAN calls in flight and the delayed calls (upload, status, submit)
   the sandbox counted per case in this run: 5 / (calls per case × latency) cases/s.

The sandbox runs in its own process, so it does not share the gateway's interpreter.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
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
creds = write_credentials(Path(sys.argv[1]))
with running_sandbox(SandboxOptions(scanning_seconds=0.0), credentials=[creds]) as sb:
    print(json.dumps({"url": sb.url, "issuer": sb.issuer, "token_endpoint": sb.token_endpoint,
                      "elan_base_url": sb.elan_base_url, "client_id": creds.client_id,
                      "orgnr": creds.orgnr, "pkcs12_file": str(creds.pkcs12_file),
                      "password_file": str(creds.password_file)}), flush=True)
    sys.stdin.read()
"""


class _Obj:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _start_sandbox(root: Path) -> tuple[subprocess.Popen[str], _Obj, _Obj]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SANDBOX, str(root / "creds")],
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


def bench_throughput(
    root: Path, sandbox: _Obj, creds: _Obj, cases: int, latency: float
) -> dict[str, Any]:
    """One file of `cases` cases through `once` with `latency` s on every ELAN call."""
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
    make_batch(cases, inbox / "utlegg_20260301_020000.csv", prefix="IB-THR-")
    admin = _admin(sandbox.url)
    before = dict(admin.stats()["calls"])
    delay = {"probability": 1.0, "actions": [f"delay:{latency}"]}
    admin.set_faults({"upload": delay, "attachment_status": delay, "submit": delay})
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", "once", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    wall = time.perf_counter() - started
    stats = admin.stats()
    admin.clear_faults()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-4000:])
    conn = sqlite3.connect(root / "state" / "journal.sqlite3")
    first, last, accepted = conn.execute(
        "SELECT MIN(created_at), MAX(finished_at), SUM(state = 'accepted') FROM cases"
    ).fetchone()
    conn.close()
    span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    # The ceiling from the delayed calls the sandbox counted in this run (not assumed):
    # 5 in flight / (calls per case × latency).
    delayed = sum(
        stats["calls"].get(k, 0) - before.get(k, 0)
        for k in ("upload", "attachment_status", "submit")
    )
    calls_per_case = delayed / cases
    ceiling = 5 / (calls_per_case * latency)
    return {
        "delayed_calls_per_case": calls_per_case,
        "cases": cases,
        "accepted": accepted,
        "latency": latency,
        "span_seconds": span,
        "wall_seconds": wall,
        "cases_per_second": cases / span,
        "ceiling_cases_per_second": ceiling,
        "share_of_ceiling": cases / span / ceiling,
        "sandbox_stats": stats,
    }


def main() -> None:
    """Run both measurements and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    proc, sandbox, creds = _start_sandbox(root)
    try:
        lat = bench_latency(root / "latency", sandbox, creds, args.files)
        thr = bench_throughput(root / "throughput", sandbox, creds, args.cases, args.latency)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    ms = {k: lat[k] * 1000 for k in ("p50", "p95", "max")}
    rows = [
        (
            f"drop→receipt, single-case files (n={lat['files']})",
            f"p50 {ms['p50']:.0f} ms, p95 {ms['p95']:.0f} ms, max {ms['max']:.0f} ms",
        ),
        (
            f"{thr['cases']}-case file, {thr['latency'] * 1000:.0f} ms per ELAN call",
            f"{thr['cases_per_second']:.1f} cases/s ({thr['accepted']} accepted in "
            f"{thr['span_seconds']:.1f} s; whole `once` {thr['wall_seconds']:.1f} s)",
        ),
        (
            f"ceiling: 5 calls in flight, {thr['delayed_calls_per_case']:.2f} delayed calls "
            "per case (counted by the sandbox)",
            f"{thr['ceiling_cases_per_second']:.1f} cases/s → "
            f"{thr['share_of_ceiling'] * 100:.0f} % of it",
        ),
    ]
    print("| measurement | value |")
    print("|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\nsandbox call statistics: {json.dumps(thr['sandbox_stats'])}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
