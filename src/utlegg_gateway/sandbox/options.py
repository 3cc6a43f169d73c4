"""What a sandbox is configured with, and the clock it lives on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from utlegg_gateway.model import DEFAULT_MODEL_VERSION, ModelVersion

__all__ = [
    "DEFAULT_OUTCOMES",
    "DEFAULT_STATUS_TIMINGS",
    "ELAN_SCOPE",
    "SandboxClock",
    "SandboxOptions",
]

ELAN_SCOPE = "skatteetaten:utleggsbegjaering"

# Seconds after submission at which a case reaches each status (sandbox clock). A case
# stays `sakOpprettet` until the first entry is due; tests advance the clock instead of waiting.
DEFAULT_STATUS_TIMINGS: tuple[tuple[str, float], ...] = (
    ("sakUnderBehandling", 60.0),
    ("sakForelagt", 600.0),
    ("sakBesluttet", 3600.0),
    ("sakAvsluttet", 86400.0),
)

DEFAULT_OUTCOMES: tuple[tuple[str, str], ...] = (
    ("-NEKTES", "sakNektetFremmet"),
    ("-HEVES", "sakHevet"),
)


@dataclass
class SandboxOptions:
    """Everything a sandbox can be told at start; the admin API changes some of it at run time."""

    model_version: ModelVersion = DEFAULT_MODEL_VERSION
    # Send and demand only what Skatteetaten publishes (docs/elan-contract.md "Strict
    # mode"): a plain 422 (no lokasjon, no reference on a duplicate), Klientid and
    # Meldingsid required, an empty change answer, 500 for XXX-002.
    strict: bool = False
    # How long an upload stays `scanning` (sandbox clock) before its final state.
    scanning_seconds: float = 2.0
    # GET /vedlegg/{uuid} is unpublished: False answers 404 XXX-003 there, as a server
    # without it would, so the gateway must learn readiness from `valider`.
    attachment_status_endpoint: bool = True
    # False: the upload reply carries only the uuid (no `status`).
    upload_reply_status: bool = True
    # "at most 5 calls in flight per API per organisation"; organisation: one count for
    # all ELAN APIs together (the stricter reading).
    concurrency_scope: Literal["api", "organisation"] = "api"
    status_timings: tuple[tuple[str, float], ...] = DEFAULT_STATUS_TIMINGS
    # A case whose innsenderReferanse ends with a suffix here takes this final status at
    # the second step of `status_timings` and stays there (refused / withdrawn cases).
    outcome_by_suffix: tuple[tuple[str, str], ...] = DEFAULT_OUTCOMES
    # A change within this many seconds of the case's last accepted version gets
    # UAVKLART_STATUS (the earlier version is "still unprocessed"); 0 turns the rule off.
    unsettled_seconds: float = 0.0
    state_file: Path | None = None
    token_lifetime: int = 120
    max_concurrency: int = 5
    # Registration files (or folders of them) loaded at start; see `certs.write_credentials`.
    registries: tuple[Path, ...] = ()
    old_rules_debtors: tuple[str, ...] = ()
    # The ~100 persons and ~100 organisations Skatteetaten's test environment keeps on the
    # old rules (sandbox/data/old-rules-test-parties.json): on by default, so a case that
    # passes here does not get SAKSOEKT_GAMMELT_REGELVERK there.
    published_old_rules_parties: bool = True
    # A fault plan applied at start (same shape as `PUT /_sandbox/faults`).
    faults: dict[str, Any] = field(default_factory=dict)
    fault_seed: int = 0


class SandboxClock:
    """Wall time for tokens (Maskinporten is its own server) plus an offset for case life.

    `now()` is the business clock (attachment scanning, case statuses, `today` for prøving)
    and moves when the admin API advances it; `wall()` is never advanced, so grants and
    access tokens built from the real clock keep working after a test jumps a day ahead.
    """

    def __init__(self, source: Callable[[], float] = time.time, offset: float = 0.0) -> None:
        self._source = source
        self.offset = offset

    def wall(self) -> float:
        """Real seconds since the epoch (injectable source)."""
        return self._source()

    def now_ts(self) -> float:
        """Business time, seconds since the epoch."""
        return self._source() + self.offset

    def now(self) -> datetime:
        """Business time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now_ts(), UTC)

    def today(self) -> date:
        """The business date (UTC)."""
        return self.now().date()

    def advance(self, seconds: float) -> None:
        """Move business time forward (never backward: case history must stay ordered)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset += seconds
