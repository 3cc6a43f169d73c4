"""Log masking (issue 13, item 2): valid standalone person numbers go, identifiers stay.

The old mask replaced any 11-digit run, also the one inside a UUID korrelasjonsid
(`…-b02699084014` became `…-b*********14`): exactly what an operator must quote.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import uuid

from hypothesis import example, given
from hypothesis import strategies as st

from utlegg_gateway._logging import configure_logging, fields, is_person_number, mask
from utlegg_gateway.model.identifiers import check_person_number

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _mod11(body: str, weights: tuple[int, ...]) -> int:
    return (11 - sum(w * int(d) for w, d in zip(weights, body, strict=True))) % 11


@st.composite
def person_numbers(draw: st.DrawFn) -> str:
    """Valid fødselsnummer, D-nummer or Tenor identity (built as Skatteetaten does)."""
    birth = draw(st.dates(dt.date(1900, 1, 1), dt.date(2039, 12, 31)))
    day = birth.day + draw(st.sampled_from([0, 40]))
    month = birth.month + draw(st.sampled_from([0, 80]))
    body = f"{day:02d}{month:02d}{birth.year % 100:02d}{draw(st.integers(0, 999)):03d}"
    k1 = _mod11(body, W1)
    k2 = _mod11(body + str(k1), W2) if k1 != 10 else 10
    if 10 in (k1, k2):
        return draw(st.nothing())
    return f"{body}{k1}{k2}"


@st.composite
def kontonummer(draw: st.DrawFn) -> str:
    """An 11-digit Norwegian account number: modulus-11 check digit over the first ten."""
    body = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=10, max_size=10)))
    check = _mod11(body, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))
    if check == 10:
        return draw(st.nothing())
    return body + str(check)


@st.composite
def kids(draw: st.DrawFn) -> str:
    """A KID of 2-25 digits with a MOD10 (Luhn) check digit."""
    body = [int(d) for d in draw(st.text("0123456789", min_size=1, max_size=24))]
    total = 0
    for i, digit in enumerate(reversed(body)):
        doubled = digit * 2 if i % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


_SEPARATORS = st.sampled_from([" ", ": ", "=", "(", ")", ", ", "\n", "'", '"', "/"])


@given(st.uuids(), _SEPARATORS)
@example(uuid.UUID("bcb07a2f-8f7c-454c-8933-b02699084014"), " ")
def test_uuids_are_never_touched(value: uuid.UUID, sep: str) -> None:
    text = f"korrelasjonsid{sep}{value}{sep}eksternSaksreferanse={value.hex}"
    assert mask(text) == text


@given(person_numbers(), _SEPARATORS, _SEPARATORS)
def test_a_standalone_valid_person_number_is_masked(number: str, left: str, right: str) -> None:
    assert is_person_number(number)
    masked = mask(f"saksøkt{left}{number}{right}ok")
    assert number not in masked
    assert masked == f"saksøkt{left}*********{number[-2:]}{right}ok"


@given(person_numbers(), st.sampled_from(["IB-", "x", "7", "_", "A-2025-", "ref"]))
def test_a_person_number_inside_a_longer_token_is_left(number: str, prefix: str) -> None:
    for token in (prefix + number, number + "-" + prefix.strip("-"), number + prefix):
        assert mask(f"sak {token} ok") == f"sak {token} ok"


@given(kontonummer())
def test_kontonummer_is_left_unless_it_is_also_a_valid_person_number(number: str) -> None:
    expected = f"*********{number[-2:]}" if is_person_number(number) else number
    assert mask(f"konto {number}") == f"konto {expected}"


@given(kids())
def test_kids_are_left_unless_one_is_also_a_valid_person_number(kid: str) -> None:
    expected = f"*********{kid[-2:]}" if is_person_number(kid) else kid
    assert mask(f"KID {kid}.") == f"KID {expected}."


@given(st.text("0123456789", min_size=11, max_size=11))
def test_every_number_the_model_accepts_is_masked(number: str) -> None:
    """The mask is never narrower than the model's own check (century rules aside)."""
    if check_person_number(number, "test") is None:
        assert mask(number) == "*********" + number[-2:]


@given(person_numbers(), st.integers(0, 10), st.integers(1, 9))
def test_one_wrong_digit_is_no_person_number(number: str, place: int, delta: int) -> None:
    wrong = number[:place] + str((int(number[place]) + delta) % 10) + number[place + 1 :]
    assert not is_person_number(wrong)
    assert mask(f"tall {wrong}") == f"tall {wrong}"


def test_a_number_the_text_calls_a_foedselsnummer_is_masked_even_with_bad_check_digits() -> None:
    assert not is_person_number("01817612345")
    assert mask("ugyldig fødselsnummer 01817612345") == "ugyldig fødselsnummer *********45"
    assert mask("fnr: 01817612345") == "fnr: *********45"
    assert mask("antall 01817612345") == "antall 01817612345"


def test_the_log_handler_keeps_ids_and_masks_the_person_number() -> None:
    """Through the real handler, JSON lines: message and structured fields alike."""
    stream = io.StringIO()
    configure_logging(json_lines=True, level="INFO", stream=stream)
    try:
        logging.getLogger("utlegg_gateway.test").info(
            "svar fra ELAN for 05818004402",
            extra=fields(
                korrelasjonsid="bcb07a2f-8f7c-454c-8933-b02699084014",
                eksternSaksreferanse="d3f1c2b0-1234-4abc-9def-012345678901",
                debtor="05818004402",
            ),
        )
    finally:
        configure_logging(json_lines=False, level="WARNING")
    line = json.loads(stream.getvalue())
    assert line["msg"] == "svar fra ELAN for *********02"
    assert line["korrelasjonsid"] == "bcb07a2f-8f7c-454c-8933-b02699084014"
    assert line["eksternSaksreferanse"] == "d3f1c2b0-1234-4abc-9def-012345678901"
    assert line["debtor"] == "*********02"
    assert "05818004402" not in stream.getvalue()
