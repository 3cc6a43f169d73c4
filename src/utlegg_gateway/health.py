"""`/healthz` and `/metrics`: what an operator needs to tell "idle" from "stuck".

The server is a stdlib `ThreadingHTTPServer` in a daemon thread, so it answers even while
the asyncio loop is busy mapping a large file. It never touches the journal or the
network itself: the runner pushes snapshots into a `HealthState` (scan results, journal
summary, token check), and the server only reads them under a lock. That keeps SQLite on
the loop's thread and makes a scrape cheap.

`/healthz` answers JSON with one entry per check and HTTP 200 when every check is ok,
503 otherwise:

    {"status": "ok" | "failing",
     "checks": {"inbox:<name>": {...last_successful_scan, folder_present, error},
                "journal": {"ok", "checked_at", "error"},
                "token": {"ok", "checked_at", "error"},
                "certificate": {"ok", "expires_at", "days_left"}}}

`/metrics` is the Prometheus text format (see docs/operations.md for each series).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from utlegg_gateway._logging import get_logger

__all__ = ["CERT_WARN_DAYS", "HealthServer", "HealthState", "Metrics"]

log = get_logger(__name__)

# A certificate closer than this to its expiry makes /healthz fail, so alerts fire in time
# to order a new one (Buypass/Commfides issuance takes days).
CERT_WARN_DAYS = 14

# Seconds: ELAN calls take tens to hundreds of milliseconds; retries can take a minute.
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class _Check:
    ok: bool
    tenant: str = ""
    checked_at: datetime | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Metrics:
    """Counters and histograms the pipeline observes directly, in one private registry.

    In vendor mode (`tenants`) every series carries a `tenant` label; a plain
    configuration's series stay as they were.
    """

    def __init__(self, *, tenants: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tenants = tenants
        extra = ["tenant"] if tenants else []
        self.submit_latency = Histogram(
            "utlegg_gateway_submit_latency_seconds",
            "Duration of one logical submit (including the client's retries).",
            extra,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cases_finished = Counter(
            "utlegg_gateway_cases_finished",
            "Cases that reached an end state in this process, by state.",
            ["state", *extra],
            registry=self.registry,
        )
        self.files_finished = Counter(
            "utlegg_gateway_files_finished",
            "Files that reached an end state in this process, by state.",
            ["state", *extra],
            registry=self.registry,
        )
        self.scans = Counter(
            "utlegg_gateway_scans",
            "Inbox scans, by inbox and outcome (ok or error).",
            ["inbox", "outcome", *extra],
            registry=self.registry,
        )

    def _tenant(self, tenant: str) -> list[str]:
        return [tenant] if self.tenants else []

    def submitted(self, seconds: float, tenant: str = "") -> None:
        """One logical submit took `seconds`."""
        if self.tenants:
            self.submit_latency.labels(tenant).observe(seconds)
        else:
            self.submit_latency.observe(seconds)

    def case_finished(self, state: str, tenant: str = "") -> None:
        """A case reached the end state `state`."""
        self.cases_finished.labels(state, *self._tenant(tenant)).inc()

    def file_finished(self, state: str, tenant: str = "") -> None:
        """A file reached the end state `state`."""
        self.files_finished.labels(state, *self._tenant(tenant)).inc()

    def scanned(self, inbox: str, outcome: str, tenant: str = "") -> None:
        """One scan of `inbox` ended with `outcome` (ok or error)."""
        self.scans.labels(inbox, outcome, *self._tenant(tenant)).inc()


class HealthState:
    """Thread-safe snapshots the runner writes and the HTTP server reads.

    With `tenants`, each snapshot is kept per tenant and reported with its name: the
    token check of tenant `alfa` is `token:alfa`, its inboxes carry `"tenant": "alfa"`.
    """

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, tenants: bool = False
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.tenants = tenants
        self._inboxes: dict[str, dict[str, Any]] = {}
        self._checks: dict[str, _Check] = {}
        self._summaries: dict[str, dict[str, Any]] = {}
        self._cert_expiry: dict[str, datetime] = {}
        self.metrics = Metrics(tenants=tenants)
        self.metrics.registry.register(_JournalCollector(self))

    def now(self) -> datetime:
        """The injected clock (UTC)."""
        return self._clock()

    def set_inbox(
        self,
        name: str,
        *,
        last_successful_scan: datetime | None,
        folder_present: bool,
        error: str | None,
        tenant: str = "",
    ) -> None:
        """Record the latest scan outcome of one inbox."""
        with self._lock:
            self._inboxes[name] = {
                "last_successful_scan": last_successful_scan,
                "folder_present": folder_present,
                "error": error,
                "tenant": tenant,
            }

    def set_check(
        self, name: str, ok: bool, error: str | None = None, *, tenant: str = "", **extra: Any
    ) -> None:
        """Record the outcome of a check (journal, token) at the current time."""
        key = f"{name}:{tenant}" if tenant else name
        with self._lock:
            self._checks[key] = _Check(
                ok=ok, tenant=tenant, checked_at=self._clock(), error=error, extra=extra
            )

    def set_certificate_expiry(self, expires_at: datetime | None, *, tenant: str = "") -> None:
        """The business certificate's notAfter, when one is used."""
        with self._lock:
            if expires_at is None:
                self._cert_expiry.pop(tenant, None)
            else:
                self._cert_expiry[tenant] = expires_at

    def set_summary(self, summary: Mapping[str, Any], *, tenant: str = "") -> None:
        """The journal's view (`JournalStore.summary()`), refreshed by the runner."""
        with self._lock:
            self._summaries[tenant] = dict(summary)

    def summary(self, tenant: str = "") -> dict[str, Any]:
        """A copy of the latest journal summary (of one tenant)."""
        with self._lock:
            return dict(self._summaries.get(tenant, {}))

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Every tenant's latest journal summary ("" for a plain configuration)."""
        with self._lock:
            return {t: dict(s) for t, s in self._summaries.items()}

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, JSON-able body) for `/healthz`."""
        now = self._clock()
        with self._lock:
            checks: dict[str, Any] = {}
            healthy = True
            for name, inbox in sorted(self._inboxes.items()):
                ok = inbox["folder_present"] and inbox["error"] is None
                healthy &= ok
                last = inbox["last_successful_scan"]
                checks[f"inbox:{name}"] = {
                    "ok": ok,
                    "last_successful_scan": last.isoformat() if last else None,
                    "seconds_since_scan": (now - last).total_seconds() if last else None,
                    "folder_present": inbox["folder_present"],
                    "error": inbox["error"],
                    **({"tenant": inbox["tenant"]} if self.tenants else {}),
                }
            for name, check in sorted(self._checks.items()):
                healthy &= check.ok
                checks[name] = {
                    "ok": check.ok,
                    "checked_at": check.checked_at.isoformat() if check.checked_at else None,
                    "error": check.error,
                    **({"tenant": check.tenant} if self.tenants else {}),
                    **check.extra,
                }
            for tenant, expiry in sorted(self._cert_expiry.items()):
                days_left = (expiry - now).total_seconds() / 86400
                ok = days_left >= CERT_WARN_DAYS
                healthy &= ok
                checks[f"certificate:{tenant}" if tenant else "certificate"] = {
                    "ok": ok,
                    "expires_at": expiry.isoformat(),
                    "days_left": round(days_left, 1),
                    **({"tenant": tenant} if self.tenants else {}),
                }
        return healthy, {"status": "ok" if healthy else "failing", "checks": checks}


class _JournalCollector:
    """Gauges computed at scrape time from the latest snapshots (never from SQLite)."""

    def __init__(self, state: HealthState) -> None:
        self._state = state

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tenants = self._state.tenants
        extra = ["tenant"] if tenants else []
        summaries = sorted(self._state.summaries().items())

        def labels(values: list[str], tenant: str) -> list[str]:
            return [*values, tenant] if tenants else values

        files = GaugeMetricFamily(
            "utlegg_gateway_files", "Files in the journal, by state.", labels=["state", *extra]
        )
        cases = GaugeMetricFamily(
            "utlegg_gateway_cases", "Cases in the journal, by state.", labels=["state", *extra]
        )
        oldest = GaugeMetricFamily(
            "utlegg_gateway_oldest_waiting_file_age_seconds",
            "Age of the oldest file not yet in an end state (0 when none waits).",
            labels=extra,
        )
        for tenant, summary in summaries:
            for state, count in sorted((summary.get("files") or {}).items()):
                files.add_metric(labels([str(state)], tenant), float(count))
            for state, count in sorted((summary.get("cases") or {}).items()):
                cases.add_metric(labels([str(state)], tenant), float(count))
            age = summary.get("oldest_waiting_seconds")
            oldest.add_metric(labels([], tenant), float(age or 0.0))
        if not summaries and not tenants:
            oldest.add_metric([], 0.0)
        yield files
        yield cases
        yield oldest
        now = self._state.now()
        _, report = self._state.report()
        scan = GaugeMetricFamily(
            "utlegg_gateway_seconds_since_last_scan",
            "Seconds since the last successful scan, per inbox (-1: never).",
            labels=["inbox", *extra],
        )
        healthy = GaugeMetricFamily(
            "utlegg_gateway_check_ok",
            "1 when a health check passes, else 0.",
            labels=["check", *extra],
        )
        for name, check in report["checks"].items():
            tenant = check.get("tenant", "")
            healthy.add_metric(labels([name], tenant), 1.0 if check["ok"] else 0.0)
            if name.startswith("inbox:"):
                last = check["last_successful_scan"]
                age = (now - datetime.fromisoformat(last)).total_seconds() if last else -1.0
                scan.add_metric(labels([name.removeprefix("inbox:")], tenant), age)
        yield scan
        yield healthy


class _Handler(BaseHTTPRequestHandler):
    state: HealthState  # set on the subclass made per server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            healthy, body = self.state.report()
            self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
        elif path == "/metrics":
            data = generate_latest(self.state.metrics.registry)
            self._send(200, "text/plain; version=0.0.4; charset=utf-8", data)
        else:
            self._send(404, "application/json", b'{"error": "not found"}')

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes hit this every few seconds; access lines would drown the real log.
        return


class HealthServer:
    """The HTTP endpoint in a daemon thread; `port=0` binds a free port (see `.port`)."""

    def __init__(self, state: HealthState, *, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("_BoundHandler", (_Handler,), {"state": state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-server", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:9108`."""
        host = self._server.server_address[0]
        text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{text}:{self.port}"

    def start(self) -> HealthServer:
        """Serve in the background."""
        self._thread.start()
        log.info("health endpoint listening", extra={"fields": {"url": self.url}})
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
