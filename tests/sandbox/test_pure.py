"""The sandbox's pure parts: upload classification, status paths, fault plans, rule messages."""

from __future__ import annotations

from typing import Any

import pytest

from utlegg_gateway.sandbox.faults import FaultBook, parse_action, validate_plan
from utlegg_gateway.sandbox.options import DEFAULT_OUTCOMES, DEFAULT_STATUS_TIMINGS, SandboxClock
from utlegg_gateway.sandbox.rules import (
    EICAR,
    attachment_refs,
    attachment_state,
    case_status,
    classify_upload,
    message,
    timings_for,
)


@pytest.mark.parametrize(
    ("content", "outcome"),
    [
        (b"%PDF-1.7\n...", "ready"),
        (b"\x89PNG\r\n\x1a\n....", "ready"),
        (b"\xff\xd8\xff\xe0 jpeg", "ready"),
        ("Faktura nr 12\nBeløp 100,00\n".encode(), "ready"),
        (b"%PDF-1.4 " + EICAR, "virus"),
        (b"PK\x03\x04\xff\xfe\x00", "failed"),
        (b"", "failed"),
    ],
)
def test_classify_upload(content: bytes, outcome: str) -> None:
    """PDFs, images and text convert; EICAR anywhere is a virus; other binaries fail."""
    assert classify_upload(content) == outcome


def test_attachment_state_follows_the_clock() -> None:
    """Scanning until received_at + scanning seconds, then the outcome."""
    assert attachment_state("virus", 100.0, 101.9, 2.0) == "scanning"
    assert attachment_state("virus", 100.0, 102.0, 2.0) == "virus"


def test_default_status_path() -> None:
    """sakOpprettet until the first step is due, then each step in turn."""
    t = DEFAULT_STATUS_TIMINGS
    assert case_status(0.0, 59.9, t) == "sakOpprettet"
    assert case_status(0.0, 60.0, t) == "sakUnderBehandling"
    assert case_status(0.0, 3600.0, t) == "sakBesluttet"
    assert case_status(0.0, 10**9, t) == "sakAvsluttet"
    assert case_status(0.0, 10**9, t, override="sakHevet") == "sakHevet"


@pytest.mark.parametrize(
    ("ref", "final"), [("A-NEKTES", "sakNektetFremmet"), ("B-HEVES", "sakHevet")]
)
def test_outcome_suffix_cuts_the_path_short(ref: str, final: str) -> None:
    """A reference ending in an outcome suffix ends in that status at the second step."""
    path = timings_for(ref, DEFAULT_STATUS_TIMINGS, DEFAULT_OUTCOMES)
    assert case_status(0.0, 61.0, path) == "sakUnderBehandling"
    assert case_status(0.0, 10**9, path) == final
    assert timings_for("PLAIN", DEFAULT_STATUS_TIMINGS, DEFAULT_OUTCOMES) == DEFAULT_STATUS_TIMINGS


def test_attachment_refs_finds_every_vedlegg_with_its_pointer() -> None:
    """Vedlegg objects are found anywhere, with JSON pointers (escaped keys)."""
    payload = {
        "vedlegg": [{"type": "tvangsgrunnlag", "filnavn": "a", "uuid": "u1"}],
        "x/y": {"fullmakt": {"type": "fullmakt", "filnavn": "b"}},
    }
    assert [p for p, _ in attachment_refs(payload)] == ["/vedlegg/0", "/x~1y/fullmakt"]


def test_message_fills_placeholders() -> None:
    """Named placeholders are filled (longest name first) and positional %s in order."""
    text = message("DUPLIKAT_INNSENDING", begjæringsdato="2026-01-02", innsenderReferanse="R-1")
    assert "2026-01-02" in text
    assert "R-1" in text
    assert "%" not in text


def test_fault_plans_are_checked() -> None:
    """Unknown endpoints, actions and probabilities outside 0..1 are refused."""
    assert parse_action("delay:2.5") == ("delay", 2.5)
    assert parse_action("latency:0.05") == ("latency", 0.05)
    bad: dict[str, Any]
    for bad in (
        {"nowhere": {"sequence": ["500"]}},
        {"submit": {"sequence": ["boom"]}},
        {"submit": {"probability": 1.5}},
        {"submit": {}},
    ):
        with pytest.raises(ValueError, match=r"."):
            validate_plan(bad)


def test_sequence_runs_once_then_ok() -> None:
    """A scripted sequence is consumed call by call; afterwards every call is ok."""
    book = FaultBook({"submit": {"sequence": ["503", "drop"]}})
    assert [book.next_action("submit") for _ in range(4)] == ["503", "drop", "ok", "ok"]
    assert book.next_action("status") == "ok"


def test_clock_only_moves_forward() -> None:
    """Business time is wall time plus an offset that only grows; wall time never moves."""
    clock = SandboxClock(source=lambda: 1000.0)
    clock.advance(60)
    assert (clock.wall(), clock.now_ts()) == (1000.0, 1060.0)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
