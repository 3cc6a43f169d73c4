"""Backoff policy and the translation of ELAN error responses: pure, no network."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from utlegg_gateway.config import ElanSettings, load_settings
from utlegg_gateway.elan._http import error_from_response, parse_retry_after
from utlegg_gateway.elan._retry import RetryPolicy
from utlegg_gateway.elan.results import rules_from_body
from utlegg_gateway.errors import (
    ConfigError,
    ElanPermanentError,
    ElanRejectedError,
    ElanTemporaryError,
)


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_to_the_cap_and_stops_at_the_count() -> None:
    """Waits double up to max_wait (jittered in the upper half), then stop at the count."""
    policy = RetryPolicy(attempts=6, total_seconds=1000, initial_wait=0.5, max_wait=2.0)
    clock = _FakeClock()
    backoff = policy.start(clock, random.Random(1))
    waits = []
    while (wait := backoff.next_wait()) is not None:
        waits.append(wait)
    assert len(waits) == 5
    for wait, ceiling in zip(waits, [0.5, 1.0, 2.0, 2.0, 2.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_stops_when_time_is_used_up() -> None:
    """No retry is offered once the next wait would pass the total time budget."""
    policy = RetryPolicy(attempts=100, total_seconds=10, initial_wait=1, max_wait=1)
    clock = _FakeClock()
    backoff = policy.start(clock, random.Random(2))
    count = 0
    while (wait := backoff.next_wait()) is not None:
        clock.now += wait
        count += 1
    assert clock.now <= 10
    assert 9 <= count <= 20


def test_retry_after_is_honoured() -> None:
    """A Retry-After longer than the backoff sets the wait."""
    policy = RetryPolicy(attempts=3, total_seconds=60, initial_wait=0.1, max_wait=0.2)
    backoff = policy.start(_FakeClock(), random.Random(3))
    assert backoff.next_wait(retry_after=7.0) == 7.0


def test_parse_retry_after_seconds_and_date() -> None:
    """Retry-After is read as seconds or as an HTTP date."""
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_422_with_three_rules_keeps_all() -> None:
    """A 422 keeps every rule (kode, melding, location) and the kode and korrelasjonsid."""
    body = {
        "kode": "XXX-422",
        "melding": "Begjæringen bryter 3 vilkår",
        "korrelasjonsid": "srv-1",
        "kontrollutslag": [
            {"kode": "MANGLER_KRAV", "melding": "a", "lokasjon": "/kravTilInnkreving"},
            {"kode": "UGYLDIG_KID", "melding": "b", "sti": "/krav/0/kid", "ekstra": 1},
            {"kode": "UGYLDIG_BELOEP", "beskrivelse": "c", "path": "/krav/1"},
        ],
    }
    error = error_from_response(_response(422, body), korrelasjonsid="mine")
    assert isinstance(error, ElanRejectedError)
    assert [r["kode"] for r in error.rules] == ["MANGLER_KRAV", "UGYLDIG_KID", "UGYLDIG_BELOEP"]
    assert [r["lokasjon"] for r in error.rules] == ["/kravTilInnkreving", "/krav/0/kid", "/krav/1"]
    assert error.korrelasjonsid == "srv-1" and error.kode == "XXX-422"
    assert rules_from_body(body)[2].melding == "c"


def test_503_is_temporary_with_retry_after_and_401_is_permanent() -> None:
    """503 and 429 are temporary (Retry-After kept); 400/401/403/404/406 are permanent."""
    error = error_from_response(
        _response(429, {"kode": "XXX-007", "melding": "for mange"}, {"Retry-After": "2"}),
        korrelasjonsid="k",
    )
    assert isinstance(error, ElanTemporaryError) and error.retry_after == 2.0
    assert error.kode == "XXX-007" and error.message == "for mange" and error.korrelasjonsid == "k"
    for status in (400, 401, 403, 404, 406):
        perm = error_from_response(_response(status, {}), korrelasjonsid="k")
        assert isinstance(perm, ElanPermanentError)
        assert perm.http_status == status


def test_prod_without_base_url_is_a_config_error() -> None:
    """prod has no published ELAN address: the client refuses to guess."""
    settings = load_settings(None, environ={"UTLEGG_GATEWAY__ENVIRONMENT": "prod"})
    with pytest.raises(ConfigError, match=r"elan\.base_url"):
        settings.elan.base_url_for(settings.environment)
    assert ElanSettings(base_url="https://x/").base_url_for("prod") == "https://x"


def test_concurrency_above_five_is_refused() -> None:
    """max_concurrency above Skatteetaten's 5 is a configuration error."""
    with pytest.raises(ConfigError, match="max_concurrency"):
        load_settings(None, environ={"UTLEGG_GATEWAY__ELAN__MAX_CONCURRENCY": "6"})
