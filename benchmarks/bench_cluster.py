"""Vendor mode on a cluster: cases/s against tenants (1, 3, 10) × instances (1, 2).

    .venv/bin/python benchmarks/bench_cluster.py [--tenants 1 3 10] [--instances 1 2]
        [--cases 200] [--latency 0.05]

Issue 16's benchmark. Each configuration gets a fresh PostgreSQL database (a throwaway
server, tests/_postgres.py) and a fresh folder tree; T tenants, each a customer
organisation of the vendor filing through its Altinn system user, each with one CSV file
of `--cases` cases (its own organisation as innsender) and the PDFs they name; I
`utlegg-gateway run` daemons with `cluster.enabled` and their own instance names, sharing
the folders and the journal. The sandbox runs in its own process (httptools and uvloop:
the `bench` extra) and answers every upload, attachment-status and submit call
`--latency` seconds after it arrived, its own work inside that time (`latency:`).

Cases/s is taken from the journal: first case recorded → last case ended (so start-up
is not counted). The ceiling is the organisations' slots: ELAN allows 5 calls in flight
per organisation, so T tenants can have 5·T calls in flight, whatever the number of
instances; with the delayed calls per case the sandbox counted in the run,
ceiling = 5·T / (calls per case × latency). The sandbox's highest in-flight count per
organisation and its refusals are printed beside each row, and what the CPU did: the
daemons' and the sandbox's CPU time per case (start-up included), and how busy the
machine's cores were from the drop to the last receipt (the sandbox and PostgreSQL run
on the same cores, so several instances on one machine share them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import psycopg  # noqa: E402
from bench_gateway import _Obj, _start_sandbox  # noqa: E402
from tests import _postgres  # noqa: E402
from tests.cluster._two_instances import write_vendor_config  # noqa: E402
from tests.e2e._support import drop_attachments, make_batch  # noqa: E402

from utlegg_gateway.demo import DEMO_ORGNR  # noqa: E402

_DELAYED = ("upload", "attachment_status", "submit")


def customer_orgs(n: int) -> list[str]:
    """n valid organisation numbers for the vendor's customers (the demo's own)."""
    from utlegg_gateway.demo import _customer_orgnr

    return [_customer_orgnr(k) for k in range(1, n + 1)]


def _vendor_config(
    root: Path, sandbox: _Obj, orgs: list[str], journal: dict[str, Any], latency: float
) -> Path:
    """One tenant per organisation, each with one csv-krav inbox; the cluster switched on."""
    config = write_vendor_config(
        root, sandbox, sandbox, orgs, journal, cluster={"lease_seconds": 10, "heartbeat_seconds": 2}
    )
    shutil.rmtree(root / "inbox" / "csv-krav", ignore_errors=True)
    return config


def _drop(root: Path, orgs: list[str], cases: int) -> None:
    for n, org in enumerate(orgs, start=1):
        inbox = root / "inbox" / f"kunde-{n}"
        inbox.mkdir(parents=True, exist_ok=True)
        drop_attachments("csv-krav", inbox)
        staged = root / f"staged-{n}.csv"
        make_batch(cases, staged, prefix=f"IB-K{n:02d}-")
        text = staged.read_bytes().replace(DEMO_ORGNR.encode(), org.encode())
        tmp = inbox / ".utlegg_20260301_020000.csv.tmp"
        tmp.write_bytes(text)
        tmp.replace(inbox / "utlegg_20260301_020000.csv")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _journal_span(conninfo: str) -> tuple[int, int, float]:
    """(cases, accepted, first recorded → last ended in seconds) from the journal."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'accepted'), "
            "MIN(created_at), MAX(finished_at) FROM cases"
        ).fetchone()
    assert row is not None
    total, accepted, first, last = row
    span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return int(total), int(accepted), span


def run_configuration(
    root: Path, server: _postgres.PostgresServer, tenants: int, instances: int, args: Any
) -> dict[str, Any]:
    """One tenants × instances run; returns its figures."""
    from utlegg_gateway.sandbox import SandboxAdmin

    orgs = customer_orgs(tenants)
    proc, sandbox, _ = _start_sandbox(root, {}, {"systemuser_orgs": orgs})
    database = server.create_database()
    secret = root / "journal-password"
    secret.write_text(_postgres.PASSWORD + "\n")
    journal = {"url": server.url(database), "password": {"file": str(secret)}}
    daemons: list[subprocess.Popen[bytes]] = []
    try:
        config = _vendor_config(root, sandbox, orgs, journal, args.latency)
        admin = SandboxAdmin(sandbox.url)
        # `latency:`: answered `latency` after arrival, the sandbox's work inside it.
        delay = {"probability": 1.0, "actions": [f"latency:{args.latency}"]}
        admin.set_faults(dict.fromkeys(_DELAYED, delay))
        _drop(root, orgs, args.cases)
        started = time.perf_counter()
        busy_before = _machine_busy()
        for i in range(instances):
            env = {
                **os.environ,
                "UTLEGG_GATEWAY__CLUSTER__INSTANCE": f"gw-{i}",
                "UTLEGG_GATEWAY__RUNNER__LOCK_FILE": f"state/gw-{i}.lock",
            }
            log = (root / f"gw-{i}.log").open("wb")
            daemons.append(
                subprocess.Popen(
                    [sys.executable, "-m", "utlegg_gateway", "run", "--config", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=root,
                    env=env,
                )
            )
        receipts = [
            root / "outbox" / f"kunde-{n}" / "utlegg_20260301_020000.csv.kvittering.json"
            for n in range(1, tenants + 1)
        ]
        deadline = time.monotonic() + args.timeout
        while not all(r.exists() for r in receipts):
            for n, d in enumerate(daemons):
                if d.poll() is not None:
                    raise RuntimeError((root / f"gw-{n}.log").read_text()[-4000:])
            if time.monotonic() > deadline:
                raise RuntimeError(f"no receipts after {args.timeout} s; see {root}")
            time.sleep(0.05)
        wall = time.perf_counter() - started
        busy_after = _machine_busy()
        # Start-up (imports, mappings, tokens) is in these; the span below is not.
        daemon_cpu = sum(_cpu_seconds(d.pid) for d in daemons)
        sandbox_cpu = _cpu_seconds(proc.pid)
        stats = admin.stats()
    finally:
        for d in daemons:
            d.terminate()
        for d in daemons:
            d.wait(timeout=60)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    total, accepted, span = _journal_span(server.admin_conninfo(database))
    server.drop_database(database)
    delayed = sum(stats["calls"].get(k, 0) for k in _DELAYED)
    per_case = delayed / total
    ceiling = 5 * tenants / (per_case * args.latency)
    return {
        "tenants": tenants,
        "instances": instances,
        "cases": total,
        "accepted": accepted,
        "span": span,
        "wall": wall,
        "cases_per_second": total / span,
        "calls_per_case": per_case,
        "ceiling": ceiling,
        "share": total / span / ceiling,
        "max_in_flight": stats.get("max_concurrency_seen"),
        "refused": stats["rejected_concurrency"],
        "daemon_cpu_ms_per_case": 1000 * daemon_cpu / total,
        "sandbox_cpu_ms_per_case": 1000 * sandbox_cpu / total,
        "machine_busy": (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]),
    }


def main() -> None:
    """Every configuration in turn; a Markdown table at the end."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cases", type=int, default=200, help="cases per tenant")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    rows = []
    with _postgres.running_server() as server:
        for tenants in args.tenants:
            for instances in args.instances:
                root = base / f"t{tenants}-i{instances}"
                row = run_configuration(root, server, tenants, instances, args)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(
        "\n| tenants | instances | cases | accepted | cases/s | delayed calls/case "
        "| ceiling cases/s | share | max in flight per org | refused "
        "| gateway CPU ms/case | sandbox CPU ms/case | machine busy |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['tenants']} | {r['instances']} | {r['cases']} | {r['accepted']} "
            f"| {r['cases_per_second']:.1f} | {r['calls_per_case']:.2f} | {r['ceiling']:.0f} "
            f"| {r['share'] * 100:.0f} % | {r['max_in_flight']} | {r['refused']} "
            f"| {r['daemon_cpu_ms_per_case']:.1f} | {r['sandbox_cpu_ms_per_case']:.1f} "
            f"| {r['machine_busy'] * 100:.0f} % |"
        )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
