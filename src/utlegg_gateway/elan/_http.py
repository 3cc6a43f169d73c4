"""The one place httpx errors and ELAN error responses become `utlegg_gateway.errors` classes.

Whether a failed request may have reached the server decides what is safe afterwards:
a refused connection was never sent; a read timeout or a dropped connection after the
request went out has an *unknown outcome* (`ElanUnknownOutcomeError`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from utlegg_gateway.elan.results import rules_from_body
from utlegg_gateway.errors import (
    AuthError,
    ElanError,
    ElanPermanentError,
    ElanRejectedError,
    ElanTemporaryError,
    ElanUnknownOutcomeError,
)

__all__ = [
    "RETRYABLE_STATUS",
    "error_from_response",
    "json_body",
    "parse_retry_after",
    "send",
    "send_token_request",
]

# Safe to repeat: the server did not (429) or could not (5xx) act on the request.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

# Failures before any byte of the request left: a retry cannot duplicate anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def send(
    client: httpx.AsyncClient, request: httpx.Request, *, korrelasjonsid: str
) -> httpx.Response:
    """Send one ELAN request; transport failures become Elan*Error with the korrelasjonsid."""
    try:
        return await client.send(request)
    except _NOT_SENT as exc:
        raise ElanTemporaryError(
            f"cannot reach ELAN at {request.url.host}: {_describe(exc)}",
            korrelasjonsid=korrelasjonsid,
        ) from exc
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise ElanUnknownOutcomeError(
            f"no answer from ELAN after sending ({_describe(exc)}): the outcome is unknown",
            korrelasjonsid=korrelasjonsid,
        ) from exc
    except httpx.HTTPError as exc:
        # Proxy, protocol or URL problems: repeating the same request cannot help.
        raise ElanPermanentError(
            f"ELAN request failed: {_describe(exc)}", korrelasjonsid=korrelasjonsid
        ) from exc


async def send_token_request(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send one token request; transport failures become `AuthError` (transient: `hint`)."""
    try:
        return await client.send(request)
    except httpx.HTTPError as exc:
        # A grant is single-use and a token request has no side effect worth guarding:
        # every transport failure is retried with a fresh grant by the caller.
        raise AuthError(
            f"cannot reach Maskinporten at {request.url}: {_describe(exc)}",
            hint="check network access to Maskinporten and maskinporten.token_endpoint",
        ) from exc


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is empty, not JSON or not an object."""
    if not response.content:
        return {}
    try:
        data = json.loads(response.content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_from_response(response: httpx.Response, *, korrelasjonsid: str) -> ElanError:
    """The typed error for a non-2xx ELAN response, keeping kode, melding and korrelasjonsid."""
    body = json_body(response)
    status = response.status_code
    kode = body.get("kode") if isinstance(body.get("kode"), str) else None
    melding = body.get("melding") or body.get("detail") or body.get("title")
    text = melding if isinstance(melding, str) and melding else f"ELAN answered HTTP {status}"
    # Prefer the server's echo: it is what Skatteetaten's support can look up.
    server_id = body.get("korrelasjonsid")
    kid = server_id if isinstance(server_id, str) and server_id else korrelasjonsid
    common: dict[str, Any] = {"kode": kode, "korrelasjonsid": kid, "http_status": status}
    if status == 422:
        rules = [
            {"kode": r.kode, "melding": r.melding, "lokasjon": r.lokasjon}
            | ({"eksternSaksreferanse": r.ekstern_saksreferanse} if r.ekstern_saksreferanse else {})
            for r in rules_from_body(body)
        ]
        return ElanRejectedError(text, rules=rules, **common)
    if status in RETRYABLE_STATUS:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ElanTemporaryError(text, retry_after=retry_after, **common)
    hint = None
    if status == 401:
        hint = "Skatteetaten uses 401 for missing authorisation (scope, delegation, systembruker)"
    elif status == 403:
        hint = "Skatteetaten uses 403 for 'not authenticated': check the Maskinporten client"
    return ElanPermanentError(text, hint=hint, **common)
