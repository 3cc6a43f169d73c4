"""Characters and plausibility: what no server rule names, but no begjæring should carry.

- `UGYLDIG_TEGN`: a NUL or another control character in any text; a bidi override or
  isolate anywhere (it makes text read other than it is); in a reference or identifier
  any invisible (format) character or whitespace but a plain space, such as the
  zero-width space in `IB-2025-\\u200b000127`, which defeats the duplicate check by a
  look-alike.
- `UPLAUSIBEL_DATO`: a date before 1900, or a begjæringsdato after today.
- `UPLAUSIBEL_LENGDE`: a name longer than 200 characters or any text longer than 4,000
  (the model publishes no lengths; these are far above any real value).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from utlegg_gateway.model.pointer import pointer
from utlegg_gateway.provning._emit import Emitter, as_date

__all__ = ["check_text"]

# References and identifiers: compared byte for byte by the server and by us.
_IDENTIFIER_KEYS = frozenset(
    {
        "innsenderReferanse",
        "innsendersKravreferanse",
        "relatertKravreferanse",
        "eksternSaksreferanse",
        "taxIdentificationNumber",
        "kidnummer",
        "kontonummer",
        "uuid",
        "organisasjonsnummer",
    }
)
_NAME_KEYS = frozenset({"navn", "fornavn", "mellomnavn", "etternavn"})
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_NAME_MAX = 200
_TEXT_MAX = 4000
_EARLIEST = date(1900, 1, 1)


def _bad_character(value: str, identifier: bool) -> str | None:
    """The first character this value may not hold, as U+XXXX NAME; None when clean."""
    # isprintable() is false for every character refused below (Cc, Cf — the bidi marks
    # are Cf —, Zl, Zp, and whitespace but the space, which is Cc or Z*): almost every
    # text passes in one C call instead of a category lookup per character.
    if value.isprintable():
        return None
    for ch in value:
        category = unicodedata.category(ch)
        bad = (
            (category == "Cc" and ch not in "\t\n\r")
            or ch in _BIDI
            or (identifier and (category in ("Cf", "Zl", "Zp") or (ch.isspace() and ch != " ")))
            or (identifier and category == "Cc")
        )
        if bad:
            return f"U+{ord(ch):04X} {unicodedata.name(ch, 'CONTROL CHARACTER')}"
    return None


def check_text(doc: Mapping[str, Any], em: Emitter) -> None:
    """UGYLDIG_TEGN, UPLAUSIBEL_DATO and UPLAUSIBEL_LENGDE over every text of the payload."""
    for key, path, value in em.texts(doc):
        bad = _bad_character(value, key in _IDENTIFIER_KEYS)
        if bad is not None:
            em.add("UGYLDIG_TEGN", pointer(*path), felt=key, tegn=bad)
            continue
        limit = _NAME_MAX if key in _NAME_KEYS else _TEXT_MAX
        if len(value) > limit:
            em.add("UPLAUSIBEL_LENGDE", pointer(*path), felt=key, lengde=len(value), maks=limit)
            continue
        if key.endswith("dato") or key in ("oppfyllelsesfrist", "foedselsdato"):
            day = as_date(value)
            if day is None:
                continue
            if day < _EARLIEST:
                em.add("UPLAUSIBEL_DATO", pointer(*path), felt=key, dato=value, grunn="før 1900")
            elif key == "begjaeringsdato" and day > em.ctx.today:
                em.add("UPLAUSIBEL_DATO", pointer(*path), felt=key, dato=value, grunn="fram i tid")
