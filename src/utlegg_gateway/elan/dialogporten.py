"""Dialogporten end-user client: find the authority's letters and fetch their attachments.

Speaks the end-user API as a system user (research/dialogporten-notes.md §2): search
`GET {base}/api/v1/enduser/dialogs` following `continuationToken` while `hasNextPage`
(always resending the same `orderBy` and filters, which the server's validator requires),
`GET …/dialogs/{id}/transmissions` (no seen-log side effect), `GET …/dialogs/{id}` (marks
the dialog seen for the whole organisation; used only when letters are whole dialogs),
and attachment downloads with the bearer token. The token is the Maskinporten system-user
token with scope `digdir:dialogporten` from the shared `TokenProvider`.

No retry loop here: the follow-up poller runs on a schedule and never advances its
cursor past a failed cycle, so the next cycle is the retry. A 401 evicts the token and
retries exactly once. httpx failures are translated by `elan._http`; Dialogporten's
errors map to the same classes as ELAN's (404/410 → `ElanPermanentError` with
`http_status`, 429/5xx → `ElanTemporaryError` with `retry_after`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

import httpx

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.elan._http import error_from_response, send
from utlegg_gateway.elan.maskinporten import AccessToken
from utlegg_gateway.errors import ElanPermanentError

__all__ = [
    "DEFAULT_BASE_URLS",
    "DialogPage",
    "DialogportenClient",
    "TokenSource",
    "iso_utc",
]

log = get_logger(__name__)

# research/dialogporten-notes.md §1.1: TT02 for ELAN's test environment, production.
DEFAULT_BASE_URLS = {
    "test": "https://platform.tt02.altinn.no/dialogporten",
    "prod": "https://platform.altinn.no/dialogporten",
}
_ENDUSER = "/api/v1/enduser"


class TokenSource(Protocol):
    """What the client needs from `TokenProvider`."""

    async def get(self, *, scope: str | None = None) -> AccessToken: ...

    def invalidate(self, token: AccessToken) -> None: ...


@dataclass(frozen=True)
class DialogPage:
    """One page of a dialog search."""

    items: list[dict[str, Any]] = field(default_factory=list)
    has_next_page: bool = False
    continuation_token: str | None = None


def iso_utc(ts: datetime) -> str:
    """A date-time as Dialogporten wants it: explicit UTC with `Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DialogportenClient:
    """Async end-user client; `async with DialogportenClient(...) as dp: ...`."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        http: httpx.AsyncClient,
        scope: str = "digdir:dialogporten",
        attachment_scope: str | None = None,
        owned: bool = False,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._http = http
        self._scope = scope
        self._attachment_scope = attachment_scope or scope
        self._owned = owned

    async def __aenter__(self) -> DialogportenClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owned:
            await self._http.aclose()

    async def _get(
        self, url: str, *, params: Mapping[str, str] | None = None, scope: str | None = None
    ) -> httpx.Response:
        scope = scope or self._scope
        for attempt in (1, 2):
            token = await self._tokens.get(scope=scope)
            # A local id for our logs and error details; Dialogporten has no such header.
            korrelasjonsid = str(uuid.uuid4())
            request = self._http.build_request(
                "GET",
                url,
                params=params,
                headers={"Authorization": f"Bearer {token.value}", "Accept": "*/*"},
            )
            response = await send(self._http, request, korrelasjonsid=korrelasjonsid)
            if response.status_code == 401 and attempt == 1:
                self._tokens.invalidate(token)
                continue
            if response.is_success:
                return response
            error = error_from_response(response, korrelasjonsid=korrelasjonsid)
            log.warning(
                "dialogporten call failed",
                extra=fields(url=url.split("?", maxsplit=1)[0], http_status=response.status_code),
            )
            raise error
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ElanPermanentError(
                f"Dialogporten answered {what} with a body that is not JSON",
                http_status=response.status_code,
            ) from exc

    async def search(
        self,
        *,
        service_resource: str,
        party: str,
        updated_after: datetime | None,
        limit: int = 100,
        order_by: str = "updatedAt_asc",
    ) -> AsyncIterator[DialogPage]:
        """Every page of dialogs updated at or after `updated_after`, oldest first."""
        params: dict[str, str] = {
            "serviceResource": service_resource,
            "party": party,
            "orderBy": order_by,
            "limit": str(limit),
        }
        if updated_after is not None:
            params["updatedAfter"] = iso_utc(updated_after)
        url = f"{self._base}{_ENDUSER}/dialogs"
        token: str | None = None
        while True:
            query = dict(params, continuationToken=token) if token else params
            body = self._json(await self._get(url, params=query), "a dialog search")
            if not isinstance(body, dict):
                raise ElanPermanentError("Dialogporten search answer is not an object")
            items = [x for x in body.get("items") or [] if isinstance(x, dict)]
            more = bool(body.get("hasNextPage"))
            token = body.get("continuationToken") if more else None
            yield DialogPage(items=items, has_next_page=more, continuation_token=token)
            if not more or not token:
                return

    async def transmissions(self, dialog_id: str) -> list[dict[str, Any]]:
        """The dialog's transmissions (no seen-log side effect)."""
        url = f"{self._base}{_ENDUSER}/dialogs/{dialog_id}/transmissions"
        body = self._json(await self._get(url), "a transmission list")
        return [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []

    async def dialog(self, dialog_id: str) -> dict[str, Any]:
        """The full dialog; NOTE: marks it seen for every user of the organisation."""
        url = f"{self._base}{_ENDUSER}/dialogs/{dialog_id}"
        body = self._json(await self._get(url), "a dialog")
        return body if isinstance(body, dict) else {}

    async def download(self, url: str) -> bytes:
        """The bytes behind an attachment URL, fetched with the attachment token."""
        return (await self._get(url, scope=self._attachment_scope)).content
