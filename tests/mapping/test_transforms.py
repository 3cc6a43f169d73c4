"""Each transform of the mapping language: what it accepts, what it returns, how it fails."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from utlegg_gateway.mapping.transforms import TRANSFORMS, TransformError, parse_transform_arg


def run(name: str, value: Any, arg: Any = None) -> Any:
    transform = TRANSFORMS[name]
    return transform.func(value, transform.parse_arg(arg))


def fails(name: str, value: Any, arg: Any = None) -> TransformError:
    with pytest.raises(TransformError) as info:
        run(name, value, arg)
    return info.value


def test_date_no_converts_and_checks_the_calendar() -> None:
    """dd.mm.yyyy becomes ISO; 31.02 and other shapes fail with invalid-date naming the value."""
    assert run("date_no", "04.09.2025") == "2025-09-04"
    assert run("date_no", "4.9.2025") == "2025-09-04"
    err = fails("date_no", "31.02.2025")
    assert (err.code, "'31.02.2025'" in err.message) == ("invalid-date", True)
    assert fails("date_no", "2025-09-04").code == "invalid-date"


def test_date_iso_checks_shape_and_calendar() -> None:
    """yyyy-mm-dd passes; 2025-13-01 and dd.mm.yyyy fail."""
    assert run("date_iso", "2024-02-29") == "2024-02-29"
    assert fails("date_iso", "2025-13-01").code == "invalid-date"
    assert fails("date_iso", "01.01.2025").code == "invalid-date"


def test_decimal_no_reads_comma_and_thousands_spaces() -> None:
    """`12 469,14` (also with a no-break space) is 12469.14; a whole number stays whole."""
    assert run("decimal_no", "12 469,14") == Decimal("12469.14")
    assert run("decimal_no", "12\u00a0469,14") == Decimal("12469.14")
    assert run("decimal_no", "469") == Decimal("469")


def test_decimal_no_refuses_three_decimals_and_points() -> None:
    """Three decimals is too-many-decimals naming the value; a decimal point is refused."""
    err = fails("decimal_no", "1 400,005")
    assert err.code == "too-many-decimals"
    assert "'1 400,005'" in err.message
    assert fails("decimal_no", "1.400,00").code == "invalid-decimal"
    assert fails("decimal_no", "12,5x").code == "invalid-decimal"


def test_decimal_point_and_places_argument() -> None:
    """`decimal` reads 12469.14; the argument raises the allowed number of decimals."""
    assert run("decimal", "12469.14") == Decimal("12469.14")
    assert fails("decimal", "1,5").code == "invalid-decimal"
    assert fails("decimal", "0.125").code == "too-many-decimals"
    assert run("decimal", "0.125", 3) == Decimal("0.125")


def test_integer() -> None:
    """Digits are an integer; anything else is invalid-integer."""
    assert run("integer", "03") == 3
    assert fails("integer", "3.0").code == "invalid-integer"


@pytest.mark.parametrize(
    ("raw", "want"),
    [("J", True), ("n", False), ("true", True), ("False", False), ("1", True), ("nei", False)],
)
def test_boolean_accepts_norwegian_and_english(raw: str, want: bool) -> None:
    """J/N, ja/nei, true/false and 1/0 in any case are booleans."""
    assert run("boolean", raw) is want


def test_boolean_refuses_anything_else() -> None:
    """`X` is not a boolean."""
    assert fails("boolean", "X").code == "invalid-boolean"


def test_code_map_with_and_without_fallback() -> None:
    """Known codes map; unknown ones are unknown-code listing the known; `*` is a fallback."""
    table = {"U": "utlegg", "UF": "utleggOgForliksklageKombinert"}
    assert run("map", "UF", table) == "utleggOgForliksklageKombinert"
    err = fails("map", "X", table)
    assert err.code == "unknown-code"
    assert "'X'" in err.message
    assert "U, UF" in err.message
    assert run("map", "X", {**table, "*": "utlegg"}) == "utlegg"


def test_digits_strips_separators_only() -> None:
    """`0944.82.24632` gives digits; letters are invalid-digits."""
    assert run("digits", "0944.82.24632") == "09448224632"
    assert run("digits", "123 45 678") == "12345678"
    assert fails("digits", "0944.82.2463X").code == "invalid-digits"


def test_name_comma_splits_surname_first_names() -> None:
    """`ETTERNAVN, FORNAVN MELLOMNAVN` splits into the personnavn object."""
    assert run("name_comma", "MERR, SKJØNN ÆRLIG") == {
        "fornavn": "SKJØNN",
        "mellomnavn": "ÆRLIG",
        "etternavn": "MERR",
    }
    assert run("name_comma", "LYSEGUL, HENSIKT") == {"fornavn": "HENSIKT", "etternavn": "LYSEGUL"}
    assert fails("name_comma", "HENSIKT LYSEGUL").code == "invalid-name"


def test_name_last_takes_last_word_as_surname() -> None:
    """`Anna Marie Norman` is fornavn `Anna Marie`, etternavn `Norman`; one word fails."""
    assert run("name_last", "Anna Marie Norman") == {"fornavn": "Anna Marie", "etternavn": "Norman"}
    assert fails("name_last", "Anna").code == "invalid-name"


def test_split_and_split_pairs() -> None:
    """Lists split on the separator; pairs need both halves."""
    assert run("split", "a| b ||c") == ["a", "b", "c"]
    assert run("split_pairs", "01.04.2023=15 000,00|01.09.2023=8 749,50") == [
        {"key": "01.04.2023", "value": "15 000,00"},
        {"key": "01.09.2023", "value": "8 749,50"},
    ]
    assert run("split_pairs", "a:1;b:2", {"items": ";", "pair": ":"}) == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "2"},
    ]
    assert fails("split_pairs", "01.04.2023=15,00|01.09.2023").code == "invalid-pair"


def test_upper_lower_get() -> None:
    """Case changes and taking one key of an object value."""
    assert run("upper", "se") == "SE"
    assert run("lower", "E") == "e"
    assert run("get", {"fornavn": "A"}, "fornavn") == "A"
    assert fails("get", "text", "fornavn").code == "invalid-value"


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("map", {}),
        ("map", "U"),
        ("decimal", -1),
        ("split", ""),
        ("split_pairs", {"x": 1}),
        ("date_no", "x"),
    ],
)
def test_bad_arguments_are_refused_at_load(name: str, arg: Any) -> None:
    """A transform argument of the wrong shape is a ValueError when the mapping is loaded."""
    with pytest.raises(ValueError):
        parse_transform_arg(name, arg)
