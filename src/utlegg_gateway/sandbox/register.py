"""A small stand-in for the registers ELAN consults (Enhetsregisteret, the partsregister).

The five register rules of model 2.0+ need facts no payload carries: whether an
organisation is a hovedenhet or an underenhet, whether it is an enkeltpersonforetak (ENK),
whether a party exists at all. The sandbox answers them from this register, seeded with a
few synthetic test organisations (`SEEDED`) and extended through
`POST /_sandbox/register`. An identifier the register does not hold is taken as an active
hovedenhet that is not an ENK: the rules fire only for what a test put there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SEEDED", "RegisterEntry", "RegisterFinding", "register_findings"]


@dataclass(frozen=True)
class RegisterEntry:
    """One organisation (or person) as the register knows it."""

    identifikator: str
    enhetstype: str = "AS"  # Enhetsregisteret's organisasjonsform: AS, ENK, BEDR, …
    hovedenhet: str | None = None  # set for an underenhet: its hovedenhet's orgnr
    slettet: bool = False  # not (any more) in the register

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RegisterEntry:
        """An entry from the admin API's JSON (`identifikator` required)."""
        ident = data.get("identifikator")
        if not isinstance(ident, str) or not ident.isdigit():
            raise ValueError("identifikator must be a string of digits")
        hovedenhet = data.get("hovedenhet")
        return cls(
            identifikator=ident,
            enhetstype=str(data.get("enhetstype", "AS")),
            hovedenhet=str(hovedenhet) if hovedenhet is not None else None,
            slettet=bool(data.get("slettet", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON view for the admin API."""
        return {
            "identifikator": self.identifikator,
            "enhetstype": self.enhetstype,
            "hovedenhet": self.hovedenhet,
            "slettet": self.slettet,
        }


# Synthetic, valid organisation numbers (mod 11) that no published list uses.
SEEDED: tuple[RegisterEntry, ...] = (
    RegisterEntry("319100008", "AS"),  # a hovedenhet
    RegisterEntry("319100016", "BEDR", hovedenhet="319100008"),  # its underenhet
    RegisterEntry("319100024", "ENK"),  # an enkeltpersonforetak
    RegisterEntry("319100032", "AS", slettet=True),  # deleted from the register
)


@dataclass(frozen=True)
class RegisterFinding:
    """A broken register rule at a JSON pointer."""

    rule: str
    pointer: str


def _virksomheter(payload: Mapping[str, Any], role: str) -> Iterator[tuple[str, str, str]]:
    """(kind, identifier, pointer) of each party in `saksoeker` or `saksoekt`."""
    entries = payload.get(role)
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        party = entry.get(role) if isinstance(entry, Mapping) else None
        if not isinstance(party, Mapping):
            continue
        for kind in ("virksomhet", "person", "sammenslutning"):
            inner = party.get(kind)
            ident_obj = inner.get("identifikator") if isinstance(inner, Mapping) else None
            ident = (
                ident_obj.get("taxIdentificationNumber") if isinstance(ident_obj, Mapping) else None
            )
            if isinstance(ident, str):
                pointer = f"/{role}/{i}/{role}/{kind}/identifikator/taxIdentificationNumber"
                yield kind, ident, pointer


def register_findings(
    payload: Mapping[str, Any], register: Mapping[str, RegisterEntry]
) -> list[RegisterFinding]:
    """ER_IKKE_HOVEDENHET, SAKSOKER_ER_ENK, SAKSOEKT_ER_IKKE_HOVEDENHET, SAKSOEKT_ER_ENK
    and SAKSOEKT_MANGLER_I_REGISTERET, from what the register holds."""
    out: list[RegisterFinding] = []
    for kind, ident, pointer in _virksomheter(payload, "saksoeker"):
        entry = register.get(ident)
        if entry is None or kind != "virksomhet":
            continue
        if entry.hovedenhet is not None:
            out.append(RegisterFinding("ER_IKKE_HOVEDENHET", pointer))
        if entry.enhetstype == "ENK":
            out.append(RegisterFinding("SAKSOKER_ER_ENK", pointer))
    for kind, ident, pointer in _virksomheter(payload, "saksoekt"):
        entry = register.get(ident)
        if entry is None:
            continue
        if entry.slettet:
            out.append(RegisterFinding("SAKSOEKT_MANGLER_I_REGISTERET", pointer))
        elif kind == "virksomhet" and entry.hovedenhet is not None:
            out.append(RegisterFinding("SAKSOEKT_ER_IKKE_HOVEDENHET", pointer))
        elif kind == "virksomhet" and entry.enhetstype == "ENK":
            out.append(RegisterFinding("SAKSOEKT_ER_ENK", pointer))
    return out
