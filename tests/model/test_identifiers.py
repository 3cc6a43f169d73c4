"""Norwegian identifiers: generated valid numbers pass, one changed digit fails, Tenor by env."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from utlegg_gateway.model import identifiers as ids

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _mod11(body: str, weights: tuple[int, ...]) -> int:
    return (11 - sum(w * int(d) for w, d in zip(weights, body, strict=True))) % 11


def _person(birth: dt.date, individual: int, *, d_number: bool, tenor: bool) -> str | None:
    """Build a person number the way Skatteetaten does; None when no check digit fits."""
    day = birth.day + (40 if d_number else 0)
    month = birth.month + (80 if tenor else 0)
    body = f"{day:02d}{month:02d}{birth.year % 100:02d}{individual:03d}"
    k1 = _mod11(body, W1)
    if k1 == 10:
        return None
    k2 = _mod11(body + str(k1), W2)
    return None if k2 == 10 else f"{body}{k1}{k2}"


@st.composite
def person_numbers(draw: st.DrawFn, *, tenor: bool) -> str:
    """Valid fødselsnummer / D-nummer born 1900-1999 (individual 000-499)."""
    birth = draw(st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)))
    individual = draw(st.integers(0, 499))
    number = _person(birth, individual, d_number=draw(st.booleans()), tenor=tenor)
    if number is None:
        return draw(st.nothing())
    return number


@st.composite
def orgnrs(draw: st.DrawFn, first: str = "89") -> str:
    """Valid organisasjonsnummer whose first digit is from `first`."""
    body = draw(st.sampled_from(first)) + draw(st.text("0123456789", min_size=7, max_size=7))
    rest = sum(w * int(d) for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), body, strict=True)) % 11
    digit = 0 if rest == 0 else 11 - rest
    if digit == 10:
        return draw(st.nothing())
    return body + str(digit)


@st.composite
def kontonr(draw: st.DrawFn) -> str:
    """Valid Norwegian account numbers (mod 11 over 10 digits)."""
    body = draw(st.text("0123456789", min_size=10, max_size=10))
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    digit = _mod11(body, weights)
    if digit == 10:
        return draw(st.nothing())
    return body + str(digit)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def _kid11_digit(body: str) -> str:
    weights = [2, 3, 4, 5, 6, 7]
    total = sum(int(d) * weights[i % 6] for i, d in enumerate(reversed(body)))
    rest = 11 - total % 11
    return "0" if rest == 11 else "-" if rest == 10 else str(rest)


def _change_one_digit(number: str, position: int, delta: int) -> str:
    i = position % len(number)
    return number[:i] + str((int(number[i]) + delta) % 10) + number[i + 1 :]


@settings(deadline=None)  # no timing thresholds in tests
@given(person_numbers(tenor=False))
def test_valid_person_numbers_pass_in_both_environments(number: str) -> None:
    """A checksum-valid fødselsnummer or D-nummer with a real date is accepted."""
    assert ids.check_person_number(number, "test") is None
    assert ids.check_person_number(number, "prod") is None


@settings(deadline=None)  # no timing thresholds in tests
@given(person_numbers(tenor=False), st.integers(0, 10), st.integers(1, 9))
def test_any_single_digit_change_of_a_person_number_fails(
    number: str, position: int, delta: int
) -> None:
    """Mod 11 with two check digits catches every single-digit error."""
    changed = _change_one_digit(number, position, delta)
    assert ids.check_person_number(changed, "test") is not None


@settings(deadline=None)  # no timing thresholds in tests
@given(person_numbers(tenor=True))
def test_tenor_identities_are_valid_in_test_and_refused_in_prod(number: str) -> None:
    """Month + 80 marks a synthetic identity: fine in test, SYNTHETIC in prod."""
    assert ids.check_person_number(number, "test") is None
    assert ids.check_person_number(number, "prod") == ids.SYNTHETIC


@settings(deadline=None)  # no timing thresholds in tests
@given(orgnrs())
def test_valid_orgnr_pass_and_one_changed_digit_fails(number: str) -> None:
    """Organisasjonsnummer: mod 11; a single changed digit is always caught."""
    assert ids.check_orgnr(number, "prod") is None
    for position in range(9):
        assert ids.check_orgnr(_change_one_digit(number, position, 3), "test") is not None


@settings(deadline=None)  # no timing thresholds in tests
@given(orgnrs(first="23"))
def test_tenor_organisations_are_refused_in_prod_only(number: str) -> None:
    """Synthetic organisations (not starting with 8 or 9) are test-only."""
    assert ids.check_orgnr(number, "test") is None
    assert ids.check_orgnr(number, "prod") == ids.SYNTHETIC


@settings(deadline=None)  # no timing thresholds in tests
@given(kontonr(), st.integers(0, 10), st.integers(1, 9))
def test_kontonummer_mod11(number: str, position: int, delta: int) -> None:
    """A valid account number passes; any single-digit change fails."""
    assert ids.check_kontonummer(number) is None
    assert ids.check_kontonummer(_change_one_digit(number, position, delta)) is not None


@settings(deadline=None)  # no timing thresholds in tests
@given(st.text("0123456789", min_size=1, max_size=24), st.integers(0, 24), st.integers(1, 9))
def test_kid_mod10_and_mod11(body: str, position: int, delta: int) -> None:
    """KID with a Luhn or a mod 11 check digit passes; a changed body digit fails unless
    the result happens to be valid under the other algorithm."""
    for kid in (body + _luhn_digit(body), body + _kid11_digit(body)):
        assert ids.check_kid(kid) is None
    changed_body = _change_one_digit(body, position, delta)
    luhn_kid = changed_body + _luhn_digit(body)
    other_ok = (
        _kid11_digit(changed_body) == luhn_kid[-1] or _luhn_digit(changed_body) == luhn_kid[-1]
    )
    assert (ids.check_kid(luhn_kid) is None) == other_ok


def test_known_examples() -> None:
    """The identities of the official examples: D-nummer + Tenor, valid in test only."""
    assert ids.person_kind("44926701751") is ids.PersonKind.D_NUMMER
    assert ids.birth_date("10828697949") == dt.date(1986, 2, 10)
    assert ids.check_person_number("10828697949", "prod") == ids.SYNTHETIC
    assert ids.check_person_number("31028697949", "test") is not None  # no 31 February
    assert ids.check_person_number("1082869794", "test") == "må bestå av 11 siffer"
    assert ids.check_kid("2509937609") is None
    assert ids.check_kid("1234-") is not None
