"""Limits and faults over real HTTP: 429 on the 6th call, scripted errors, drops, delays."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.sandbox._client import (
    GRANT_TYPE,
    HTTP,
    headers,
    reference,
    rules,
    submit,
    token,
    with_uploads,
)
from utlegg_gateway.sandbox import SandboxOptions, build_grant

ORGNR = "312597772"
_DEADLINE = 10.0


def _poll(condition: Any, what: str) -> None:
    """Wait for `condition()` with a bounded deadline (readiness polling, not a timing test)."""
    end = time.monotonic() + _DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _status(sb: Any, tok: str, timeout: float = 10.0) -> httpx.Response:
    return HTTP.get(
        sb.elan_base_url + "/status/TEST_SAK_OPPRETTET", headers=headers(tok), timeout=timeout
    )


def _kart(sb: Any, tok: str) -> httpx.Response:
    body = {"skyldner": [{"taxIdentificationNumber": "44926701751"}]}
    return HTTP.post(sb.elan_base_url + "/betjeningskartet", json=body, headers=headers(tok))


def _hold_five_status_calls(
    sb: Any, tok: str, key: str
) -> tuple[list[threading.Thread], list[int]]:
    sb.admin.set_faults({"status": {"sequence": ["delay:60"] * 5}})
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(_status(sb, tok).status_code))
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    _poll(lambda: sb.admin.stats()["in_flight"].get(key) == 5, "5 calls in flight")
    return threads, results


def test_sixth_concurrent_call_gets_429(sandbox: Any, sandbox_credentials: Any) -> None:
    """Five calls held in flight for one organisation on one API; the sixth is refused
    with Retry-After, while a call to another API (its own five) goes through."""
    tok = token(sandbox, sandbox_credentials)
    threads, results = _hold_five_status_calls(sandbox, tok, f"{ORGNR}/status")
    sixth = _status(sandbox, tok)
    assert sixth.status_code == 429
    assert sixth.headers["Retry-After"] == "1"
    assert sixth.json()["kode"] == "XXX-007"
    assert _kart(sandbox, tok).status_code == 200  # Betjeningskartet: another API
    sandbox.admin.release_delays()
    for t in threads:
        t.join(_DEADLINE)
    assert results == [200] * 5
    stats = sandbox.admin.stats()
    assert stats["max_concurrency_seen"] == 5
    assert stats["rejected_concurrency"] == 1
    assert stats["in_flight"] == {}


def test_organisation_scope_counts_every_api_together(
    make_sandbox: Any, sandbox_credentials: Any
) -> None:
    """concurrency_scope=organisation: five status calls in flight refuse a sixth call to
    any API of the organisation."""
    with make_sandbox(SandboxOptions(concurrency_scope="organisation")) as sb:
        tok = token(sb, sandbox_credentials)
        threads, results = _hold_five_status_calls(sb, tok, ORGNR)
        refused = _kart(sb, tok)
        sb.admin.release_delays()
        for t in threads:
            t.join(_DEADLINE)
    assert refused.status_code == 429
    assert results == [200] * 5


def test_scripted_sequence_then_ok(sandbox: Any, sandbox_credentials: Any) -> None:
    """A scripted sequence answers 500, 503, 429 in order and then normally."""
    tok = token(sandbox, sandbox_credentials)
    sandbox.admin.set_faults({"status": {"sequence": ["500", "503", "429"]}})
    answers = [_status(sandbox, tok) for _ in range(4)]
    # Strict mode answers XXX-002 with the documented 500.
    unavailable = 500 if sandbox.sandbox.options.strict else 503
    assert [a.status_code for a in answers] == [500, unavailable, 429, 200]
    assert [a.json().get("kode") for a in answers[:3]] == ["XXX-001", "XXX-002", "XXX-007"]
    assert answers[2].headers["Retry-After"] == "1"


def test_drop_closes_the_connection_without_answer(sandbox: Any, sandbox_credentials: Any) -> None:
    """`drop` resets the connection before any answer; the next call is normal."""
    tok = token(sandbox, sandbox_credentials)
    sandbox.admin.set_faults({"status": {"sequence": ["drop"]}})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _status(sandbox, tok)
    assert _status(sandbox, tok).status_code == 200
    assert sandbox.admin.stats()["answers"]["status:dropped"] == 1


def test_accept_then_drop_stores_the_case(make_sandbox: Any, sandbox_credentials: Any) -> None:
    """The case is in, the client never hears it; a resubmission is DUPLIKAT_INNSENDING."""
    with make_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=0.0)) as sb:
        tok = token(sb, sandbox_credentials)
        payload = reference()
        with_uploads(sb, tok, payload)
        sb.admin.set_faults({"submit": {"sequence": ["accept_then_drop"]}})
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            submit(sb, tok, payload)
        received = sb.admin.submissions()
        assert [(r["operation"], r["status"]) for r in received] == [("submit", 201)]
        stored_ref = received[0]["eksternSaksreferanse"]
        assert [c["eksternSaksreferanse"] for c in sb.admin.cases()] == [stored_ref]
        again = submit(sb, tok, payload)
        assert rules(again) == ["DUPLIKAT_INNSENDING"]
        assert again.json()["kontrollutslag"][0]["eksternSaksreferanse"] == stored_ref


def test_delay_longer_than_client_timeout(sandbox: Any, sandbox_credentials: Any) -> None:
    """A delay past the client's timeout reads as a timeout; the slot frees when it gives up."""
    tok = token(sandbox, sandbox_credentials)
    sandbox.admin.set_faults({"status": {"sequence": ["delay:60"]}})
    with pytest.raises(httpx.ReadTimeout):
        _status(sandbox, tok, timeout=0.3)
    _poll(lambda: sandbox.admin.stats()["in_flight"] == {}, "the abandoned call to end")
    assert _status(sandbox, tok).status_code == 200


def _outcomes(make_sandbox: Any, creds: Any, seed: int) -> list[int]:
    plan = {"status": {"probability": 0.5, "actions": ["500", "503"]}}
    with make_sandbox(SandboxOptions(faults=plan, fault_seed=seed)) as sb:
        tok = token(sb, creds)
        return [_status(sb, tok).status_code for _ in range(12)]


def test_probability_faults_replay_with_the_seed(
    make_sandbox: Any, sandbox_credentials: Any
) -> None:
    """A probability plan draws from a seeded RNG: the same seed, the same failures."""
    first = _outcomes(make_sandbox, sandbox_credentials, seed=7)
    assert first == _outcomes(make_sandbox, sandbox_credentials, seed=7)
    assert set(first) == {200, 500, 503}


def test_token_endpoint_faults(sandbox: Any, sandbox_credentials: Any) -> None:
    """The token endpoint fails as scripted (503, drop), then issues tokens again."""
    sandbox.admin.set_faults({"token": {"sequence": ["503", "drop"]}})

    def post() -> httpx.Response:
        grant = build_grant(sandbox_credentials, sandbox.issuer)
        return HTTP.post(
            sandbox.token_endpoint, data={"grant_type": GRANT_TYPE, "assertion": grant}
        )

    unavailable = post()
    assert unavailable.status_code == 503
    assert unavailable.json()["error"] == "temporarily_unavailable"
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post()
    assert post().status_code == 200


def test_unknown_fault_action_is_refused(sandbox: Any) -> None:
    """A plan with an unknown action or endpoint is a 400 from the admin API."""
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.admin.set_faults({"status": {"sequence": ["explode"]}})
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.admin.set_faults({"nowhere": {"sequence": ["500"]}})


def test_stats_sum_each_operation_s_handler_time_with_its_delay(
    sandbox: Any, sandbox_credentials: Any
) -> None:
    """`handler_seconds` holds what the sandbox spent answering, an injected delay in it:
    benchmarks set it against the client's own time per call."""
    tok = token(sandbox, sandbox_credentials)
    sandbox.admin.set_faults({"status": {"sequence": ["delay:0.2", "ok"]}})
    assert _status(sandbox, tok).status_code == 200
    assert _status(sandbox, tok).status_code == 200
    stats = sandbox.admin.stats()
    assert stats["calls"]["status"] == 2
    # The delayed call alone held it for its 0.2 s; nothing else was answered.
    assert stats["handler_seconds"]["status"] >= 0.2
    assert set(stats["handler_seconds"]) == {"status"}


@pytest.mark.parametrize(("action", "stored"), [("delay:60", False), ("latency:60", True)])
def test_a_client_leaving_a_slow_submit_finds_the_work_done_only_under_latency(
    make_sandbox: Any, sandbox_credentials: Any, action: str, stored: bool
) -> None:
    """`delay:` holds the call before the work; `latency:` does the work, then holds the
    answer, so a client that times out has its case in ELAN (a resubmission: DUPLIKAT)."""
    with make_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=0.0)) as sb:
        tok = token(sb, sandbox_credentials)
        payload = reference()
        with_uploads(sb, tok, payload)
        sb.admin.set_faults({"submit": {"sequence": [action]}})
        with pytest.raises(httpx.ReadTimeout):
            HTTP.post(
                sb.elan_base_url + "/utleggsbegjaering",
                json=payload,
                headers=headers(tok),
                timeout=0.5,
            )
        _poll(lambda: sb.admin.stats()["in_flight"] == {}, "the abandoned call to end")
        assert len(sb.admin.cases()) == (1 if stored else 0)
        again = submit(sb, tok, payload)
        if stored:
            assert rules(again) == ["DUPLIKAT_INNSENDING"]
        else:
            assert again.status_code == 201
        assert len(sb.admin.cases()) == 1


def test_latency_counts_the_sandbox_s_work_inside_the_time(
    sandbox: Any, sandbox_credentials: Any
) -> None:
    """`latency:0.2` answers once 0.2 s have passed since the call began, not 0.2 s after
    the work: the handler's whole time is at least the 0.2 s, the work inside it."""
    tok = token(sandbox, sandbox_credentials)
    sandbox.admin.set_faults({"status": {"sequence": ["latency:0.2"]}})
    answer = _status(sandbox, tok)
    assert answer.status_code == 200
    stats = sandbox.admin.stats()
    assert stats["faults_applied"] == {"status:latency": 1}
    assert stats["handler_seconds"]["status"] >= 0.2


def test_token_latency_still_grants(sandbox: Any, sandbox_credentials: Any) -> None:
    """`latency:` on the token endpoint grants a token after the wait."""
    sandbox.admin.set_faults({"token": {"sequence": ["latency:0.1"]}})
    assert token(sandbox, sandbox_credentials)
    assert sandbox.admin.stats()["faults_applied"] == {"token:latency": 1}


def test_the_fast_sandbox_of_the_benchmarks_answers_and_drops_as_the_default_one(
    make_sandbox: Any, sandbox_credentials: Any
) -> None:
    """`fast=True` (httptools + uvloop) serves the same answers, `latency:` included, and a
    `drop` still closes the connection before any answer: its transport trick holds."""
    with make_sandbox(SandboxOptions(scanning_seconds=0.0), fast=True) as sb:
        tok = token(sb, sandbox_credentials)
        sb.admin.set_faults({"status": {"sequence": ["latency:0.05", "drop"]}})
        assert _status(sb, tok).status_code == 200
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            _status(sb, tok)
        assert _status(sb, tok).status_code == 200
        stats = sb.admin.stats()
        assert stats["faults_applied"] == {"status:latency": 1, "status:drop": 1}
        assert stats["answers"]["status:dropped"] == 1
