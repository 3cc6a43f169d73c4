"""Maskinporten's contract as Digdir and the RFCs it names document it.

Sources (the rule table in `tests/data/maskinporten/SOURCE.md`, the notes' sections it
cites in `tests/data/maskinporten/maskinporten-notes.md`): RFC 8414 §2/§3 for the
metadata, RFC 7517 §4/§5 and RFC 7518 §6.3.1 for the JWKS, RFC 6749 §5.1/§5.2 plus
Digdir's token page (D-TOKEN) for the token answer, Digdir's error page (D-ERR) for the
`MP-nnn` codes, Digdir's JWT-grant page (D-JWT) and the system-user page (D-SYS) for the
grant's header and claims. Each check returns findings; none means it conforms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt

from utlegg_gateway.sandbox.recorder import Exchange

__all__ = [
    "ACCESS_TOKEN_CLAIMS",
    "DOCUMENTED_MP_CODES",
    "GRANT_CLAIMS",
    "check",
    "check_access_token",
    "check_grant",
    "check_metadata",
    "check_token_answer",
    "handles",
]

WELL_KNOWN = "/.well-known/oauth-authorization-server"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# RFC 8414 §2: the members an authorization server's metadata may hold and their JSON
# types (RFC 9396 §10 adds authorization_details_types_supported).
_STRINGS = "string"
_ARRAY = "array"
METADATA_FIELDS: Mapping[str, str] = {
    "issuer": _STRINGS,
    "authorization_endpoint": _STRINGS,
    "token_endpoint": _STRINGS,
    "jwks_uri": _STRINGS,
    "registration_endpoint": _STRINGS,
    "scopes_supported": _ARRAY,
    "response_types_supported": _ARRAY,
    "response_modes_supported": _ARRAY,
    "grant_types_supported": _ARRAY,
    "token_endpoint_auth_methods_supported": _ARRAY,
    "token_endpoint_auth_signing_alg_values_supported": _ARRAY,
    "service_documentation": _STRINGS,
    "ui_locales_supported": _ARRAY,
    "op_policy_uri": _STRINGS,
    "op_tos_uri": _STRINGS,
    "revocation_endpoint": _STRINGS,
    "revocation_endpoint_auth_methods_supported": _ARRAY,
    "revocation_endpoint_auth_signing_alg_values_supported": _ARRAY,
    "introspection_endpoint": _STRINGS,
    "introspection_endpoint_auth_methods_supported": _ARRAY,
    "introspection_endpoint_auth_signing_alg_values_supported": _ARRAY,
    "code_challenge_methods_supported": _ARRAY,
    "authorization_details_types_supported": _ARRAY,
}
# RFC 8414 §2 REQUIRED: issuer, response_types_supported; token_endpoint "unless only
# the implicit grant type is supported"; Maskinporten is self-configured from these plus
# jwks_uri (D-WK), so the sandbox must serve them too.
METADATA_REQUIRED = ("issuer", "response_types_supported", "token_endpoint", "jwks_uri")

# D-TOKEN: the token answer's fields; RFC 6749 §5.1 makes access_token and token_type
# required, and Digdir always sends expires_in and scope.
TOKEN_ANSWER_FIELDS = ("access_token", "token_type", "expires_in", "scope")

# D-TOKEN / D-GUIDE: the claims of Maskinporten's self-contained access token.
ACCESS_TOKEN_CLAIMS = frozenset(
    {
        "iss",
        "aud",
        "client_id",
        "client_amr",
        "consumer",
        "scope",
        "token_type",
        "exp",
        "iat",
        "jti",
        "supplier",
        "delegation_source",
        "pid",
        "authorization_details",
    }
)
ACCESS_TOKEN_REQUIRED = ("iss", "client_id", "consumer", "scope", "exp", "iat", "jti")
CLIENT_AMR = frozenset({"private_key_jwt", "virksomhetssertifikat", "QCForESeal", "CForESeal"})

# D-JWT's claim table; nothing else is allowed ("Adding claims not present … Invalid
# assertion"). D-SYS for the system-user entry of authorization_details.
GRANT_CLAIMS = frozenset(
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
GRANT_REQUIRED = ("aud", "iss", "iat", "exp", "scope")
GRANT_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
GRANT_MAX_LIFETIME = 120
SYSTEMUSER_FIELDS = frozenset({"type", "systemuser_org", "externalRef"})

# D-ERR's table of codes.
DOCUMENTED_MP_CODES = frozenset(
    {
        "MP-011",
        "MP-012",
        "MP-100",
        "MP-110",
        "MP-120",
        "MP-121",
        "MP-122",
        "MP-123",
        "MP-124",
        "MP-130",
        "MP-200",
        "MP-201",
        "MP-250",
        "MP-251",
        "MP-301",
        "MP-302",
        "MP-303",
    }
)
# RFC 6749 §5.2, RFC 9396 §5 (invalid_authorization_details), A-303
# (invalid_altinn_customer_configuration, Maskinporten's own), D-ERR "Forbidden" for
# MP-250/251 (access_denied, RFC 6749 §4.1.2.1).
ERROR_CODES: Mapping[str, int] = {
    "invalid_request": 400,
    "invalid_client": 400,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "invalid_authorization_details": 400,
    "invalid_altinn_customer_configuration": 400,
    "access_denied": 403,
}
# Fault-plan answers: Digdir documents no 5xx/429 body. Held to RFC 6749's error object
# with the codes RFC 6749 §4.1.2.1 (server_error, temporarily_unavailable) and RFC 8628
# §3.5 (slow_down) define; no MP code (docs/elan-contract.md "Contract tests").
FAULT_CODES: Mapping[int, str] = {
    500: "server_error",
    503: "temporarily_unavailable",
    429: "slow_down",
}
_MP = re.compile(r"\bMP-\d{3}\b")


def handles(exchange: Exchange) -> bool:
    """True for the Maskinporten emulator's routes."""
    return exchange.path in (WELL_KNOWN, "/token", "/jwks")


def _json(exchange: Exchange, where: str) -> tuple[Any, list[str]]:
    ct = (exchange.content_type or "").split(";")[0].strip()
    if ct != "application/json":
        return None, [f"{where}: content type {ct or '(none)'} is not application/json"]
    try:
        return json.loads(exchange.body), []
    except ValueError:
        return None, [f"{where}: body is not JSON"]


def _issuer(exchange: Exchange) -> str:
    host = exchange.request_header("host") or ""
    return f"http://{host}/"


def check_metadata(exchange: Exchange) -> list[str]:
    """RFC 8414 §2/§3: required members, their types, issuer = where it was fetched."""
    where = f"GET {WELL_KNOWN} → {exchange.status}"
    if exchange.status != 200:
        return [f"{where}: metadata must be 200 (RFC 8414 §3.2)"]
    meta, findings = _json(exchange, where)
    if findings:
        return findings
    if not isinstance(meta, dict):
        return [f"{where}: metadata is not a JSON object"]
    for name in METADATA_REQUIRED:
        if name not in meta:
            findings.append(f"{where}: required member {name!r} is missing")
    for name, value in meta.items():
        kind = METADATA_FIELDS.get(name)
        if kind is None:
            findings.append(f"{where}: {name!r} is not an RFC 8414 member")
        elif kind == _ARRAY and not (
            isinstance(value, list) and all(isinstance(x, str) for x in value)
        ):
            findings.append(f"{where}: {name!r} must be an array of strings")
        elif kind == _STRINGS and not isinstance(value, str):
            findings.append(f"{where}: {name!r} must be a string")
    issuer = meta.get("issuer")
    if isinstance(issuer, str):
        parts = urlsplit(issuer)
        if parts.query or parts.fragment:
            findings.append(f"{where}: issuer has a query or fragment (RFC 8414 §2)")
        # §3.3: identical to the issuer the metadata URL was formed from (the sandbox's
        # loopback http stands in for Maskinporten's https; the trailing slash as D-WK).
        if issuer != _issuer(exchange):
            findings.append(f"{where}: issuer {issuer!r} is not {_issuer(exchange)!r}")
        for name in ("token_endpoint", "jwks_uri"):
            if isinstance(meta.get(name), str) and not meta[name].startswith(issuer):
                findings.append(f"{where}: {name} is not under the issuer")
    if GRANT_TYPE not in (meta.get("grant_types_supported") or []):
        findings.append(f"{where}: grant_types_supported lacks {GRANT_TYPE}")
    if "private_key_jwt" not in (meta.get("token_endpoint_auth_methods_supported") or []):
        findings.append(f"{where}: token_endpoint_auth_methods_supported lacks private_key_jwt")
    return findings


def check_jwks(exchange: Exchange) -> list[str]:
    """RFC 7517 §5: {"keys": [...]}, each RSA key with kty, n and e (RFC 7518 §6.3.1)."""
    where = f"GET /jwks → {exchange.status}"
    body, findings = _json(exchange, where)
    if findings:
        return findings
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        return [f"{where}: no 'keys' array"]
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") != "RSA":
            findings.append(f"{where}: keys[{i}] is not an RSA JWK")
            continue
        for name in ("n", "e", "kid"):
            if not isinstance(key.get(name), str):
                findings.append(f"{where}: keys[{i}] lacks {name}")
        if key.get("use") not in (None, "sig"):
            findings.append(f"{where}: keys[{i}] use is {key.get('use')!r}")
    return findings


def check_access_token(token: str) -> list[str]:
    """The self-contained access token's claims (D-TOKEN), read without verifying it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        return [f"access_token is not a JWT: {exc}"]
    findings = [
        f"access_token lacks {name}" for name in ACCESS_TOKEN_REQUIRED if name not in claims
    ]
    extra = set(claims) - ACCESS_TOKEN_CLAIMS
    if extra:
        findings.append(f"access_token has undocumented claims {sorted(extra)}")
    consumer = claims.get("consumer")
    if not _iso6523(consumer):
        findings.append(f"access_token consumer {consumer!r} is not ISO 6523 0192:<orgnr>")
    if "client_amr" in claims and claims["client_amr"] not in CLIENT_AMR:
        findings.append(f"access_token client_amr {claims['client_amr']!r} is undocumented")
    for detail in claims.get("authorization_details") or []:
        if not isinstance(detail, dict) or not _iso6523(detail.get("systemuser_org")):
            findings.append("access_token authorization_details lacks systemuser_org")
    return findings


def _iso6523(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("authority") == "iso6523-actorid-upis"
        and isinstance(value.get("ID"), str)
        and re.fullmatch(r"0192:\d{9}", value["ID"]) is not None
    )


def check_token_answer(exchange: Exchange) -> list[str]:
    """A token answer: success per D-TOKEN/RFC 6749 §5.1, errors per §5.2 and D-ERR."""
    where = f"POST /token → {exchange.status}"
    body, findings = _json(exchange, where)
    if findings:
        return findings
    if not isinstance(body, dict):
        return [f"{where}: body is not a JSON object"]
    if exchange.status == 200:
        findings += [f"{where}: lacks {n}" for n in TOKEN_ANSWER_FIELDS if n not in body]
        extra = set(body) - set(TOKEN_ANSWER_FIELDS)
        if extra:
            findings.append(f"{where}: undocumented fields {sorted(extra)}")
        if body.get("token_type") != "Bearer":
            findings.append(f"{where}: token_type is {body.get('token_type')!r}, not Bearer")
        expires = body.get("expires_in")
        if not isinstance(expires, int) or isinstance(expires, bool) or expires <= 0:
            findings.append(f"{where}: expires_in {expires!r} is not a positive integer")
        if not isinstance(body.get("scope"), str):
            findings.append(f"{where}: scope is not a string")
        if "no-store" not in (exchange.header("cache-control") or ""):
            findings.append(f"{where}: Cache-Control: no-store is missing (RFC 6749 §5.1)")
        if isinstance(body.get("access_token"), str):
            findings += [f"{where}: {f}" for f in check_access_token(body["access_token"])]
        return findings
    extra = set(body) - {"error", "error_description", "error_uri"}
    if extra:
        findings.append(f"{where}: undocumented error fields {sorted(extra)}")
    error, description = body.get("error"), body.get("error_description")
    if not isinstance(description, str):
        findings.append(f"{where}: error_description is not a string")
        description = ""
    fault = FAULT_CODES.get(exchange.status)
    if fault is not None:
        if error != fault:
            findings.append(f"{where}: error {error!r}, expected {fault!r}")
        if exchange.status == 429 and exchange.header("retry-after") is None:
            findings.append(f"{where}: 429 without Retry-After")
        return findings
    if not isinstance(error, str) or error not in ERROR_CODES:
        return [*findings, f"{where}: error {error!r} is not an OAuth/Maskinporten code"]
    if ERROR_CODES[error] != exchange.status:
        findings.append(f"{where}: error {error!r} comes with HTTP {ERROR_CODES[error]}")
    codes = _MP.findall(description)
    if not codes:
        findings.append(f"{where}: error_description names no MP code: {description!r}")
    elif codes[0] not in DOCUMENTED_MP_CODES:
        findings.append(f"{where}: {codes[0]} is not one of Digdir's documented codes")
    return findings


def check_grant(
    form: Mapping[str, str], *, content_type: str | None, allow_sub: bool = False
) -> list[str]:
    """The token request (D-TOKEN) and its JWT grant (D-JWT header and claims, D-SYS).

    `allow_sub`: the sandbox accepts `sub` equal to `iss` (Altinn's guide sends it,
    docs/elan-contract.md "Maskinporten"); our own client never sends it.
    """
    where = "POST /token request"
    findings: list[str] = []
    if (content_type or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        findings.append(f"{where}: content type {content_type!r} is not form-encoded")
    extra = set(form) - {"grant_type", "assertion"}
    if extra:
        findings.append(f"{where}: undocumented form fields {sorted(extra)}")
    if form.get("grant_type") != GRANT_TYPE:
        findings.append(f"{where}: grant_type {form.get('grant_type')!r}")
    assertion = form.get("assertion") or ""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        return [*findings, f"{where}: assertion is not a JWT: {exc}"]
    if header.get("alg") not in GRANT_ALGORITHMS:
        findings.append(f"{where}: alg {header.get('alg')!r} is not RS256/384/512")
    if ("x5c" in header) == ("kid" in header):
        findings.append(f"{where}: the header needs exactly one of x5c and kid")
    x5c = header.get("x5c")
    if x5c is not None and not (isinstance(x5c, list) and all(isinstance(c, str) for c in x5c)):
        findings.append(f"{where}: x5c is not an array of strings (MP-123)")
    allowed = GRANT_CLAIMS | ({"sub"} if allow_sub else set())
    unknown = set(claims) - allowed
    if unknown:
        findings.append(f"{where}: claims outside Digdir's table {sorted(unknown)}")
    if allow_sub and "sub" in claims and claims["sub"] != claims.get("iss"):
        findings.append(f"{where}: sub is not the client id")
    findings += [f"{where}: lacks {n}" for n in GRANT_REQUIRED if n not in claims]
    aud = claims.get("aud")
    if not isinstance(aud, str):
        findings.append(f"{where}: aud must be one string (the issuer), got {aud!r}")
    iat, exp = claims.get("iat"), claims.get("exp")
    if isinstance(iat, int) and isinstance(exp, int) and exp - iat > GRANT_MAX_LIFETIME:
        findings.append(f"{where}: exp - iat = {exp - iat} s > {GRANT_MAX_LIFETIME}")
    if "consumer_org" in claims and not re.fullmatch(r"\d{9}", str(claims["consumer_org"])):
        findings.append(f"{where}: consumer_org must be 9 digits without 0192:")
    if "consumer_org" in claims and "iss_onbehalfof" in claims:
        findings.append(f"{where}: consumer_org and iss_onbehalfof exclude each other")
    details = claims.get("authorization_details")
    if details is not None:
        if not isinstance(details, list) or len(details) != 1:
            findings.append(f"{where}: authorization_details must hold one party (D-SYS)")
        else:
            entry = details[0]
            if not isinstance(entry, dict) or entry.get("type") != "urn:altinn:systemuser":
                findings.append(f"{where}: authorization_details type is not urn:altinn:systemuser")
            elif set(entry) - SYSTEMUSER_FIELDS:
                findings.append(f"{where}: authorization_details fields {sorted(entry)}")
            elif not _iso6523(entry.get("systemuser_org")):
                findings.append(f"{where}: systemuser_org is not ISO 6523 0192:<orgnr>")
    return findings


def check(exchange: Exchange) -> list[str]:
    """Findings for one Maskinporten exchange."""
    if exchange.path == WELL_KNOWN:
        return check_metadata(exchange)
    if exchange.path == "/jwks":
        return check_jwks(exchange)
    findings = check_token_answer(exchange)
    if exchange.status == 200:
        # Every grant the sandbox accepts is one Digdir's table allows: so the sandbox
        # cannot drift into accepting undocumented claims, and our client's grants
        # (accepted in every gateway test) are checked on the way.
        form = dict(parse_qsl(exchange.request_body.decode("latin-1")))
        findings += check_grant(
            form, content_type=exchange.request_header("content-type"), allow_sub=True
        )
    return findings
