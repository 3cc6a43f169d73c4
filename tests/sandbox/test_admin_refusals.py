"""The sandbox admin API answers a bad request with 400/404 and a reason, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox._client import HTTP

_BAD = [
    ("POST", "/clock/advance", {"seconds": -1}, 400, "seconds must be a number"),
    ("POST", "/cases/NOPE/status", {"saksstatus": "sakHevet"}, 404, "unknown case"),
    ("POST", "/systemusers", {"client_id": "nobody", "orgnr": "313367002"}, 404, "unknown"),
    ("POST", "/old-rules-debtors", {}, 400, "identifikator is required"),
    ("POST", "/register", {"identifikator": "abc"}, 400, "string of digits"),
    ("POST", "/rule-triggers", {"innsenderReferanse": "X"}, 400, "are required"),
    ("POST", "/rule-triggers", {"innsenderReferanse": "X", "rules": ["NO_SUCH"]}, 400, "NO_SUCH"),
    ("PUT", "/faults", {"upload": {"sequence": ["explode"]}}, 400, ""),
]


def _get(sb: Any, path: str) -> Any:
    return HTTP.get(f"{sb.url}/_sandbox{path}").json()


@pytest.mark.parametrize("case", _BAD, ids=[f"{c[0]} {c[1]} {c[3]}" for c in _BAD])
def test_a_bad_admin_request_is_refused_with_its_reason(
    sandbox: Any, case: tuple[str, str, dict[str, Any], int, str]
) -> None:
    """Each refusal says why; the register and the triggers are as before."""
    method, path, body, status, reason = case
    before = (_get(sandbox, "/register"), _get(sandbox, "/rule-triggers"))
    answer = HTTP.request(method, f"{sandbox.url}/_sandbox{path}", json=body)
    assert answer.status_code == status, answer.text
    assert reason in answer.text
    after = (_get(sandbox, "/register"), _get(sandbox, "/rule-triggers"))
    assert after == before


def test_a_body_that_is_not_json_is_refused(sandbox: Any) -> None:
    """Not JSON at all: 400 naming the problem, not a 500."""
    answer = HTTP.post(f"{sandbox.url}/_sandbox/clock/advance", content=b"{nope")
    assert answer.status_code == 400
    assert "not JSON" in answer.text


def test_register_and_triggers_list_what_was_added(sandbox: Any) -> None:
    """GET shows the seeded register plus an added entry, and the triggers set."""
    sandbox.admin.add_register_entry("319100040", enhetstype="ENK")
    sandbox.admin.trigger_rules("IB-T1", "PARAGRAF_4_19_VARSEL_PAAKREVET")
    register = {e["identifikator"]: e for e in _get(sandbox, "/register")}
    assert register["319100040"]["enhetstype"] == "ENK"
    assert register["319100016"]["hovedenhet"] == "319100008"
    triggers = _get(sandbox, "/rule-triggers")
    assert triggers == {"IB-T1": ["PARAGRAF_4_19_VARSEL_PAAKREVET"]}
