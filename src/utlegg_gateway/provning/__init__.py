"""Local prøving: the server's validation rules, same rule names, run before anything is sent.

Public surface (other stages code against exactly this):

    validate(payload, ctx) -> list[Finding]     model + every locally decidable rule
    Finding(rule, message, location)            location is a JSON pointer into the payload
    ProvingContext(version, environment, today, previous)
    RULES                                       every documented rule: name -> RuleInfo
    SERVER_ONLY_RULES                           the rules only the server can decide

INTERFACE STUB: filled in by the model/provning work (issue 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from utlegg_gateway.config import Environment, ModelVersion

__all__ = ["RULES", "SERVER_ONLY_RULES", "Finding", "ProvingContext", "RuleInfo", "validate"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: the server's rule name (or our own code), its message, where."""

    rule: str
    message: str
    location: str  # JSON pointer into the payload, "" for the whole document


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A documented rule: name, Norwegian message template, description, origin."""

    name: str
    message: str
    description: str
    since: str
    changes_only: bool = False
    server_only: bool = False


@dataclass(frozen=True, slots=True)
class ProvingContext:
    """What a rule may know besides the payload."""

    today: date
    version: ModelVersion = "2.0"
    environment: Environment = "test"
    # The begjæring as last accepted, for the change-only rules (endring); None for new.
    previous: Mapping[str, Any] | None = field(default=None)


RULES: dict[str, RuleInfo] = {}
SERVER_ONLY_RULES: frozenset[str] = frozenset()


def validate(payload: Mapping[str, Any], ctx: ProvingContext) -> list[Finding]:
    """Check one begjæring; an empty list means it passes everything decidable locally."""
    return []
