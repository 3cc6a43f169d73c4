"""The running sandbox's shared parts: options, clock, state, signing key, faults, limits."""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from utlegg_gateway.errors import ConfigError
from utlegg_gateway.sandbox.certs import kid_of, new_rsa_key
from utlegg_gateway.sandbox.faults import ConcurrencyLimiter, DelayGate, FaultBook, Stats
from utlegg_gateway.sandbox.options import SandboxClock, SandboxOptions
from utlegg_gateway.sandbox.register import SEEDED, RegisterEntry
from utlegg_gateway.sandbox.rules import case_status, timings_for
from utlegg_gateway.sandbox.state import CaseRow, SandboxState

__all__ = ["Sandbox", "normalise_registration"]

_ORGNR = re.compile(r"^\d{9}$")


def normalise_registration(data: Any) -> dict[str, Any]:
    """Check a client registration and fill defaults; raises ValueError naming the problem."""
    if not isinstance(data, dict):
        raise ValueError("a registration must be a JSON object")
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("registration.client_id is required")
    orgnr = data.get("orgnr")
    if not isinstance(orgnr, str) or not _ORGNR.match(orgnr):
        raise ValueError("registration.orgnr must be 9 digits")
    out: dict[str, Any] = {"client_id": client_id, "orgnr": orgnr}
    for name in ("scopes", "keys", "trusted_cas", "certificates", "systemusers", "delegations"):
        value = data.get(name, [])
        if not isinstance(value, list):
            raise ValueError(f"registration.{name} must be a list")
        out[name] = value
    for key in out["keys"]:
        if not isinstance(key, dict) or "kid" not in key or "public_key_pem" not in key:
            raise ValueError("registration.keys entries need kid and public_key_pem")
    systemusers = []
    for su in out["systemusers"]:
        if not isinstance(su, dict) or not _ORGNR.match(str(su.get("orgnr", ""))):
            raise ValueError("registration.systemusers entries need a 9-digit orgnr")
        systemusers.append({"orgnr": su["orgnr"], "external_ref": su.get("external_ref")})
    out["systemusers"] = systemusers
    return out


def _registration_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("registration*.json") if p.is_file())
    return [path]


@functools.cache
def _process_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@functools.cache
def published_old_rules_parties() -> frozenset[str]:
    """Skatteetaten's published test parties locked to the old rules (persons and orgs)."""
    raw = resources.files("utlegg_gateway.sandbox").joinpath("data/old-rules-test-parties.json")
    data = json.loads(raw.read_text("utf-8"))
    return frozenset(data["persons"]) | frozenset(data["organisations"])


class Sandbox:
    """Everything the routes share; one per running server."""

    def __init__(
        self,
        options: SandboxOptions | None = None,
        *,
        clock: SandboxClock | None = None,
        state: SandboxState | None = None,
    ) -> None:
        self.options = options or SandboxOptions()
        self.state = state or SandboxState(self.options.state_file)
        self.clock = clock or SandboxClock()
        offset = self.state.get_meta("clock_offset")
        if offset is not None:
            self.clock.offset = float(offset)
        self.signing_key = self._signing_key()
        self.public_key = self.signing_key.public_key()
        self.kid = kid_of(self.public_key)
        self.stats = Stats()
        self.faults = FaultBook(self.options.faults, seed=self.options.fault_seed)
        self.limiter = ConcurrencyLimiter(
            self.options.max_concurrency,
            self.stats,
            per_api=self.options.concurrency_scope == "api",
        )
        self.delays = DelayGate()
        # Set by the server once it knows its port; requests fall back to their own URL.
        self.base_url: str | None = None
        for path in self.options.registries:
            self.load_registry(path)
        # The register behind the five register rules (sandbox/register.py).
        self.register: dict[str, RegisterEntry] = {e.identifikator: e for e in SEEDED}
        # innsenderReferanse -> rules every validate/submit of it is answered with.
        self.forced_rules: dict[str, tuple[str, ...]] = {}
        for debtor in self.options.old_rules_debtors:
            self.state.add_old_debtor(debtor)

    def old_debtors(self) -> set[str]:
        """Debtors on the old rules: added ones, plus Skatteetaten's published test parties."""
        added = self.state.old_debtors()
        return (
            added | published_old_rules_parties()
            if self.options.published_old_rules_parties
            else added
        )

    def _signing_key(self) -> rsa.RSAPrivateKey:
        # Kept in the state so tokens issued before a restart stay valid after it.
        pem = self.state.get_meta("signing_key")
        if pem is not None:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return key
        # In-memory sandboxes share one key per process: RSA generation is the slow part of
        # a test's start-up, and tokens still cannot cross sandboxes (the issuer differs).
        key = _process_key() if self.state.path is None else new_rsa_key()
        self.state.set_meta(
            "signing_key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
        )
        return key

    def load_registry(self, path: Path) -> int:
        """Load registration files (a file, or every `registration*.json` under a folder)."""
        files = _registration_files(path)
        if not files:
            raise ConfigError(f"no registration*.json files in {path}", file=str(path))
        for file in files:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                self.register_client(data)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"bad registration file {file}: {exc}", file=str(file)) from exc
        return len(files)

    def register_client(self, data: Any) -> dict[str, Any]:
        """Register (or replace) a client; returns the stored registration."""
        registration = normalise_registration(data)
        self.state.put_client(registration)
        return registration

    def register_system_user(
        self, client_id: str, orgnr: str, external_ref: str | None = None
    ) -> dict[str, Any]:
        """Let `client_id` act for the system user of `orgnr`."""
        client = self.state.get_client(client_id)
        if client is None:
            raise KeyError(client_id)
        if not _ORGNR.match(orgnr):
            raise ValueError("orgnr must be 9 digits")
        entry = {"orgnr": orgnr, "external_ref": external_ref}
        if entry not in client["systemusers"]:
            client["systemusers"].append(entry)
        self.state.put_client(client)
        return client

    def trusted_cas(self) -> list[str]:
        """Every CA any registration trusts (the sandbox's test CAs)."""
        out: list[str] = []
        for client in self.state.clients():
            out.extend(pem for pem in client["trusted_cas"] if pem not in out)
        return out

    def timings(self, case: CaseRow) -> tuple[tuple[str, float], ...]:
        """The status path this case follows."""
        return timings_for(
            case.innsender_referanse, self.options.status_timings, self.options.outcome_by_suffix
        )

    def case_status(self, case: CaseRow) -> str:
        """A case's status now (sandbox clock), or the one forced through the admin API."""
        return case_status(
            case.submitted_at, self.clock.now_ts(), self.timings(case), case.status_override
        )

    def advance_clock(self, seconds: float) -> None:
        """Move business time forward and remember it across restarts."""
        self.clock.advance(seconds)
        self.state.set_meta("clock_offset", repr(self.clock.offset))

    def reset(self, *, registrations: bool = False) -> None:
        """Back to an empty sandbox (registrations kept unless asked)."""
        self.state.reset(registrations=registrations)
        self.clock.offset = 0.0
        self.faults.set({})
        self.delays.release()
        fresh = Stats()
        self.stats.__dict__.update(fresh.__dict__)
