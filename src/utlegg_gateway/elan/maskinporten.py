"""Maskinporten token client: the JWT grant, the token request, a single-flight token cache.

Wire protocol per research/maskinporten-notes.md: a fresh RS256 grant per request
(`aud` = issuer with trailing slash, `iss` = client id, `scope`, `iat`, `exp` = iat + 120,
new `jti`), `x5c` (leaf certificate) XOR `kid` in the header, optional `consumer_org` and
systembruker `authorization_details`; never `sub`, never `resource` (Skatteetaten wants
the audience `unspecified`). Posted form-encoded to the token endpoint.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import Settings, SystembrukerSettings
from utlegg_gateway.elan._credentials import SigningCredentials, load_credentials
from utlegg_gateway.elan._http import RETRYABLE_STATUS, json_body, send_token_request
from utlegg_gateway.elan._retry import Clock, RetryPolicy, Sleep
from utlegg_gateway.errors import AuthError, ConfigError

__all__ = [
    "GRANT_LIFETIME_SECONDS",
    "GRANT_TYPE",
    "AccessToken",
    "TokenProvider",
    "build_grant_claims",
    "cache_margin",
    "error_from_token_response",
    "sign_grant",
]

log = get_logger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Documented maximum; a shorter grant fails when the host clock lags (I-19603).
GRANT_LIFETIME_SECONDS = 120
_MP_CODE = re.compile(r"\bMP-\d{3}\b")

# Advice per Maskinporten code (research/maskinporten-notes.md §1.7).
_ADVICE: dict[str, str] = {
    "MP-100": "unknown client: check maskinporten.client_id, and that the client exists in "
    "this environment (test clients do not exist in prod)",
    "MP-110": "wrong aud: maskinporten.issuer must be the environment's issuer with the "
    "trailing slash (https://test.maskinporten.no/ or https://maskinporten.no/)",
    "MP-120": "the certificate is not accepted: expired, revoked, or a prod certificate in "
    "test (or the reverse)",
    "MP-121": "the registered key has expired (keys live one year): register a new key and kid",
    "MP-122": "the certificate belongs to another organisation than the client's owner",
    "MP-123": "invalid x5c header (must be an array of base64 DER certificates)",
    "MP-124": "invalid signature: expired certificate, wrong environment, or key and "
    "certificate do not belong together",
    "MP-012": "the grant was used before: every request must carry a new jti",
    "MP-130": "the grant is expired on arrival: the host clock is off, sync it (NTP)",
    "MP-200": "the scope is not registered on the client: add it in Samarbeidsportalen",
    "MP-201": "the scope is not allowed for this kind of Maskinporten client",
    "MP-250": "the organisation has not been granted the scope by the API owner (Skatteetaten)",
    "MP-251": "missing delegation: the customer has not delegated the scope to you in Altinn",
    "MP-301": "unknown authorization_details type",
    "MP-302": "unknown fields in authorization_details",
    "MP-303": "systembruker not usable: check maskinporten.systembruker.org and external_ref, "
    "and that the customer approved the system user request",
}


@dataclass(frozen=True)
class AccessToken:
    """A Maskinporten access token and what it is for; the value is never printed or logged."""

    value: str = field(repr=False)
    expires_at: datetime
    scope: str
    organisation: str | None
    environment: str = "test"
    systembruker: bool = False


def cache_margin(expires_in: int) -> int:
    """Seconds before expiry to stop using a token: 30 s, less for very short tokens."""
    return min(30, expires_in // 4)


def build_grant_claims(
    *,
    issuer: str,
    client_id: str,
    scope: str,
    issued_at: int,
    jti: str,
    consumer_org: str | None = None,
    systembruker: SystembrukerSettings | None = None,
) -> dict[str, Any]:
    """The grant's claims; only documented ones (unknown claims give 400 Invalid assertion)."""
    claims: dict[str, Any] = {
        "aud": issuer,
        "iss": client_id,
        "scope": scope,
        "iat": issued_at,
        "exp": issued_at + GRANT_LIFETIME_SECONDS,
        "jti": jti,
    }
    if consumer_org is not None:
        claims["consumer_org"] = consumer_org
    if systembruker is not None:
        detail: dict[str, Any] = {
            "type": "urn:altinn:systemuser",
            "systemuser_org": {
                "authority": "iso6523-actorid-upis",
                "ID": f"0192:{systembruker.org}",
            },
        }
        if systembruker.external_ref is not None:
            detail["externalRef"] = systembruker.external_ref
        claims["authorization_details"] = [detail]
    return claims


def sign_grant(
    claims: dict[str, Any], credentials: SigningCredentials, *, algorithm: str = "RS256"
) -> str:
    """Sign the grant; the header carries `x5c` or `kid`, and no `typ` (as Altinn's client)."""
    headers: dict[str, Any] = {"typ": None, **credentials.header()}
    return jwt.encode(claims, credentials.private_key, algorithm=algorithm, headers=headers)


def error_from_token_response(
    status: int, body: dict[str, Any], credentials: SigningCredentials | None = None
) -> AuthError:
    """A typed AuthError with the MP code and advice for an error from the token endpoint."""
    error = body.get("error") if isinstance(body.get("error"), str) else None
    description = body.get("error_description")
    description = description if isinstance(description, str) else ""
    match = _MP_CODE.search(description)
    mp_code = match.group(0) if match else None
    hint = _ADVICE.get(mp_code or "")
    if hint is None and "issue time" in description.lower():
        hint = _ADVICE["MP-130"]
    now = datetime.now(UTC)
    if credentials is not None and credentials.expires_within(now, 0):
        hint = f"the certificate expired {credentials.certificate_not_after:%Y-%m-%d}; " + (
            hint or "renew it"
        )
    if status in RETRYABLE_STATUS:
        hint = hint or "Maskinporten is unavailable; retried with backoff"
    text = f"Maskinporten refused the token request (HTTP {status}"
    text += f", {error})" if error else ")"
    if description:
        text += f": {description}"
    return AuthError(text, mp_code=mp_code, http_status=status, kode=error, hint=hint)


@dataclass
class _Entry:
    token: AccessToken
    refresh_at: float  # monotonic


class TokenProvider:
    """Fetches and caches tokens; concurrent callers for one key share one fetch."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        credentials: SigningCredentials,
        client_id: str,
        issuer: str,
        token_endpoint: str | None,
        default_scope: str,
        environment: str = "test",
        organisation: str | None = None,
        consumer_org: str | None = None,
        systembruker: SystembrukerSettings | None = None,
        algorithm: str = "RS256",
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._client_id = client_id
        self._issuer = issuer
        self._token_endpoint = token_endpoint
        self._default_scope = default_scope
        self._environment = environment
        self._consumer_org = consumer_org
        self._systembruker = systembruker
        self._algorithm = algorithm
        self._retry = retry or RetryPolicy(attempts=3, total_seconds=20.0)
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
        # The organisation the token acts for: the system user's owner, the delegating
        # consumer, or ourselves.
        self._organisation = (systembruker.org if systembruker else None) or (
            consumer_org or organisation
        )
        self._cache: dict[tuple[str, ...], _Entry] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self.grants_sent = 0
        self.certificate_expiry: datetime | None = credentials.certificate_not_after

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient,
        credentials: SigningCredentials | None = None,
        **kw: Any,
    ) -> TokenProvider:
        """A provider for the configured client; ConfigError when something is missing."""
        mp = settings.maskinporten
        if not mp.client_id:
            raise ConfigError(
                "maskinporten.client_id is not set (the Maskinporten client's id)",
                field="maskinporten.client_id",
            )
        creds = credentials or load_credentials(mp)
        provider = cls(
            http=http,
            credentials=creds,
            client_id=mp.client_id,
            issuer=mp.issuer_for(settings.environment),
            token_endpoint=mp.token_endpoint_for(settings.environment),
            default_scope=mp.scope,
            environment=settings.environment,
            organisation=settings.organisation,
            consumer_org=mp.consumer_org,
            systembruker=mp.systembruker,
            algorithm=mp.algorithm,
            **kw,
        )
        provider.warn_if_certificate_expires(mp.certificate_warning_days)
        return provider

    def certificate_warning(self, days: int = 30, *, now: datetime | None = None) -> str | None:
        """A warning text when the certificate expires within `days`, else None (for health)."""
        now = now or datetime.now(UTC)
        if not self._credentials.expires_within(now, days):
            return None
        assert self.certificate_expiry is not None
        left = (self.certificate_expiry - now).days
        when = f"{self.certificate_expiry:%Y-%m-%d}"
        if left < 0:
            return f"the Maskinporten certificate expired on {when}: renew it now"
        return f"the Maskinporten certificate expires on {when} ({left} days): renew it"

    def warn_if_certificate_expires(self, days: int = 30) -> str | None:
        """Log the expiry warning (start-up) and return it."""
        warning = self.certificate_warning(days)
        if warning:
            log.warning(
                warning,
                extra=fields(
                    certificate=self._credentials.certificate_subject,
                    not_after=self.certificate_expiry,
                ),
            )
        return warning

    def _key(self, scope: str) -> tuple[str, ...]:
        # Everything that changes what the token is (notes §3.3 pitfall 7).
        sb = self._systembruker
        return (
            self._environment,
            self._issuer,
            self._client_id,
            self._credentials.identity,
            " ".join(sorted(scope.split())),
            self._consumer_org or "",
            sb.org if sb else "",
            (sb.external_ref or "") if sb else "",
        )

    async def get(self, *, scope: str | None = None) -> AccessToken:
        """A valid token for `scope` (default: configured); one fetch at a time per key."""
        scope = scope or self._default_scope
        key = self._key(scope)
        entry = self._cache.get(key)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry.token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._cache.get(key)
            if entry is not None and self._clock() < entry.refresh_at:
                return entry.token
            entry = await self._fetch(scope)
            self._cache[key] = entry
            return entry.token

    def invalidate(self, token: AccessToken) -> None:
        """Forget `token` if it is still cached (a newer one is left alone)."""
        for key, entry in list(self._cache.items()):
            if entry.token.value == token.value:
                del self._cache[key]

    @property
    def token_endpoint(self) -> str | None:
        """Where grants go (None until read from the issuer's metadata)."""
        return self._token_endpoint

    async def _discover(self) -> str:
        # RFC 8414 metadata; its issuer must be ours verbatim, or every grant's aud is wrong.
        url = self._issuer + ".well-known/oauth-authorization-server"
        request = self._http.build_request("GET", url, headers={"Accept": "application/json"})
        response = await send_token_request(self._http, request)
        metadata = json_body(response)
        endpoint = metadata.get("token_endpoint")
        if response.status_code != 200 or not isinstance(endpoint, str) or not endpoint:
            raise AuthError(
                f"no token_endpoint in the metadata at {url} (HTTP {response.status_code})",
                http_status=response.status_code,
                hint="set maskinporten.token_endpoint, or check maskinporten.issuer",
            )
        if metadata.get("issuer") != self._issuer:
            raise AuthError(
                f"the metadata at {url} names issuer {metadata.get('issuer')!r}, "
                f"not {self._issuer!r}",
                hint=_ADVICE["MP-110"],
            )
        self._token_endpoint = endpoint
        return endpoint

    def _grant(self, scope: str) -> str:
        claims = build_grant_claims(
            issuer=self._issuer,
            client_id=self._client_id,
            scope=scope,
            issued_at=int(self._wall_clock()),
            jti=str(uuid.uuid4()),
            consumer_org=self._consumer_org,
            systembruker=self._systembruker,
        )
        return sign_grant(claims, self._credentials, algorithm=self._algorithm)

    async def _fetch(self, scope: str) -> _Entry:
        endpoint = self._token_endpoint or await self._discover()
        backoff = self._retry.start(self._clock, self._rng)
        while True:
            # A new grant per attempt: a grant (jti) is single-use (MP-012).
            request = self._http.build_request(
                "POST",
                endpoint,
                data={"grant_type": GRANT_TYPE, "assertion": self._grant(scope)},
                headers={"Accept": "application/json"},
            )
            self.grants_sent += 1
            retry_after: float | None = None
            try:
                response = await send_token_request(self._http, request)
            except AuthError as exc:
                error = exc
            else:
                body = json_body(response)
                if response.status_code == 200:
                    return self._entry(body, scope)
                error = error_from_token_response(response.status_code, body, self._credentials)
                if response.status_code not in RETRYABLE_STATUS:
                    raise error
            wait = backoff.next_wait(retry_after)
            if wait is None:
                raise error
            log.warning(
                "token request failed, retrying",
                extra=fields(error=error.message, wait_seconds=round(wait, 3)),
            )
            await self._sleep(wait)

    def _entry(self, body: dict[str, Any], scope: str) -> _Entry:
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise AuthError("Maskinporten answered 200 without an access_token")
        raw_expires = body.get("expires_in")
        # Tolerant: a missing lifetime is taken as the common 120 s, never as "forever".
        expires_in = int(raw_expires) if isinstance(raw_expires, int | float) else 120
        granted = body.get("scope") if isinstance(body.get("scope"), str) else scope
        token = AccessToken(
            value=value,
            expires_at=datetime.fromtimestamp(self._wall_clock(), UTC)
            + timedelta(seconds=expires_in),
            scope=granted or scope,
            organisation=self._organisation,
            environment=self._environment,
            systembruker=self._systembruker is not None,
        )
        log.info(
            "maskinporten token fetched",
            extra=fields(
                scope=token.scope,
                organisation=token.organisation,
                expires_in=expires_in,
                environment=self._environment,
            ),
        )
        return _Entry(token, self._clock() + expires_in - cache_margin(expires_in))
