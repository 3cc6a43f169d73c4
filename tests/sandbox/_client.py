"""Plain httpx + pyjwt helpers for talking to the sandbox the way any client would."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import httpx

from tests._data import REFERENCE
from utlegg_gateway.sandbox import build_grant

# One client for the whole test process: building an httpx.Client costs ~150 ms (it loads
# the CA bundle), which would dominate these loopback tests. Plain HTTP only, so no TLS.
HTTP = httpx.Client(timeout=10.0, verify=False)
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def reference() -> dict[str, Any]:
    """A fresh copy of the official model 1.1 example begjæring."""
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def post_grant(sb: Any, assertion: str) -> httpx.Response:
    """POST a grant to the sandbox's token endpoint."""
    return HTTP.post(sb.token_endpoint, data={"grant_type": GRANT_TYPE, "assertion": assertion})


def token(sb: Any, creds: Any, **grant: Any) -> str:
    """An access token for `creds` (grant options passed through to build_grant)."""
    response = post_grant(sb, build_grant(creds, sb.issuer, **grant))
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


def headers(access_token: str | None) -> dict[str, str]:
    """ELAN headers: a new Korrelasjonsid per call, bearer token if given."""
    out = {"Korrelasjonsid": str(uuid.uuid4()), "Meldingsid": str(uuid.uuid4())}
    out["Klientid"] = "sandbox-tests"
    if access_token is not None:
        out["Authorization"] = f"Bearer {access_token}"
    return out


def upload(
    sb: Any, access_token: str, content: bytes, innsender_referanse: str, name: str = "v.pdf"
) -> str:
    """Upload an attachment; returns its uuid."""
    response = HTTP.post(
        sb.elan_base_url + "/vedlegg",
        headers=headers(access_token),
        files={"fil": (name, content, "application/pdf")},
        data={"innsenderReferanse": innsender_referanse},
    )
    assert response.status_code == 201, response.text
    uid: str = response.json()["uuid"]
    return uid


def with_uploads(sb: Any, access_token: str, payload: dict[str, Any], content: bytes = PDF) -> None:
    """Upload one file per distinct uuid in `payload` and put the new uuids in its place."""
    text = json.dumps(payload)
    old = sorted(set(_uuids(payload)))
    for uid in old:
        new = upload(sb, access_token, content, payload["innsenderReferanse"])
        text = text.replace(uid, new)
    payload.clear()
    payload.update(json.loads(text))


def _uuids(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["uuid"]] if isinstance(node.get("uuid"), str) else []
        return found + [u for v in node.values() for u in _uuids(v)]
    if isinstance(node, list):
        return [u for v in node for u in _uuids(v)]
    return []


def submit(sb: Any, access_token: str, payload: dict[str, Any]) -> httpx.Response:
    """POST a begjæring."""
    return HTTP.post(
        sb.elan_base_url + "/utleggsbegjaering", headers=headers(access_token), json=payload
    )


def rules(response: httpx.Response) -> list[str]:
    """The rule names of a 422 answer."""
    assert response.status_code == 422, response.text
    return [entry["kode"] for entry in response.json()["kontrollutslag"]]


def load_key(creds: Any) -> Any:
    """The kid key of some credentials (to sign with the wrong one on purpose)."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(creds.key_file.read_bytes(), None)
