"""State: a `--state` file keeps submissions, uploads, cases, grants seen and the clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.sandbox._client import HTTP, headers, reference, submit, token, with_uploads
from utlegg_gateway.sandbox import SandboxOptions
from utlegg_gateway.sandbox.state import SandboxState


def test_restart_keeps_everything(
    make_sandbox: Any, sandbox_credentials: Any, tmp_path: Path
) -> None:
    """Stop and start on the same state file: cases, uploads, clock and jti store survive."""
    state = tmp_path / "sandbox.sqlite"
    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0, state_file=state)
    with make_sandbox(options) as sb:
        tok = token(sb, sandbox_credentials, jti="kept-jti")
        payload = reference()
        with_uploads(sb, tok, payload)
        ref = submit(sb, tok, payload).json()["eksternSaksreferanse"]
        sb.admin.advance_clock(61)
    with make_sandbox(options) as sb:
        assert [c["eksternSaksreferanse"] for c in sb.admin.cases()] == [ref]
        assert len(sb.admin.uploads()) == 2
        assert [s["json"] for s in sb.admin.submissions()] == [payload]
        tok = token(sb, sandbox_credentials)
        status = HTTP.get(f"{sb.elan_base_url}/status/{ref}", headers=headers(tok)).json()
        assert status["saksstatus"] == "sakUnderBehandling"  # the advanced clock was kept
    db = SandboxState(state)
    try:
        assert db.use_jti("kept-jti", 0.0, 0.0) is False
    finally:
        db.close()


def test_reset_forgets_traffic_but_keeps_clients(sandbox: Any, sandbox_credentials: Any) -> None:
    """After reset there are no uploads or cases, the clock is back, and our client still works."""
    tok = token(sandbox, sandbox_credentials)
    payload = reference()
    with_uploads(sandbox, tok, payload)
    sandbox.admin.advance_clock(100)
    sandbox.admin.reset()
    assert sandbox.admin.uploads() == []
    assert sandbox.admin.submissions() == []
    assert sandbox.sandbox.clock.offset == 0.0
    assert token(sandbox, sandbox_credentials)


def test_forced_case_status(make_sandbox: Any, sandbox_credentials: Any) -> None:
    """The admin API can force a case into any status (follow-up tests need sakHevet etc.)."""
    with make_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=0.0)) as sb:
        tok = token(sb, sandbox_credentials)
        payload = reference()
        with_uploads(sb, tok, payload)
        ref = submit(sb, tok, payload).json()["eksternSaksreferanse"]
        sb.admin.set_case_status(ref, "sakHevet")
        status = HTTP.get(f"{sb.elan_base_url}/status/{ref}", headers=headers(tok)).json()
        assert status["saksstatus"] == "sakHevet"
