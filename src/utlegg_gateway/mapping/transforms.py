"""Value transforms of the mapping language: pure functions, registered by name.

A transform takes the value so far and its (already validated) argument and returns the
new value, or raises `TransformError` with a stable `code`. Every transform is listed in
`TRANSFORMS` with a parser for its argument, so a mapping that names an unknown transform
or gives a bad argument fails when it is loaded, not when the first file arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "TRANSFORMS",
    "AmountFormat",
    "DatePattern",
    "Transform",
    "TransformError",
    "amount",
    "date_pattern",
    "parse_transform_arg",
]


class TransformError(ValueError):
    """A value did not fit a transform; `code` is stable, the message names the value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Transform:
    """A registered transform: the function and the parser of its argument."""

    name: str
    func: Callable[[Any, Any], Any]
    parse_arg: Callable[[Any], Any]
    doc: str


def _no_arg(arg: Any) -> None:
    if arg is not None:
        raise ValueError("takes no argument")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TransformError("invalid-value", f"expected text, got {value!r}")
    return value


# Spaces a legacy system may put in numbers: plain, no-break, narrow no-break, thin.
_NUMBER_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")
_DATE_NO = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _make_date(year: int, month: int, day: int, raw: str) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        raise TransformError("invalid-date", f"{raw!r} is not a real calendar date") from None


def date_no(value: Any, _arg: None) -> str:
    """`dd.mm.yyyy` (Norwegian) → ISO `yyyy-mm-dd`."""
    raw = _text(value)
    m = _DATE_NO.match(raw)
    if not m:
        raise TransformError("invalid-date", f"{raw!r} is not a date dd.mm.yyyy")
    return _make_date(int(m[3]), int(m[2]), int(m[1]), raw)


def date_iso(value: Any, _arg: None) -> str:
    """ISO `yyyy-mm-dd`, checked to be a real date."""
    raw = _text(value)
    m = _DATE_ISO.match(raw)
    if not m:
        raise TransformError("invalid-date", f"{raw!r} is not a date yyyy-mm-dd")
    return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)


def _parse_places(arg: Any) -> int:
    if arg is None:
        return 2
    if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
        raise ValueError("the argument is the maximum number of decimals (an integer ≥ 0)")
    return arg


_DECIMAL_NO = re.compile(r"^-?\d+(,\d+)?$")
_DECIMAL_POINT = re.compile(r"^-?\d+(\.\d+)?$")


def _to_decimal(
    raw: str, cleaned: str, pattern: re.Pattern[str], places: int, form: str
) -> Decimal:
    if not pattern.match(cleaned):
        raise TransformError("invalid-decimal", f"{raw!r} is not an amount ({form})")
    try:
        number = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes this
        raise TransformError("invalid-decimal", f"{raw!r} is not an amount") from None
    decimals = len(cleaned.replace(",", ".").partition(".")[2])
    if decimals > places:
        raise TransformError(
            "too-many-decimals", f"{raw!r} has {decimals} decimals, at most {places} allowed"
        )
    return number


def decimal_no(value: Any, places: int) -> Decimal:
    """`12 469,14` → 12469.14: decimal comma, spaces as thousands separators."""
    raw = _text(value)
    return _to_decimal(raw, _NUMBER_SPACES.sub("", raw), _DECIMAL_NO, places, "like 12 469,14")


def decimal_point(value: Any, places: int) -> Decimal:
    """`12469.14` → 12469.14: decimal point, no thousands separators."""
    raw = _text(value)
    return _to_decimal(raw, raw.strip(), _DECIMAL_POINT, places, "like 12469.14")


def integer(value: Any, _arg: None) -> int:
    """Whole number written in digits (`3`, `03`)."""
    raw = _text(value)
    if not re.fullmatch(r"-?\d+", raw):
        raise TransformError("invalid-integer", f"{raw!r} is not a whole number")
    return int(raw)


_TRUE = frozenset({"j", "ja", "y", "yes", "true", "1"})
_FALSE = frozenset({"n", "nei", "no", "false", "0"})


def boolean(value: Any, _arg: None) -> bool:
    """`J`/`N`, `ja`/`nei`, `true`/`false`, `1`/`0` (any case) → true/false."""
    if isinstance(value, bool):
        return value
    raw = _text(value).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise TransformError("invalid-boolean", f"{value!r} is not J/N or true/false")


def _parse_code_map(arg: Any) -> dict[str, Any]:
    if not isinstance(arg, Mapping) or not arg:
        raise ValueError("the argument is a mapping of source codes to target values")
    return {str(k): v for k, v in arg.items()}


def code_map(value: Any, table: dict[str, Any]) -> Any:
    """Look a code up in a table; `"*"` is the fallback; anything else is an unknown code."""
    key = value if isinstance(value, str) else str(value)
    if key in table:
        return table[key]
    if "*" in table:
        return table["*"]
    known = ", ".join(sorted(k for k in table if k != "*"))
    raise TransformError("unknown-code", f"unknown code {key!r} (known: {known})")


_DIGIT_SEPARATORS = re.compile(r"[ .\-\u00a0]")


def digits(value: Any, _arg: None) -> str:
    """Keep the digits of `1234.56.78903` / `123 45 678`; any other character is an error."""
    raw = _text(value)
    out = _DIGIT_SEPARATORS.sub("", raw)
    if not out.isdigit() or not out.isascii():
        raise TransformError("invalid-digits", f"{raw!r} holds more than digits and separators")
    return out


def name_comma(value: Any, _arg: None) -> dict[str, str]:
    """`ETTERNAVN, FORNAVN MELLOMNAVN…` → {fornavn, mellomnavn?, etternavn}."""
    raw = _text(value)
    last, sep, given = raw.partition(",")
    words = given.split()
    if not sep or not last.strip() or not words:
        raise TransformError("invalid-name", f"{raw!r} is not 'ETTERNAVN, FORNAVN [MELLOMNAVN]'")
    out = {"fornavn": words[0]}
    if len(words) > 1:
        out["mellomnavn"] = " ".join(words[1:])
    out["etternavn"] = " ".join(last.split())
    return out


def name_last(value: Any, _arg: None) -> dict[str, str]:
    """`Fornavn [Fornavn2] Etternavn` → {fornavn: all but the last word, etternavn: last}."""
    raw = _text(value)
    words = raw.split()
    if len(words) < 2:
        raise TransformError("invalid-name", f"{raw!r} is not 'Fornavn Etternavn'")
    return {"fornavn": " ".join(words[:-1]), "etternavn": words[-1]}


def _parse_sep(arg: Any) -> str:
    if arg is None:
        return "|"
    if not isinstance(arg, str) or not arg:
        raise ValueError("the argument is the separator (a non-empty string)")
    return arg


def split(value: Any, sep: str) -> list[str]:
    """`a|b|c` → [a, b, c]; empty parts are dropped."""
    return [part.strip() for part in _text(value).split(sep) if part.strip()]


def _parse_pairs_arg(arg: Any) -> tuple[str, str]:
    if arg is None:
        return ("|", "=")
    if not isinstance(arg, Mapping) or set(arg) - {"items", "pair"}:
        raise ValueError("the argument is {items: <separator>, pair: <separator>}")
    items, pair = arg.get("items", "|"), arg.get("pair", "=")
    if not (isinstance(items, str) and items and isinstance(pair, str) and pair):
        raise ValueError("'items' and 'pair' must be non-empty strings")
    return (items, pair)


def split_pairs(value: Any, seps: tuple[str, str]) -> list[dict[str, str]]:
    """`k1=v1|k2=v2` → [{key: k1, value: v1}, …], for series like `dd.mm.yyyy=amount|…`."""
    raw = _text(value)
    out = []
    for part in raw.split(seps[0]):
        if not part.strip():
            continue
        key, sep, val = part.partition(seps[1])
        if not sep or not key.strip() or not val.strip():
            raise TransformError(
                "invalid-pair", f"{part.strip()!r} in {raw!r} is not 'key{seps[1]}value'"
            )
        out.append({"key": key.strip(), "value": val.strip()})
    return out


def upper(value: Any, _arg: None) -> str:
    """Upper case."""
    return _text(value).upper()


def lower(value: Any, _arg: None) -> str:
    """Lower case."""
    return _text(value).lower()


def _parse_key(arg: Any) -> str:
    if not isinstance(arg, str) or not arg:
        raise ValueError("the argument is the key to take")
    return arg


def get(value: Any, key: str) -> Any:
    """Take one key of an object value (after a name split, for example)."""
    if not isinstance(value, Mapping):
        raise TransformError("invalid-value", f"expected an object to take {key!r} from")
    return value.get(key)


# -- transforms with arguments ---------------------------------------------------------
_DATE_TOKENS = {
    "%Y": ("year", r"(\d{4})"),
    "%y": ("yy", r"(\d{2})"),
    "%m": ("month", r"(\d{2})"),
    "%d": ("day", r"(\d{2})"),
    "YYYY": ("year", r"(\d{4})"),
    "YY": ("yy", r"(\d{2})"),
    "MM": ("month", r"(\d{2})"),
    "DD": ("day", r"(\d{2})"),
}
_TOKEN = re.compile(r"%[Yymd]|YYYY|YY|MM|DD|%")


@dataclass(frozen=True, slots=True)
class DatePattern:
    """A compiled date pattern: the regex, the order of its parts, the century pivot."""

    text: str
    regex: re.Pattern[str]
    parts: tuple[str, ...]
    pivot: int


def _parse_date_arg(arg: Any) -> DatePattern:
    if isinstance(arg, str):
        arg = {"format": arg}
    if not isinstance(arg, Mapping) or "format" not in arg or set(arg) - {"format", "pivot"}:
        raise ValueError(
            "the argument is {format: PATTERN, pivot: YY} with PATTERN like '%Y%m%d' or 'DDMMYY'"
        )
    text = arg["format"]
    pivot = arg.get("pivot", 70)
    if not isinstance(text, str) or not text:
        raise ValueError("format is a pattern like '%Y%m%d', '%d.%m.%Y' or 'DDMMYY'")
    if isinstance(pivot, bool) or not isinstance(pivot, int) or not 0 <= pivot <= 100:
        raise ValueError("pivot is a two-digit year 0-100: YY below it is 20YY, else 19YY")
    regex, parts, at = "", [], 0
    for m in _TOKEN.finditer(text):
        regex += re.escape(text[at : m.start()])
        at = m.end()
        if m[0] == "%":
            raise ValueError(f"{text!r}: only %Y %y %m %d (or YYYY YY MM DD) are supported")
        part, rx = _DATE_TOKENS[m[0]]
        regex += rx
        parts.append(part)
    regex += re.escape(text[at:])
    if sorted(p if p != "yy" else "year" for p in parts) != ["day", "month", "year"]:
        raise ValueError(f"{text!r} needs a day, a month and a year, each once")
    return DatePattern(text, re.compile(f"^{regex}$"), tuple(parts), pivot)


def date_pattern(value: Any, pattern: DatePattern) -> str:
    """A date written by `pattern` → ISO `yyyy-mm-dd`; two-digit years by the pivot."""
    raw = _text(value)
    m = pattern.regex.match(raw)
    if not m:
        raise TransformError("invalid-date", f"{raw!r} is not a date {pattern.text}")
    got = dict(zip(pattern.parts, (int(g) for g in m.groups()), strict=True))
    year = got.get("year")
    if year is None:
        yy = got["yy"]
        year = (2000 if yy < pattern.pivot else 1900) + yy
    return _make_date(year, got["month"], got["day"], raw)


@dataclass(frozen=True, slots=True)
class AmountFormat:
    """How an amount is written: separators, implied decimals, overpunched sign."""

    decimal: str
    thousands: str
    scale: int
    places: int
    overpunch: bool


_AMOUNT_KEYS = frozenset({"decimal", "thousands", "scale", "places", "overpunch"})
# COBOL zoned decimal: the last digit carries the sign ({ A-I positive, } J-R negative).
_OVERPUNCH = {
    **{c: (str(i), 1) for i, c in enumerate("{ABCDEFGHI")},
    **{c: (str(i), -1) for i, c in enumerate("}JKLMNOPQR")},
}


def _parse_amount_arg(arg: Any) -> AmountFormat:
    arg = {} if arg is None else arg
    if not isinstance(arg, Mapping) or set(arg) - _AMOUNT_KEYS:
        keys = ", ".join(sorted(_AMOUNT_KEYS))
        raise ValueError(f"the argument is a mapping with any of {keys}")
    decimal_sep = arg.get("decimal", ",")
    thousands = arg.get("thousands", " ")
    scale = arg.get("scale", 0)
    places = arg.get("places", 2)
    overpunch = arg.get("overpunch", False)
    if decimal_sep not in {",", "."}:
        raise ValueError("decimal is ',' or '.'")
    if not isinstance(thousands, str) or len(thousands) > 1 or thousands == decimal_sep:
        raise ValueError("thousands is one character (or '') other than the decimal separator")
    for name, number in (("scale", scale), ("places", places)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"{name} is a whole number")
    if places < 0:
        raise ValueError("places is the maximum number of decimals (≥ 0)")
    if not isinstance(overpunch, bool):
        raise ValueError("overpunch is true or false")
    return AmountFormat(decimal_sep, thousands, scale, places, overpunch)


def amount(value: Any, fmt: AmountFormat) -> Decimal:
    """An amount as written by `fmt` → Decimal; `scale: -2` reads øre as kroner."""
    raw = _text(value)
    text = raw.strip()
    sign = 1
    if fmt.overpunch and text and text[-1] in _OVERPUNCH:
        digit, sign = _OVERPUNCH[text[-1]]
        text = text[:-1] + digit
    if text[-1:] in {"-", "+"}:  # a trailing sign, as some mainframe exports write it
        sign, text = (-1 if text[-1] == "-" else 1) * sign, text[:-1].rstrip()
    if text[:1] in {"-", "+"}:
        sign, text = (-1 if text[0] == "-" else 1) * sign, text[1:].lstrip()
    if fmt.thousands:
        text = text.replace(fmt.thousands, "")
        if fmt.thousands == " ":
            text = _NUMBER_SPACES.sub("", text)
    whole, sep, frac = text.partition(fmt.decimal)
    if (
        not whole.isdigit()
        or not whole.isascii()
        or (sep and not (frac.isdigit() and frac.isascii()))
    ):
        raise TransformError("invalid-decimal", f"{raw!r} is not an amount")
    number = Decimal(f"{whole}.{frac}" if sep else whole).scaleb(fmt.scale)
    if sign < 0:
        number = -number
    exponent = number.as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    if decimals > fmt.places:
        # Trailing zeros are not extra precision: 12.300 is 12.30.
        normal = number.normalize()
        exp = normal.as_tuple().exponent
        decimals = max(0, -exp) if isinstance(exp, int) else 0
        if decimals > fmt.places:
            raise TransformError(
                "too-many-decimals",
                f"{raw!r} has {decimals} decimals, at most {fmt.places} allowed",
            )
        number = normal.quantize(Decimal(1).scaleb(-fmt.places))
    return number


@dataclass(frozen=True, slots=True)
class Slice:
    """`substring`: 1-based start and an optional length."""

    start: int
    length: int | None


def _parse_substring(arg: Any) -> Slice:
    if not isinstance(arg, Mapping) or "start" not in arg or set(arg) - {"start", "length"}:
        raise ValueError("the argument is {start: N, length: M} (1-based; length optional)")
    start, length = arg["start"], arg.get("length")
    if isinstance(start, bool) or not isinstance(start, int) or start < 1:
        raise ValueError("start is a position from 1")
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or length < 0
    ):
        raise ValueError("length is a whole number ≥ 0")
    return Slice(start, length)


def substring(value: Any, part: Slice) -> str:
    """Part of a text: `{start: 1, length: 4}` of `20251103` is `2025`."""
    raw = _text(value)
    stop = None if part.length is None else part.start - 1 + part.length
    return raw[part.start - 1 : stop]


@dataclass(frozen=True, slots=True)
class Pad:
    """`pad`: the width, the fill character and the side."""

    width: int
    char: str
    side: str


def _parse_pad(arg: Any) -> Pad:
    if isinstance(arg, int) and not isinstance(arg, bool):
        arg = {"width": arg}
    if not isinstance(arg, Mapping) or "width" not in arg or set(arg) - {"width", "char", "side"}:
        raise ValueError("the argument is {width: N, char: '0', side: left|right}")
    width, char, side = arg["width"], arg.get("char", "0"), arg.get("side", "left")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError("width is a whole number ≥ 1")
    if not isinstance(char, str) or len(char) != 1:
        raise ValueError("char is one character")
    if side not in {"left", "right"}:
        raise ValueError("side is left or right")
    return Pad(width, char, side)


def pad(value: Any, how: Pad) -> str:
    """Pad to a width: an account number that lost its leading zero gets it back."""
    raw = value if isinstance(value, str) else str(value)
    return raw.rjust(how.width, how.char) if how.side == "left" else raw.ljust(how.width, how.char)


def _parse_lookup(arg: Any) -> dict[str, Any]:
    # The compiler replaces the file name by the table it holds (relative to the mapping).
    if isinstance(arg, Mapping) and isinstance(arg.get("table"), Mapping):
        return _parse_code_map(arg["table"])
    raise ValueError("the argument is {file: TABLE.yaml|TABLE.csv}, relative to the mapping")


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("date_no", date_no, _no_arg, "dd.mm.yyyy → yyyy-mm-dd"),
        Transform("date_iso", date_iso, _no_arg, "yyyy-mm-dd, checked"),
        Transform("decimal_no", decimal_no, _parse_places, "12 469,14 → 12469.14"),
        Transform("decimal", decimal_point, _parse_places, "12469.14 → 12469.14"),
        Transform("integer", integer, _no_arg, "'3' → 3"),
        Transform("boolean", boolean, _no_arg, "J/N, true/false → true/false"),
        Transform("map", code_map, _parse_code_map, "code table; '*' = fallback"),
        Transform("digits", digits, _no_arg, "1234.56.78903 → 12345678903"),
        Transform("name_comma", name_comma, _no_arg, "ETTERNAVN, FORNAVN → personnavn"),
        Transform("name_last", name_last, _no_arg, "Fornavn Etternavn → personnavn"),
        Transform("split", split, _parse_sep, "a|b → [a, b]"),
        Transform("split_pairs", split_pairs, _parse_pairs_arg, "k=v|k=v → [{key, value}]"),
        Transform("upper", upper, _no_arg, "upper case"),
        Transform("lower", lower, _no_arg, "lower case"),
        Transform("get", get, _parse_key, "one key of an object"),
        Transform("date", date_pattern, _parse_date_arg, "{format: '%Y%m%d'} → yyyy-mm-dd"),
        Transform("amount", amount, _parse_amount_arg, "{scale: -2, decimal: ','} → Decimal"),
        Transform("substring", substring, _parse_substring, "{start: 1, length: 4}"),
        Transform("pad", pad, _parse_pad, "{width: 11, char: '0', side: left}"),
        Transform("lookup", code_map, _parse_lookup, "{file: table.yaml}: code table in a file"),
    )
}


def parse_transform_arg(name: str, arg: Any) -> Any:
    """Validate a transform's argument at load time; raises KeyError/ValueError."""
    return TRANSFORMS[name].parse_arg(arg)
