"""The minimal valid begjæring the rule tests mutate: the official 1.1 simple example,
adjusted to be clean under model 2.0 too (so every rule of either version is active)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from utlegg_gateway.provning import ProvingContext

DATA = Path(__file__).resolve().parent.parent / "model" / "data"
SAMPLES = Path(__file__).resolve().parent / "data"
TODAY = date(2026, 1, 1)

HOVEDKRAV = "00890772001"
RENTEKRAV = "RentekravPåHovedkrav_00890772001_1"
KOSTNAD = "UtenrettsligKostnaderAvHovedkrav_00890772001"
VALID_UUID = "c85a1f04-e531-46af-a87c-0ad40febb694"


def load(name: str) -> Any:
    """An official example from tests/model/data."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def base() -> dict[str, Any]:
    """A fresh copy of the clean base payload."""
    doc: dict[str, Any] = load("model-1.1-begjaering-v1.json")
    doc = copy.deepcopy(doc)
    # 2.0 removed this code; 1.1 added its successors.
    doc["begjaeringensTvangsgrunnlag"][0]["begrunnelseUnnlatVarsel"] = "ingenMulighetForVarsling"
    # 2.0 (Feb 2026): a Rentekrav is sent without a due date.
    del doc["kravTilInnkreving"][1]["kravforfall"]
    return doc


def ctx(**kw: Any) -> ProvingContext:
    """The default context of the rule tests: model 2.0, test environment, fixed day."""
    kw.setdefault("today", TODAY)
    # Pinned: the golden file and the rule cases were recorded under 2.0, the default
    # before 2.1; the 2.1 tests ask for it by name.
    kw.setdefault("version", "2.0")
    return ProvingContext(**kw)


# Valid identifiers that are not synthetic, computed rather than copied from anyone.
def _fnr_check(body: str) -> str | None:
    w1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
    w2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    k1 = (11 - sum(a * int(b) for a, b in zip(w1, body, strict=True))) % 11
    if k1 == 10:
        return None
    k2 = (11 - sum(a * int(b) for a, b in zip(w2, body + str(k1), strict=True))) % 11
    return None if k2 == 10 else body + str(k1) + str(k2)


def real_fnr(birth: str = "010170") -> str:
    """A checksum-valid, non-synthetic fødselsnummer for the birth date ddmmyy."""
    for individual in range(100, 500):
        number = _fnr_check(f"{birth}{individual:03d}")
        if number:
            return number
    raise AssertionError("no valid number")


def _orgnr_check(body: str) -> str | None:
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    rest = sum(a * int(b) for a, b in zip(weights, body, strict=True)) % 11
    digit = 0 if rest == 0 else 11 - rest
    return None if digit == 10 else body + str(digit)


def real_orgnr(start: int = 91000000) -> str:
    """A checksum-valid organisasjonsnummer starting with 9 (not a Tenor one)."""
    for body in range(start, start + 100):
        number = _orgnr_check(str(body))
        if number:
            return number
    raise AssertionError("no valid number")
