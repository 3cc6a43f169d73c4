"""Must-show (issue 17): the suite-wide check fails on a broken copy of a real answer.

A real Dialogporten search answer from the sandbox passes `check_exchanges` (what the
autouse fixture runs); the same answer with a field the schema forbids, or with another
content type, does not.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx

from tests.conftest import SANDBOX_SYSTEMUSER_ORG
from tests.contract.exchanges import check_exchanges
from tests.sandbox._client import token
from utlegg_gateway.sandbox.recorder import Exchange, recording


def test_a_broken_copy_of_a_real_answer_fails_the_suite_check(
    sandbox: Any, sandbox_credentials: Any
) -> None:
    dp = token(
        sandbox,
        sandbox_credentials,
        scope="digdir:dialogporten",
        systemuser_org=SANDBOX_SYSTEMUSER_ORG,
    )
    party = f"urn:altinn:organization:identifier-no:{SANDBOX_SYSTEMUSER_ORG}"
    seen: list[Exchange] = []
    with recording(seen.append):
        response = httpx.get(
            sandbox.url + "/dialogporten/api/v1/enduser/dialogs",
            params={"party": party},
            headers={"Authorization": f"Bearer {dp}"},
        )
    assert response.status_code == 200
    (real,) = [x for x in seen if x.path.startswith("/dialogporten/")]
    assert check_exchanges([real]) == []
    body = json.loads(real.body) | {"totalCount": 0}
    extra = replace(real, body=json.dumps(body).encode())
    (finding,) = check_exchanges([extra])
    assert "'totalCount' was unexpected" in finding
    retyped = tuple((k, "text/html" if k == "content-type" else v) for k, v in real.headers)
    (finding,) = check_exchanges([replace(real, headers=retyped)])
    assert "content type text/html is not one of ['application/json']" in finding
