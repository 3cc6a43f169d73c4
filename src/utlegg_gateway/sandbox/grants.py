"""Building Maskinporten JWT grants from sandbox credentials (tests, demo, benchmarks).

The gateway's own Maskinporten client lives in `utlegg_gateway.elan`; this small builder
exists so the sandbox can be exercised (and broken on purpose) without it.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from utlegg_gateway.sandbox.certs import Credentials
from utlegg_gateway.sandbox.maskinporten import SYSTEMUSER_TYPE
from utlegg_gateway.sandbox.options import ELAN_SCOPE

__all__ = ["build_grant", "load_pkcs12"]

_UNSET: Any = object()


def load_pkcs12(credentials: Credentials) -> tuple[rsa.RSAPrivateKey, str]:
    """The certificate's private key and its `x5c` entry (base64 DER, not base64url)."""
    password = credentials.password_file.read_text(encoding="utf-8").strip().encode()
    key, cert, _ = pkcs12.load_key_and_certificates(credentials.pkcs12_file.read_bytes(), password)
    assert isinstance(key, rsa.RSAPrivateKey) and cert is not None
    der = cert.public_bytes(serialization.Encoding.DER)
    return key, base64.b64encode(der).decode()


def build_grant(
    credentials: Credentials,
    issuer: str,
    *,
    use: Literal["x5c", "kid"] = "x5c",
    scope: str = ELAN_SCOPE,
    systemuser_org: str | None = None,
    external_ref: str | None = None,
    now: float | None = None,
    lifetime: int = 120,
    jti: str | None = None,
    aud: Any = _UNSET,
    extra_claims: dict[str, Any] | None = None,
    drop_claims: tuple[str, ...] = (),
    signing_key: rsa.RSAPrivateKey | None = None,
) -> str:
    """A signed grant; every claim can be bent to test the token endpoint's checks."""
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "aud": issuer if aud is _UNSET else aud,
        "iss": credentials.client_id,
        "scope": scope,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": jti or str(uuid.uuid4()),
    }
    if systemuser_org is not None:
        detail: dict[str, Any] = {
            "type": SYSTEMUSER_TYPE,
            "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": f"0192:{systemuser_org}"},
        }
        if external_ref is not None:
            detail["externalRef"] = external_ref
        claims["authorization_details"] = [detail]
    claims.update(extra_claims or {})
    for name in drop_claims:
        claims.pop(name, None)
    if use == "x5c":
        key, x5c = load_pkcs12(credentials)
        headers: dict[str, Any] = {"x5c": [x5c]}
    else:
        loaded = serialization.load_pem_private_key(credentials.key_file.read_bytes(), None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        key, headers = loaded, {"kid": credentials.kid}
    return jwt.encode(claims, signing_key or key, algorithm="RS256", headers=headers)
