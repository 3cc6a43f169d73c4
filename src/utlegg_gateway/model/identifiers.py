"""Norwegian identifiers: pure checks returning a reason (Norwegian text) or None.

python-stdnum does the check digits of fødselsnummer, organisasjonsnummer and Luhn. Its
kontonummer check reads numbers starting with 0000 as old postgiro numbers (7 digits,
Luhn), which ELAN's 11-digit account field is not, so the mod 11 is written here. Its
person date logic is not used either: stdnum reads a month above 40 as an H-number and
so refuses Tenor's synthetic identities (month + 80); the date rules are written here.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from enum import Enum

from stdnum import luhn
from stdnum.no import fodselsnummer, orgnr

from utlegg_gateway.config import Environment

__all__ = [
    "SYNTHETIC",
    "PersonKind",
    "birth_date",
    "check_kid",
    "check_kontonummer",
    "check_orgnr",
    "check_person_number",
    "is_synthetic_orgnr",
    "is_synthetic_person",
    "person_kind",
]

# The reason returned for a valid synthetic (Tenor) identity in production.
SYNTHETIC = "syntetisk testidentitet (Tenor) er ikke gyldig i produksjon"

_DIGITS = re.compile(r"^\d+$")
# Tenor (Syntetisk Norge) adds 80 to the month of a synthetic fødselsnummer/D-nummer.
_TENOR_MONTH_OFFSET = 80
_D_NUMBER_DAY_OFFSET = 40


class PersonKind(Enum):
    """What an 11-digit person number is."""

    FOEDSELSNUMMER = "fødselsnummer"
    D_NUMMER = "D-nummer"


def _century(year2: int, individual: int) -> int | None:
    # Skatteetaten's allocation of individual numbers to centuries.
    if individual < 500:
        return 1900
    if individual < 750 and year2 >= 54:
        return 1800
    if year2 < 40:
        return 2000
    if individual >= 900:
        return 1900
    return None


def _split(number: str) -> tuple[int, int, int, int, bool]:
    """Day, month, two-digit year, individual number, synthetic flag (undecoded offsets)."""
    day, month = int(number[0:2]), int(number[2:4])
    synthetic = month > _TENOR_MONTH_OFFSET
    if synthetic:
        month -= _TENOR_MONTH_OFFSET
    return day, month, int(number[4:6]), int(number[6:9]), synthetic


def person_kind(number: str) -> PersonKind:
    """Fødselsnummer or D-nummer (first digit raised by 4); assumes 11 digits."""
    return (
        PersonKind.D_NUMMER
        if int(number[0:2]) > _D_NUMBER_DAY_OFFSET
        else PersonKind.FOEDSELSNUMMER
    )


def birth_date(number: str) -> dt.date | None:
    """The birth date coded in a fødselsnummer / D-nummer (Tenor too), or None."""
    if len(number) != 11 or not _DIGITS.match(number):
        return None
    day, month, year2, individual, _ = _split(number)
    if day > _D_NUMBER_DAY_OFFSET:
        day -= _D_NUMBER_DAY_OFFSET
    century = _century(year2, individual)
    if century is None:
        return None
    try:
        return dt.date(century + year2, month, day)
    except ValueError:
        return None


def is_synthetic_person(number: str) -> bool:
    """True for a Tenor identity (month + 80); assumes 11 digits."""
    return _split(number)[4]


def check_person_number(number: str, environment: Environment) -> str | None:
    """Why `number` is not a usable fødselsnummer or D-nummer here, or None when it is."""
    if len(number) != 11 or not _DIGITS.match(number):
        return "må bestå av 11 siffer"
    kind = person_kind(number).value
    if fodselsnummer.calc_check_digit1(number[:9]) != number[9] or (
        fodselsnummer.calc_check_digit2(number[:10]) != number[10]
    ):
        return f"kontrollsifrene i {kind} stemmer ikke (modulus 11)"
    if birth_date(number) is None:
        return f"{kind} inneholder ikke en gyldig fødselsdato"
    if is_synthetic_person(number) and environment == "prod":
        return SYNTHETIC
    return None


def is_synthetic_orgnr(number: str) -> bool:
    """True for a Tenor test organisation: real numbers start with 8 or 9."""
    return number[:1] not in ("8", "9")


# The files of one agency repeat a few organisation numbers (its own, its clients') in
# every case: stdnum's check ran 8 times per case. Public register numbers, so keeping
# some in memory is harmless; personal numbers are not cached.
@functools.lru_cache(maxsize=4096)
def check_orgnr(number: str, environment: Environment) -> str | None:
    """Why `number` is not a usable organisasjonsnummer here, or None when it is."""
    if len(number) != 9 or not _DIGITS.match(number):
        return "må bestå av 9 siffer"
    if not orgnr.is_valid(number):
        return "kontrollsifferet i organisasjonsnummeret stemmer ikke (modulus 11)"
    if environment == "prod" and is_synthetic_orgnr(number):
        return SYNTHETIC
    return None


def check_kontonummer(number: str) -> str | None:
    """Why `number` is not a valid Norwegian account number (11 digits, mod 11), or None."""
    if len(number) != 11 or not _DIGITS.match(number):
        return "kontonummer må bestå av 11 siffer"
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    check = (11 - sum(w * int(d) for w, d in zip(weights, number, strict=False)) % 11) % 11
    if check == 10 or str(check) != number[10]:
        return "kontrollsifferet i kontonummeret stemmer ikke (modulus 11)"
    return None


def _mod11_kid_digit(body: str) -> str:
    weights = [2, 3, 4, 5, 6, 7]
    total = sum(int(d) * weights[i % 6] for i, d in enumerate(reversed(body)))
    rest = 11 - total % 11
    if rest == 11:
        return "0"
    if rest == 10:
        return "-"
    return str(rest)


def check_kid(kid: str) -> str | None:
    """Why `kid` is not a valid KID (2-25 characters, mod 10 or mod 11), or None."""
    if not 2 <= len(kid) <= 25 or not re.match(r"^\d+[\d-]$", kid):
        return "KID må ha 2-25 siffer (siste kan være '-')"
    body, check = kid[:-1], kid[-1]
    if check != "-" and luhn.is_valid(kid):
        return None
    if _mod11_kid_digit(body) == check:
        return None
    return "kontrollsifferet stemmer verken etter modulus 10 eller modulus 11"
