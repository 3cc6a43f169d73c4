"""The exception tree: codes are stable and kebab-case, details are data."""

from __future__ import annotations

import pytest

from utlegg_gateway import errors


def _all_error_classes() -> list[type[errors.GatewayError]]:
    out: list[type[errors.GatewayError]] = []
    todo: list[type[errors.GatewayError]] = [errors.GatewayError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


def test_every_code_is_unique() -> None:
    """No two error classes share a code: receipts and logs rely on it."""
    codes = [cls.code for cls in _all_error_classes()]
    assert len(codes) == len(set(codes))


def test_non_kebab_code_is_refused() -> None:
    """A subclass with a code that is not kebab-case fails at definition time."""
    with pytest.raises(TypeError):

        class _Bad(errors.GatewayError):  # pyright: ignore[reportUnusedClass]
            code = "Not_Kebab"


def test_details_carry_location_attributes() -> None:
    """Details hold exactly the attributes that were set."""
    exc = errors.CaseError("bad date", file="a.csv", case="IB-1", row=3, field="begjaeringsdato")
    assert exc.details() == {
        "code": "case-invalid",
        "message": "bad date",
        "file": "a.csv",
        "case": "IB-1",
        "row": 3,
        "field": "begjaeringsdato",
    }
    assert "row=3" in str(exc)
