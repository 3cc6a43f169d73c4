"""The Maskinporten emulator: checks JWT-bearer grants the way Digdir documents, issues tokens.

`check_grant` is the whole rule set as one function of (assertion, registrations, clock):
signature by `x5c` (chained to a trusted CA or registered) or registered `kid`; `aud` =
issuer; `iss` a registered client; `iat` within 10 s; `exp` at most 120 s after `iat`;
`jti` never seen; scopes allowed; `authorization_details` for a registered system user.
Errors carry Maskinporten's `error` and an `error_description` starting with its MP code.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from utlegg_gateway.sandbox.certs import cert_orgnr

__all__ = [
    "ALLOWED_CLAIMS",
    "GRANT_TYPE",
    "SYSTEMUSER_TYPE",
    "AccessToken",
    "GrantError",
    "check_grant",
    "issue_access_token",
    "read_access_token",
]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SYSTEMUSER_TYPE = "urn:altinn:systemuser"
ISO6523 = "iso6523-actorid-upis"
# Digdir: "Adding claims not present in the following documentation will result in a
# response of 400 Bad request ... Invalid assertion" (maskinporten-notes §1.4).
ALLOWED_CLAIMS = frozenset(
    {
        "aud",
        "iss",
        "iat",
        "exp",
        "jti",
        "scope",
        "resource",
        "pid",
        "consumer_org",
        "iss_onbehalfof",
        "authorization_details",
    }
)
_ALGORITHMS = ("RS256", "RS384", "RS512")
_IAT_SKEW = 10
_MAX_LIFETIME = 120


class GrantError(Exception):
    """A refused grant, in Maskinporten's error form."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON error body Maskinporten answers with."""
        return {"error": self.error, "error_description": self.description}


def _invalid(code: str, text: str) -> GrantError:
    return GrantError("invalid_grant", f"{code} {text}")


@dataclass(frozen=True)
class AccessToken:
    """What an issued (or presented) access token says."""

    client_id: str
    consumer_orgnr: str
    scopes: tuple[str, ...]
    systemuser_orgnr: str | None
    expires_at: float

    @property
    def orgnr(self) -> str:
        """The organisation the token authenticates: the system user's, else the consumer."""
        return self.systemuser_orgnr or self.consumer_orgnr


def _load_pem_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _chains_to(cert: x509.Certificate, ca: x509.Certificate, at: datetime) -> bool:
    if cert.issuer != ca.subject:
        return False
    ca_key = ca.public_key()
    if not isinstance(ca_key, rsa.RSAPublicKey) or cert.signature_hash_algorithm is None:
        return False
    try:
        ca_key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    except InvalidSignature:
        return False
    return ca.not_valid_before_utc <= at <= ca.not_valid_after_utc


def _signing_key_from_x5c(
    x5c: Any, client: dict[str, Any], trusted_cas: list[str], now: float
) -> rsa.RSAPublicKey:
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise _invalid("MP-123", "Invalid JWT header x5c")
    try:
        leaf = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
    except ValueError as exc:
        raise _invalid("MP-123", "Invalid JWT header x5c") from exc
    at = datetime.fromtimestamp(now, UTC)
    if not leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
        raise _invalid("MP-124", "Invalid JWT signature. Certificate is not valid now")
    registered = {
        _load_pem_cert(pem).fingerprint(leaf.signature_hash_algorithm or hashes.SHA256())
        for pem in client.get("certificates", [])
    }
    fingerprint = leaf.fingerprint(leaf.signature_hash_algorithm or hashes.SHA256())
    trusted = fingerprint in registered or any(
        _chains_to(leaf, _load_pem_cert(pem), at) for pem in trusted_cas
    )
    if not trusted:
        raise _invalid(
            "MP-120", "Invalid assertion. The JWT is signed with an invalid certificate."
        )
    if cert_orgnr(leaf) != client["orgnr"]:
        raise _invalid(
            "MP-122", "Invalid organization number for client. Does not match certificate orgno"
        )
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise _invalid(
            "MP-120", "Invalid assertion. The JWT is signed with an invalid certificate."
        )
    return key


def _signing_key_from_kid(kid: Any, client: dict[str, Any]) -> rsa.RSAPublicKey:
    for entry in client.get("keys", []):
        if entry.get("kid") == kid:
            key = serialization.load_pem_public_key(entry["public_key_pem"].encode())
            if isinstance(key, rsa.RSAPublicKey):
                return key
    raise _invalid("MP-100", "Invalid assertion. Client authentication failed. Unknown kid")


def _check_authorization_details(details: Any, client: dict[str, Any]) -> str:
    """The system user's orgnr, if the details name one registered for this client."""
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        raise GrantError(
            "invalid_authorization_details",
            "MP-303 authorization_details must hold exactly one party",
        )
    entry = details[0]
    if entry.get("type") != SYSTEMUSER_TYPE:
        raise GrantError(
            "invalid_authorization_details",
            f"MP-301 Unsupported authorization_details type {entry.get('type')!r}",
        )
    unknown = set(entry) - {"type", "systemuser_org", "externalRef"}
    if unknown:
        raise GrantError(
            "invalid_authorization_details",
            f"MP-302 Unknown fields in authorization_details: {', '.join(sorted(unknown))}",
        )
    org = entry.get("systemuser_org")
    org_id = org.get("ID") if isinstance(org, dict) else None
    if (
        not isinstance(org, dict)
        or org.get("authority") != ISO6523
        or not isinstance(org_id, str)
        or not org_id.startswith("0192:")
        or not (org_id[5:].isdigit() and len(org_id) == 14)
    ):
        raise GrantError(
            "invalid_altinn_customer_configuration",
            "MP-303 systemuser_org must be {authority: iso6523-actorid-upis, ID: 0192:<orgnr>}",
        )
    orgnr = org_id[5:]
    for su in client.get("systemusers", []):
        if su.get("orgnr") == orgnr and su.get("external_ref") == entry.get("externalRef"):
            return orgnr
    raise GrantError(
        "invalid_altinn_customer_configuration",
        f"MP-303 No system user for organisation {orgnr} is registered for this client",
    )


def check_grant(
    assertion: str,
    *,
    issuer: str,
    clients: dict[str, dict[str, Any]],
    trusted_cas: list[str],
    now: float,
    use_jti: Any,
) -> tuple[dict[str, Any], dict[str, Any], str | None, str]:
    """Verify a grant; returns (claims, client, systemuser orgnr, client_amr) or raises GrantError.

    `use_jti(jti, expires) -> bool` records the grant id and says whether it was new.
    """
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise GrantError(
            "invalid_request", "MP-011 Invalid assertion. Invalid parameter value"
        ) from exc
    client_id = unverified.get("iss")
    client = clients.get(client_id) if isinstance(client_id, str) else None
    if client is None:
        raise _invalid(
            "MP-100", "Invalid assertion. Client authentication failed. Client not found"
        )
    alg = header.get("alg")
    if alg not in _ALGORITHMS:
        raise GrantError("invalid_request", f"MP-011 Invalid assertion. Unsupported alg {alg!r}")
    has_x5c, has_kid = "x5c" in header, "kid" in header
    if has_x5c == has_kid:
        raise _invalid("MP-100", "Invalid assertion. Give exactly one of x5c and kid")
    if has_x5c:
        key = _signing_key_from_x5c(header["x5c"], client, trusted_cas, now)
        amr = "virksomhetssertifikat"
    else:
        key = _signing_key_from_kid(header["kid"], client)
        amr = "private_key_jwt"
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=[alg],
            options={"verify_exp": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise _invalid("MP-124", "Invalid JWT signature") from exc
    except jwt.PyJWTError as exc:
        raise GrantError(
            "invalid_request", "MP-011 Invalid assertion. Invalid parameter value"
        ) from exc
    unknown = set(claims) - ALLOWED_CLAIMS
    # `sub` is not in Digdir's claim table, but Altinn's system-user guide (A-USE, Apr
    # 2026) sends it as the client id ("iss og sub: your Maskinporten client ID"), and
    # such clients get tokens from Maskinporten. Accepted exactly in that form; any
    # other value is the undocumented claim Digdir refuses.
    if claims.get("sub") == claims.get("iss"):
        unknown.discard("sub")
    if unknown:
        raise GrantError(
            "invalid_request",
            f"MP-011 Invalid assertion. Unknown claims: {', '.join(sorted(unknown))}",
        )
    if claims.get("aud") != issuer:
        raise _invalid("MP-110", "Invalid assertion. Invalid JWT claim aud")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise GrantError("invalid_request", "MP-011 Invalid assertion. iat and exp are required")
    if iat > now + _IAT_SKEW:
        raise _invalid("MP-130", "Invalid assertion. Issue time is after now")
    if exp < now - _IAT_SKEW:
        raise _invalid("MP-130", "JWT is expired")
    # Digdir documents iat within ±10 s (maskinporten-notes §1.4); the live server is said
    # to let an old iat pass while exp is valid (§3.2). The sandbox holds to the documented
    # rule, so a client that builds its grant early and sends it late is caught here.
    if iat < now - _IAT_SKEW:
        raise _invalid("MP-130", "JWT is expired. Issue time is more than 10 s in the past")
    if exp - iat > _MAX_LIFETIME:
        raise _invalid("MP-130", "Invalid assertion. JWT has too long lifetime")
    scope = claims.get("scope")
    if not isinstance(scope, str) or not scope.split():
        raise GrantError("invalid_scope", "MP-200 Token request contains invalid scopes for client")
    missing = [s for s in scope.split() if s not in client.get("scopes", [])]
    if missing:
        raise GrantError(
            "invalid_scope",
            f"MP-200 Token request contains invalid scopes for client: {' '.join(missing)}",
        )
    if "consumer_org" in claims and claims["consumer_org"] not in client.get("delegations", []):
        raise GrantError(
            "access_denied",
            f"MP-251 Consumer {claims['consumer_org']} has not delegated access to the scope "
            f"{scope} to supplier {client['orgnr']}",
            status=403,
        )
    systemuser = None
    if "authorization_details" in claims:
        systemuser = _check_authorization_details(claims["authorization_details"], client)
    # A grant without jti is still single-use: its own hash stands in for the id.
    jti = claims.get("jti") or hashlib.sha256(assertion.encode()).hexdigest()
    if not use_jti(str(jti), float(exp)):
        raise _invalid("MP-012", "Grant is used before")
    return claims, client, systemuser, amr


def issue_access_token(
    *,
    signing_key: rsa.RSAPrivateKey,
    kid: str,
    issuer: str,
    client: dict[str, Any],
    scope: str,
    systemuser_orgnr: str | None,
    amr: str,
    now: float,
    lifetime: int,
) -> str:
    """A self-contained access token shaped like Maskinporten's (see SKE-SB example)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": "unspecified",
        "client_amr": amr,
        "token_type": "Bearer",
        "scope": scope,
        "client_id": client["client_id"],
        "consumer": {"authority": ISO6523, "ID": f"0192:{client['orgnr']}"},
        "iat": int(now),
        "exp": int(now) + lifetime,
        "jti": str(uuid.uuid4()),
    }
    if systemuser_orgnr is not None:
        claims["authorization_details"] = [
            {
                "type": SYSTEMUSER_TYPE,
                "systemuser_org": {"authority": ISO6523, "ID": f"0192:{systemuser_orgnr}"},
                "systemuser_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, systemuser_orgnr))],
                "system_id": f"{client['orgnr']}_utlegg_gateway",
            }
        ]
    return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": kid})


def read_access_token(
    token: str, *, public_key: rsa.RSAPublicKey, issuer: str, now: float
) -> AccessToken | None:
    """The token's meaning, or None if it is not one of ours or has expired."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            issuer=issuer,
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now:
        return None
    consumer = str(claims.get("consumer", {}).get("ID", ""))
    systemuser = None
    for detail in claims.get("authorization_details") or []:
        if detail.get("type") == SYSTEMUSER_TYPE:
            systemuser = str(detail["systemuser_org"]["ID"]).removeprefix("0192:")
    return AccessToken(
        client_id=str(claims.get("client_id", "")),
        consumer_orgnr=consumer.removeprefix("0192:"),
        scopes=tuple(str(claims.get("scope", "")).split()),
        systemuser_orgnr=systemuser,
        expires_at=float(exp),
    )
