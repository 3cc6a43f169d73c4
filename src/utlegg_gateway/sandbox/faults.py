"""Fault plans, the per-organisation concurrency limit and call statistics.

A fault plan maps an endpoint name to either a scripted `sequence` of actions (one per
call, then `ok`) or a `probability` with the `actions` to draw from (seeded RNG, so a
chaos run can be replayed). Actions: `ok`, `500`, `503`, `429`, `delay:<seconds>` (the
answer is held until that long after the call arrived, counting the sandbox's own work
before the wait; ends early when the client leaves, before any work is done),
`latency:<seconds>` (a server that answers that long after the call arrived, its work
included: the work is done and stored first, then the answer waits out the rest; a
client that leaves meanwhile finds the work done), `work:<seconds>` (keeps the call in
flight even then, as a server still working on it would), `drop` (close the connection
before answering) and `accept_then_drop` (do the work, store the result, then close the
connection without answering).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ENDPOINTS",
    "ConcurrencyLimiter",
    "FaultBook",
    "Stats",
    "parse_action",
    "validate_plan",
]

ENDPOINTS = frozenset(
    {
        "token",
        "upload",
        "attachment_status",
        "validate",
        "submit",
        "validate_change",
        "change",
        "status",
        "betjeningskartet",
    }
)
_SIMPLE = frozenset({"ok", "500", "503", "429", "drop", "accept_then_drop"})
_DELAY = re.compile(r"^(delay|latency|work):(\d+(?:\.\d+)?)$")


def parse_action(action: str) -> tuple[str, float]:
    """Split an action into (kind, seconds); raise ValueError for an unknown one."""
    if action in _SIMPLE:
        return action, 0.0
    m = _DELAY.match(action)
    if m:
        return m.group(1), float(m.group(2))
    raise ValueError(
        f"unknown fault action {action!r} "
        "(ok, 500, 503, 429, delay:<s>, latency:<s>, work:<s>, drop, accept_then_drop)"
    )


def validate_plan(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check a fault plan's shape; returns it normalised or raises ValueError."""
    out: dict[str, dict[str, Any]] = {}
    for endpoint, spec in plan.items():
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {sorted(ENDPOINTS)}")
        if not isinstance(spec, Mapping):
            raise ValueError(f"fault plan for {endpoint} must be an object")
        if "sequence" in spec:
            seq = spec["sequence"]
            if not isinstance(seq, list) or not all(isinstance(a, str) for a in seq):
                raise ValueError(f"{endpoint}.sequence must be a list of actions")
            for action in seq:
                parse_action(action)
            out[endpoint] = {"sequence": list(seq)}
        elif "probability" in spec:
            p = spec["probability"]
            if not isinstance(p, int | float) or not 0 <= p <= 1:
                raise ValueError(f"{endpoint}.probability must be between 0 and 1")
            actions = spec.get("actions", ["500"])
            if not isinstance(actions, list) or not actions:
                raise ValueError(f"{endpoint}.actions must be a non-empty list")
            for action in actions:
                parse_action(action)
            out[endpoint] = {"probability": float(p), "actions": list(actions)}
        else:
            raise ValueError(f"fault plan for {endpoint} needs 'sequence' or 'probability'")
    return out


class FaultBook:
    """The active plan; `next_action(endpoint)` says what to do with the next call."""

    def __init__(self, plan: Mapping[str, Any] | None = None, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.set(plan or {})

    def set(self, plan: Mapping[str, Any], *, seed: int | None = None) -> None:
        """Replace the plan (validated first); scripted sequences start from the top."""
        checked = validate_plan(plan)
        with self._lock:
            self._plan = checked
            self._positions: Counter[str] = Counter()
            self._rng = random.Random(self._seed if seed is None else seed)  # noqa: S311 - a replayable fault draw, not security

    def plan(self) -> dict[str, dict[str, Any]]:
        """The plan as set, with how far each sequence has run."""
        with self._lock:
            out = {k: dict(v) for k, v in self._plan.items()}
            for k, v in out.items():
                if "sequence" in v:
                    v["position"] = self._positions[k]
            return out

    def next_action(self, endpoint: str) -> str:
        """The action for this call of `endpoint` (`ok` when nothing is planned)."""
        with self._lock:
            spec = self._plan.get(endpoint)
            if spec is None:
                return "ok"
            if "sequence" in spec:
                pos = self._positions[endpoint]
                self._positions[endpoint] += 1
                seq: list[str] = spec["sequence"]
                return seq[pos] if pos < len(seq) else "ok"
            if self._rng.random() < spec["probability"]:
                actions: list[str] = spec["actions"]
                return self._rng.choice(actions)
            return "ok"


@dataclass
class Stats:
    """What the sandbox has seen; read through `GET /_sandbox/stats`."""

    grants_issued: int = 0
    grants_rejected: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    faults_applied: Counter[str] = field(default_factory=Counter)
    rejected_concurrency: int = 0
    max_concurrency_seen: int = 0
    # Skatteetaten: a Korrelasjonsid must never be reused. Not refused (no documented
    # error), but counted so tests can assert a client never does it.
    korrelasjonsid_reused: int = 0
    seen_korrelasjonsid: set[str] = field(default_factory=set)
    # Calls per base path (an API served under its own base URL shows up here).
    bases: Counter[str] = field(default_factory=Counter)
    # Seconds per operation from the handler's start to its answer (an injected delay
    # included), summed: against the client's own time per call, what the sandbox held.
    handler_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def note_korrelasjonsid(self, value: str) -> None:
        """Count a Korrelasjonsid seen before."""
        if value in self.seen_korrelasjonsid:
            self.korrelasjonsid_reused += 1
        else:
            self.seen_korrelasjonsid.add(value)

    def as_dict(self, in_flight: Mapping[str, int]) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "grants_issued": self.grants_issued,
            "grants_rejected": self.grants_rejected,
            "calls": dict(self.calls),
            "answers": dict(self.answers),
            "faults_applied": dict(self.faults_applied),
            "rejected_concurrency": self.rejected_concurrency,
            "max_concurrency_seen": self.max_concurrency_seen,
            "korrelasjonsid_reused": self.korrelasjonsid_reused,
            "bases": dict(self.bases),
            "handler_seconds": dict(self.handler_seconds),
            "in_flight": dict(in_flight),
        }


class ConcurrencyLimiter:
    """In-flight ELAN calls per organisation and API; the (limit+1)th is refused.

    `per_api=False` counts all APIs of an organisation together. Keys read `org` or
    `org/api`; `max_concurrency_seen` is the highest count of any key.
    """

    def __init__(self, limit: int, stats: Stats, *, per_api: bool = True) -> None:
        self.limit = limit
        self._stats = stats
        self._per_api = per_api
        self._in_flight: Counter[str] = Counter()

    def in_flight(self) -> dict[str, int]:
        """Current in-flight count per key (non-zero only)."""
        return {k: v for k, v in self._in_flight.items() if v}

    def _key(self, org: str, api: str) -> str:
        return f"{org}/{api}" if self._per_api else org

    def try_acquire(self, org: str, api: str = "innsending") -> bool:
        """Take a slot; False when `org` (on `api`) already has `limit` calls in flight."""
        # All ELAN handlers run on the one event loop thread, so no lock is needed.
        key = self._key(org, api)
        if self._in_flight[key] >= self.limit:
            self._stats.rejected_concurrency += 1
            return False
        self._in_flight[key] += 1
        self._stats.max_concurrency_seen = max(
            self._stats.max_concurrency_seen, self._in_flight[key]
        )
        return True

    def release(self, org: str, api: str = "innsending") -> None:
        """Give the slot back."""
        self._in_flight[self._key(org, api)] -= 1


class DelayGate:
    """Lets the admin API end every pending `delay:` fault at once (no test ever waits)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, or until `release()` is called."""
        event = self._current()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds)

    def release(self) -> None:
        """Wake every pending delay; later delays wait afresh."""
        if self._event is not None:
            self._event.set()
        self._event = None
