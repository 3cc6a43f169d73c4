"""Two `utlegg-gateway run` processes on one PostgreSQL journal and one folder tree, a
vendor's tenants, and a sandbox that delays its calls: the cluster kill tests' stage.

Everything is real: the daemons are subprocesses, killed with SIGKILL as a crash kills
them; the sandbox serves real HTTP on 127.0.0.1; the journal is the test server's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from tests.cluster.conftest import journal_data
from tests.e2e._support import FORMATS, MAPPINGS, make_batch
from utlegg_gateway.config import JournalSettings
from utlegg_gateway.demo import DEMO_ORGNR, _customer_orgnr, write_gateway_config
from utlegg_gateway.sandbox import SandboxOptions, running_sandbox, write_credentials

REPO = Path(__file__).resolve().parents[2]
# Delayed, so a kill lands while calls are in flight and files are half done.
DELAYED = ("upload", "attachment_status", "submit")


@dataclass
class Stage:
    """The folders, config and sandbox of one cluster run; `daemons` by instance name."""

    root: Path
    config: Path
    sandbox: Any
    orgs: list[str]
    journal: JournalSettings
    daemons: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    dropped: list[tuple[int, str, list[str]]] = field(default_factory=list)
    # How many starts of each instance reached /healthz (earlier ones were killed first).
    ready: dict[str, int] = field(default_factory=dict)

    def start(self, instance: str, *, process: str | None = None) -> subprocess.Popen[bytes]:
        """Start (or start again) the daemon named `instance`; its log is appended to.

        `process` names a second process claiming the same instance name (its own run
        lock and log, as on another host)."""
        key = process or instance
        n = self.starts.get(key, 0) + 1
        self.starts[key] = n
        env = {
            **os.environ,
            "UTLEGG_GATEWAY__CLUSTER__INSTANCE": instance,
            "UTLEGG_GATEWAY__RUNNER__LOCK_FILE": f"state/{key}.lock",
            "PYTHONPATH": str(REPO / "src"),
        }
        with (self.root / f"{key}.log").open("ab") as log:
            log.write(f"--- start {n}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "utlegg_gateway", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=env,
            )
        self.daemons[key] = proc
        return proc

    def wait_ready(self, instance: str, timeout: float = 60) -> None:
        """Until the latest start of `instance` serves /healthz (it has recovered and
        scans from then on); its own exit fails."""
        deadline = time.monotonic() + timeout
        while self.log(instance).count('"msg": "health endpoint listening"') < self._ready_seen(
            instance
        ):
            code = self.daemons[instance].poll()
            if code is not None:
                raise AssertionError(f"{instance} exited {code}:\n{self.log(instance)[-4000:]}")
            assert time.monotonic() < deadline, self.log(instance)[-4000:]
            time.sleep(0.02)
        self.ready[instance] = self.ready.get(instance, 0) + 1

    def healthz(self, instance: str) -> dict[str, Any]:
        """The latest start's /healthz body (its port is in its log)."""
        lines = [
            json.loads(line)
            for line in self.log(instance).splitlines()
            if '"msg": "health endpoint listening"' in line
        ]
        response = httpx.get(lines[-1]["url"] + "/healthz", timeout=10)
        body: dict[str, Any] = response.json()
        return body

    def _ready_seen(self, instance: str) -> int:
        return self.ready.get(instance, 0) + 1

    def kill(self, instance: str) -> None:
        """SIGKILL, as a crash or an OOM kill does: no handler, no clean-up."""
        proc = self.daemons[instance]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every daemon still running; their exit codes."""
        codes: dict[str, int] = {}
        for proc in self.daemons.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.daemons.items():
            codes[name] = proc.wait(timeout=60)
        return codes

    def log(self, instance: str) -> str:
        return (self.root / f"{instance}.log").read_text("utf-8", "replace")

    def drop(self, tenant: int, cases: int) -> str:
        """Drop one CSV file of `cases` cases into tenant `tenant`'s inbox; its name."""
        number = len(self.dropped) + 1
        inbox = self.root / "inbox" / f"kunde-{tenant}"
        name = f"utlegg_20260301_{number:06d}.csv"
        staged = self.root / f"staged-{number}.csv"
        refs = make_batch(cases, staged, prefix=f"IB-K{tenant}F{number:02d}-")
        org = self.orgs[tenant - 1]
        text = staged.read_bytes().replace(DEMO_ORGNR.encode(), org.encode())
        # Its own copies of the PDFs, under names of its own: a PDF is archived with the
        # last known file that uses it, and a later file must not look for it then.
        for pdf in sorted(FORMATS["csv-krav"].parent.glob("*.pdf")):
            own = f"F{number:02d}-{pdf.name}"
            shutil.copy2(pdf, inbox / own)
            text = text.replace(pdf.name.encode(), own.encode())
        tmp = inbox / f".{name}.tmp"
        tmp.write_bytes(text)
        tmp.replace(inbox / name)
        self.dropped.append((tenant, name, refs))
        return name

    def receipt(self, tenant: int, name: str) -> Path:
        return self.root / "outbox" / f"kunde-{tenant}" / f"{name}.kvittering.json"

    def all_answered(self) -> bool:
        return all(self.receipt(t, name).exists() for t, name, _ in self.dropped)

    def journal_rows(self, sql: str) -> list[tuple[Any, ...]]:
        assert self.journal.url is not None and self.journal.password is not None
        with psycopg.connect(self.journal.url, password=self.journal.password.read()) as conn:
            return list(conn.execute(sql).fetchall())

    def wait_answered(self, timeout: float, *, running: tuple[str, ...]) -> None:
        """Until every dropped file has its receipt; a daemon dying on its own fails."""
        deadline = time.monotonic() + timeout
        while not self.all_answered():
            for name in running:
                code = self.daemons[name].poll()
                if code is not None:
                    raise AssertionError(f"{name} exited {code}:\n{self.log(name)[-4000:]}")
            if time.monotonic() > deadline:
                missing = [n for t, n, _ in self.dropped if not self.receipt(t, n).exists()]
                raise AssertionError(f"no receipt after {timeout} s for {missing}; see {self.root}")
            time.sleep(0.05)


@contextmanager
def cluster_stage(
    root: Path, journal: JournalSettings, *, tenants: int, latency: float, lease: float
) -> Iterator[Stage]:
    """A sandbox (calls delayed by `latency` s) and a vendor config of `tenants` tenants
    with the cluster on (`lease` s leases); the daemons are started by the test."""
    orgs = [_customer_orgnr(k) for k in range(1, tenants + 1)]
    creds = write_credentials(root / "creds", systemuser_orgs=tuple(orgs))
    with running_sandbox(SandboxOptions(scanning_seconds=0.0), credentials=[creds]) as sandbox:
        config = write_vendor_config(
            root,
            sandbox,
            creds,
            orgs,
            journal_data(journal),
            cluster={"lease_seconds": lease, "heartbeat_seconds": lease / 4},
        )
        for n in range(1, tenants + 1):
            folder = root / "inbox" / f"kunde-{n}"
            folder.mkdir(parents=True, exist_ok=True)
        delay = {"probability": 1.0, "actions": [f"delay:{latency}"]}
        sandbox.admin.set_faults(dict.fromkeys(DELAYED, delay))
        yield Stage(root=root, config=config, sandbox=sandbox, orgs=orgs, journal=journal)


def write_vendor_config(
    root: Path,
    sandbox: Any,
    credentials: Any,
    orgs: list[str],
    journal: dict[str, Any],
    *,
    cluster: dict[str, Any],
) -> Path:
    """A vendor's config: one tenant per organisation (its system user, one csv-krav
    inbox `inbox/kunde-<n>`), the shared `journal`, the cluster on with `cluster`."""
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.0,
        extra={
            "cluster": {"enabled": True, **cluster},
            "runner": {"max_cases_in_flight": 50},
        },
    )
    data = yaml.safe_load(config.read_text("utf-8"))
    inbox = data.pop("inboxes")[0]
    data["journal"] = journal  # replaces the SQLite path of the default
    data["tenants"] = [
        {
            "name": f"kunde-{n}",
            "organisation": org,
            "maskinporten": {"systembruker": {"org": org}},
            "inboxes": [{**inbox, "name": f"kunde-{n}", "path": f"inbox/kunde-{n}"}],
        }
        for n, org in enumerate(orgs, start=1)
    ]
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def check_outcome(stage: Stage) -> dict[str, Any]:
    """What the kill tests assert, as figures: every file answered once, every case in a
    receipt and accepted at ELAN once, nothing left in work/ or failed/."""
    cases_in_receipts: list[str] = []
    for tenant, name, refs in stage.dropped:
        receipt = json.loads(stage.receipt(tenant, name).read_text("utf-8"))
        seen = [c["innsenderReferanse"] for c in receipt["cases"]]
        assert sorted(seen) == sorted(refs), name
        assert {c["status"] for c in receipt["cases"]} == {"accepted"}, name
        cases_in_receipts += seen
    refs_all = [r for _, _, refs in stage.dropped for r in refs]
    accepted = [c["innsenderReferanse"] for c in stage.sandbox.admin.cases()]
    files = stage.journal_rows("SELECT tenant, name, state FROM files ORDER BY id")
    left = [p for p in (stage.root / "work").rglob("*") if p.is_file()]
    stats = stage.sandbox.admin.stats()
    return {
        "files": len(stage.dropped),
        "cases": len(refs_all),
        "cases_in_receipts": len(cases_in_receipts),
        "accepted_at_elan": len(accepted),
        "accepted_twice": len(accepted) - len(set(accepted)),
        "journal_files": [(t, n, s) for t, n, s in files],
        "left_in_work": left,
        "failed": list((stage.root / "failed").rglob("*.csv")),
        "max_in_flight": stats["max_concurrency_seen"],
        "refused_for_concurrency": stats["rejected_concurrency"],
        "submit_calls": stats["calls"].get("submit", 0),
    }
