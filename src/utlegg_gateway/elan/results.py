"""Typed outcomes of a submit, change or validate call, and the tolerant 422 parser.

A call that reached a verdict returns one of four frozen dataclasses instead of raising,
so the pipeline can record the outcome as data:

- `Accepted`: ELAN took it (or had it already: `already_submitted`).
- `Rejected`: 422, with every broken rule (`kontrollutslag`).
- `FailedTemporarily`: retries ran out on 429/5xx/network; may work later.
- `FailedPermanently`: 400/401/403/404/406: will not work as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from utlegg_gateway.errors import ElanError

__all__ = [
    "DUPLICATE_RULE",
    "Accepted",
    "FailedPermanently",
    "FailedTemporarily",
    "Rejected",
    "RuleViolation",
    "SubmitResult",
    "UploadedAttachment",
    "rules_from_body",
]

DUPLICATE_RULE = "DUPLIKAT_INNSENDING"
# Where a rule's location may be called; the contract fixes none (docs/elan-contract.md).
_LOCATION_KEYS = ("lokasjon", "sti", "path", "location")


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule from a 422: its name, the server's message, where in the begjæring."""

    kode: str
    melding: str
    lokasjon: str | None = None
    beskrivelse: str | None = None
    # Only DUPLIKAT_INNSENDING carries this (a sandbox extension; see the contract).
    ekstern_saksreferanse: str | None = None


@dataclass(frozen=True)
class UploadedAttachment:
    """An uploaded file: its uuid and the state the upload reply gave (None: none given)."""

    uuid: str
    state: str | None = None


@dataclass(frozen=True)
class Accepted:
    """ELAN holds the begjæring; the reference is None for validate or an unrecovered duplicate."""

    ekstern_saksreferanse: str | None
    korrelasjonsid: str
    already_submitted: bool = False


@dataclass(frozen=True)
class Rejected:
    """422: the begjæring broke the listed rules; it will not pass until it is corrected."""

    rules: tuple[RuleViolation, ...]
    korrelasjonsid: str | None
    kode: str | None
    melding: str


@dataclass(frozen=True)
class _Failed:
    error: ElanError

    @property
    def kode(self) -> str | None:
        """The server's error code (`XXX-002` …), if it sent one."""
        return self.error.kode

    @property
    def melding(self) -> str:
        """The server's message, or ours when it sent none."""
        return self.error.message

    @property
    def korrelasjonsid(self) -> str | None:
        """The id of the last call made, to quote to Skatteetaten."""
        return self.error.korrelasjonsid

    @property
    def http_status(self) -> int | None:
        """The last HTTP status, None after a network error."""
        return self.error.http_status


@dataclass(frozen=True)
class FailedTemporarily(_Failed):
    """Retries ran out on a transient failure; the same call may succeed later."""


@dataclass(frozen=True)
class FailedPermanently(_Failed):
    """The call will not succeed as it is (400/401/403/404/406 …)."""


SubmitResult = Accepted | Rejected | FailedTemporarily | FailedPermanently


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def rules_from_body(body: Mapping[str, Any]) -> tuple[RuleViolation, ...]:
    """Read `kontrollutslag` (or the older `valideringsfeil`) tolerantly: unknown keys ignored."""
    raw = body.get("kontrollutslag")
    if raw is None:
        raw = body.get("valideringsfeil")
    if not isinstance(raw, list):
        return ()
    rules: list[RuleViolation] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        location = next((entry[k] for k in _LOCATION_KEYS if entry.get(k) is not None), None)
        rules.append(
            RuleViolation(
                kode=_text(entry.get("kode")) or "UKJENT",
                melding=_text(entry.get("melding")) or _text(entry.get("beskrivelse")) or "",
                lokasjon=_text(location),
                beskrivelse=_text(entry.get("beskrivelse")),
                ekstern_saksreferanse=_text(entry.get("eksternSaksreferanse")),
            )
        )
    return tuple(rules)
