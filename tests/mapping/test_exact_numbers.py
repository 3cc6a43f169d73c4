"""Amounts stay exact from the source text to the JSON number; dates parse in every pattern.

Property tests (hypothesis): the amount transforms give the very Decimal that was written,
for up to 15 integer digits and 2 decimals, in every separator style and in øre; the JSON
number the engine writes is that decimal or the case fails (never a neighbouring double,
never `1.23e+09`); every supported date pattern reads back the date that was written.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from utlegg_gateway.mapping import build_file, load_mapping
from utlegg_gateway.mapping.engine import _first, json_number
from utlegg_gateway.mapping.transforms import TRANSFORMS, TransformError

from .conftest import write_mapping

AMOUNTS = st.decimals(
    min_value=Decimal("-999999999999999.99"),
    max_value=Decimal("999999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def run(name: str, value: Any, arg: Any = None) -> Any:
    transform = TRANSFORMS[name]
    return transform.func(value, transform.parse_arg(arg))


def grouped(digits: str, sep: str) -> str:
    """`1234567` → `1 234 567` with `sep`."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


@given(AMOUNTS)
def test_amount_round_trips_every_style(value: Decimal) -> None:
    """Comma or point, with or without thousands separators, leading or trailing sign."""
    whole, _, frac = format(abs(value), "f").partition(".")
    sign = "-" if value < 0 else ""
    frac = frac or "00"
    cases = [
        (f"{sign}{grouped(whole, ' ')},{frac}", {}),
        (f"{sign}{grouped(whole, '.')},{frac}", {"thousands": "."}),
        (f"{sign}{grouped(whole, ',')}.{frac}", {"decimal": ".", "thousands": ","}),
        (f"{whole}.{frac}{sign}", {"decimal": ".", "thousands": ""}),
    ]
    for text, arg in cases:
        got = run("amount", text, arg)
        assert isinstance(got, Decimal)
        assert got == value, (text, arg)
    assert run("decimal_no", f"{sign}{grouped(whole, ' ')},{frac}") == value
    assert run("decimal", f"{sign}{whole}.{frac}") == value


@given(AMOUNTS)
def test_amount_in_oere_is_exact(value: Decimal) -> None:
    """`scale: -2` reads implied decimals (øre, `9(15)V99`) as kroner, digit for digit."""
    oere = int(value.scaleb(2))
    text = f"{abs(oere):017d}" + ("-" if oere < 0 else "")
    got = run("amount", text, {"scale": -2, "thousands": ""})
    assert got == value
    assert format(got, "f").endswith(format(abs(value), "f")[-2:])


@given(AMOUNTS)
def test_json_number_is_the_decimal_or_nothing(value: Decimal) -> None:
    """The JSON text of the number is the decimal itself; a value no double holds is None."""
    number = json_number(value)
    if number is None:
        assert len(value.normalize().as_tuple().digits) > 15
        return
    assert Decimal(json.dumps(number)) == value
    assert "e" not in json.dumps(number).lower()


@given(
    st.decimals(
        min_value=Decimal("-9999999999999.99"),
        max_value=Decimal("9999999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_up_to_15_significant_digits_always_fit(value: Decimal) -> None:
    """13 integer digits and 2 decimals: every value is written exactly."""
    number = json_number(value)
    assert number is not None
    assert Decimal(json.dumps(number)) == value


def test_an_amount_too_long_for_json_fails_its_case(tmp_path: Path) -> None:
    """999 999 999 999 999,99 is refused with amount-not-exact, not sent as 1e15."""
    mapping = write_mapping(
        tmp_path,
        """
        source: {kind: csv}
        case: {key: {col: SAK}}
        template:
          beloep: {col: B, transform: decimal_no}
        """,
    )
    source = tmp_path / "in.csv"
    source.write_text("SAK;B\nA;999 999 999 999 999,99\nB;123 456 789 012,34\n", encoding="utf-8")
    bad, good = build_file(source, load_mapping(mapping))
    assert not bad.ok
    assert [e.code for e in bad.errors] == ["amount-not-exact"]
    assert bad.errors[0].rule == "UGYLDIG_BELOEP"
    assert good.ok
    assert json.dumps(good.begjaering) == '{"beloep": 123456789012.34}'


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=2**53))
def test_xpath_numbers_are_written_in_full(number: int) -> None:
    """count()/sum() results come out as plain digits, never `1.23e+09`."""
    found = etree.XPath(f"{number} div 100")(etree.Element("x"))
    assert isinstance(found, float)
    text = _first(found)
    assert "e" not in text.lower()
    assert Decimal(text) == Decimal(repr(float(found)))


_PATTERNS = [
    "%Y%m%d",
    "%d%m%Y",
    "%d.%m.%Y",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d%m%y",
    "%y%m%d",
    "YYYYMMDD",
    "DDMMYYYY",
    "DDMMYY",
    "YYMMDD",
    "DD.MM.YY",
    "MM-DD-YYYY",
]


def _write(day: date, pattern: str) -> str:
    out = pattern
    for token, text in (
        ("YYYY", f"{day.year:04d}"),
        ("%Y", f"{day.year:04d}"),
        ("YY", f"{day.year % 100:02d}"),
        ("%y", f"{day.year % 100:02d}"),
        ("MM", f"{day.month:02d}"),
        ("%m", f"{day.month:02d}"),
        ("DD", f"{day.day:02d}"),
        ("%d", f"{day.day:02d}"),
    ):
        out = out.replace(token, text)
    return out


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(_PATTERNS),
    st.integers(min_value=0, max_value=100),
)
def test_every_date_pattern_reads_back(day: date, pattern: str, pivot: int) -> None:
    """Four-digit years exactly; two-digit years by the pivot (below it 20YY, else 19YY)."""
    text = _write(day, pattern)
    if "YYYY" in pattern or "%Y" in pattern:
        assert run("date", text, {"format": pattern, "pivot": pivot}) == day.isoformat()
        return
    yy = day.year % 100
    year = (2000 if yy < pivot else 1900) + yy
    if (day.month, day.day) == (2, 29) and year % 4 == 0 and year != 1900:
        want = day.replace(year=year).isoformat()
    elif (day.month, day.day) == (2, 29):
        try:
            run("date", text, {"format": pattern, "pivot": pivot})
        except TransformError as exc:
            assert exc.code == "invalid-date"
            return
        raise AssertionError(f"{text} read as a date in {year}")
    else:
        want = day.replace(year=year).isoformat()
    assert run("date", text, {"format": pattern, "pivot": pivot}) == want


def test_date_no_and_date_iso_read_back_every_day_of_a_leap_year() -> None:
    """The fixed patterns too: every day of 2024, both ways."""
    day = date(2024, 1, 1)
    while day.year == 2024:
        assert run("date_no", day.strftime("%d.%m.%Y")) == day.isoformat()
        assert run("date_iso", day.isoformat()) == day.isoformat()
        day = date.fromordinal(day.toordinal() + 1)
