"""The ELAN HTTP client: attachments, validate, submit, change, Status på sak, Betjeningskartet.

Every call carries `Authorization`, a new `Korrelasjonsid` (per attempt), the logical
call's `Meldingsid` (kept across retries) and `Klientid`; header names and paths come
from `elan.*` settings. At most `min(elan.max_concurrency, 5)` calls are in flight per
client (= per organisation), and with `cluster.enabled` per organisation across every
instance (`cluster.SlotGate`). Only transient failures are retried (429/500/502/503/504,
network, timeout) and only within the policy's count and time; a 401 refreshes the token
once. A submit with an unknown outcome is resolved by resubmitting: `DUPLIKAT_INNSENDING`
then means "already in".
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.cluster._slots import (
    SlotGate,
    SlotGates,
    cluster_slot_gates,
    local_slot_gates,
)
from utlegg_gateway.config import ElanSettings, Settings
from utlegg_gateway.elan._http import error_from_response, json_body, send
from utlegg_gateway.elan._retry import Clock, RetryPolicy, Sleep
from utlegg_gateway.elan.maskinporten import AccessToken, TokenProvider
from utlegg_gateway.elan.results import (
    DUPLICATE_RULE,
    Accepted,
    FailedPermanently,
    FailedTemporarily,
    Rejected,
    SubmitResult,
    UploadedAttachment,
    rules_from_body,
)
from utlegg_gateway.errors import (
    ElanError,
    ElanPermanentError,
    ElanTemporaryError,
    ElanUnknownOutcomeError,
)

__all__ = ["ATTACHMENT_FINAL_STATES", "MAX_CONCURRENCY", "ElanClient", "build_client"]

log = get_logger(__name__)

# Skatteetaten: at most 5 concurrent calls per API per organisation; never more.
MAX_CONCURRENCY = 5
ATTACHMENT_FINAL_STATES = frozenset({"ready", "virus", "failed"})
# The one rule by which `valider` says "your attachment is still being checked".
NOT_CHECKED_YET_RULE = "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT"
_PENDING_CHANGE_RULE = "UAVKLART_STATUS"
# Which of ELAN's separately published APIs each operation belongs to.
_API_OF = {"status": "status", "betjeningskartet": "betjeningskartet"}


class UploadBody(Protocol):
    """An attachment sent as a stream: its size up front, its bytes on each `chunks()`."""

    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...


def _multipart(
    body: UploadBody, filnavn: str, innsender_referanse: str
) -> tuple[dict[str, str], Callable[[], AsyncIterator[bytes]]]:
    """The same multipart/form-data as `files=`/`data=` give, streamed with a length."""
    boundary = uuid.uuid4().hex
    quoted = filnavn.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D")
    quoted = quoted.replace("\n", "%0A")
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="innsenderReferanse"\r\n\r\n'
        f"{innsender_referanse}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="fil"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + body.size + len(tail)),
    }

    async def stream() -> AsyncIterator[bytes]:
        yield head
        async for chunk in body.chunks():
            yield chunk
        yield tail

    return headers, stream


class _Outcome:
    """What happened across the attempts of one logical call."""

    def __init__(self) -> None:
        self.unknown_outcome = False
        self.korrelasjonsid = ""


class ElanClient:
    """Async ELAN client; use as `async with build_client(settings) as elan: ...`."""

    def __init__(
        self,
        settings: ElanSettings,
        *,
        base_url: str,
        tokens: TokenProvider,
        api_base_urls: Mapping[str, str] | None = None,
        http: httpx.AsyncClient,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        owned: tuple[httpx.AsyncClient, ...] = (),
        slots: SlotGates | None = None,
    ) -> None:
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._bases = {"innsending": self._base_url, **(api_base_urls or {})}
        self.tokens = tokens
        self._http = http
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
        self._retry = RetryPolicy.from_settings(settings.retry)
        # This process's semaphores unless given the cluster's gates (build_client).
        self._slots = slots or local_slot_gates(
            min(settings.max_concurrency, MAX_CONCURRENCY), settings.concurrency_scope
        )
        self._owned = owned
        # Learnt at run time: the status path answered 404/405, so `auto` asks `valider`.
        self._no_status_path = settings.paths.attachment is None

    async def __aenter__(self) -> ElanClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP clients this ELAN client created, and its slot gates."""
        for client in self._owned:
            await client.aclose()
        await self._slots.aclose()

    # --- the one request loop -------------------------------------------------------

    def _url(self, path: str, api: str = "innsending", **params: str) -> str:
        for name, value in params.items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        return self._bases.get(api, self._base_url) + path

    async def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        meldingsid: str | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        stream: tuple[dict[str, str], Callable[[], AsyncIterator[bytes]]] | None = None,
        passthrough: frozenset[int] = frozenset(),
        outcome: _Outcome | None = None,
    ) -> httpx.Response:
        """Send with retries; a 2xx (or a `passthrough` status) is returned, others raise."""
        outcome = outcome or _Outcome()
        meldingsid = meldingsid or str(uuid.uuid4())
        names = self._settings.headers
        backoff = self._retry.start(self._clock, self._rng)
        refreshed = False
        while True:
            korrelasjonsid = str(uuid.uuid4())
            outcome.korrelasjonsid = korrelasjonsid

            def build(token: AccessToken, korrelasjonsid: str = korrelasjonsid) -> httpx.Request:
                headers = {
                    "Authorization": f"Bearer {token.value}",
                    names.korrelasjonsid: korrelasjonsid,
                    names.meldingsid: meldingsid,
                    names.klientid: self._settings.klientid,
                    "Accept": "application/json",
                }
                if stream is not None:
                    # A new iterator per attempt: a retry sends the file from its start.
                    return self._http.build_request(
                        method, url, content=stream[1](), headers=headers | stream[0]
                    )
                return self._http.build_request(
                    method, url, json=json, files=files, data=data, headers=headers
                )

            try:
                token, response = await self._in_slot(
                    build, korrelasjonsid, self._slots[_API_OF.get(operation, "innsending")]
                )
            except ElanTemporaryError as exc:
                if isinstance(exc, ElanUnknownOutcomeError):
                    outcome.unknown_outcome = True
                error: ElanError = exc
                retry_after = exc.retry_after
            else:
                status = response.status_code
                # A call that went through is DEBUG: at INFO a case gets one line for its
                # outcome (with the submit's korrelasjonsid), not one per call beside it.
                log.log(
                    logging.DEBUG if 200 <= status < 300 else logging.INFO,
                    "elan call",
                    extra=fields(
                        operation=operation,
                        status=status,
                        korrelasjonsid=korrelasjonsid,
                        meldingsid=meldingsid,
                        attempt=backoff.attempts,
                    ),
                )
                if 200 <= status < 300 or status in passthrough:
                    return response
                if status == 401 and not refreshed:
                    # Possibly an expired or revoked token: one fresh token, one retry.
                    refreshed = True
                    self.tokens.invalidate(token)
                    continue
                error = error_from_response(response, korrelasjonsid=korrelasjonsid)
                if not isinstance(error, ElanTemporaryError):
                    raise error
                retry_after = error.retry_after
            wait = backoff.next_wait(retry_after)
            if wait is None:
                raise error
            log.warning(
                "elan call failed, retrying",
                extra=fields(
                    operation=operation,
                    error=error.code,
                    http_status=error.http_status,
                    korrelasjonsid=korrelasjonsid,
                    wait_seconds=round(wait, 3),
                ),
            )
            await self._sleep(wait)

    async def _in_slot(
        self,
        build: Callable[[AccessToken], httpx.Request],
        korrelasjonsid: str,
        gate: SlotGate,
    ) -> tuple[AccessToken, httpx.Response]:
        """Send in one of the API's `max_concurrency` slots; the body is read inside it.

        The token is taken once the slot is ours: a call can wait in the queue longer than
        a token lives (thousands of status calls behind 5 slots), and one taken before the
        wait would come back 401, a wasted call in a slot. The rare fetch of a new token
        then holds the slot for its few milliseconds."""
        slot = await gate.acquire()
        try:
            token = await self.tokens.get()
            response = await send(self._http, build(token), korrelasjonsid=korrelasjonsid)
            # Read inside the slot: the call is in flight until its body is in.
            await response.aread()
        except ElanUnknownOutcomeError as exc:
            if not isinstance(exc.__cause__, httpx.TimeoutException):
                # The server closed the connection: it is done with the call.
                await slot.release()
                raise
            # We stopped waiting; the server may still be working on it. Keep the slot
            # for the grace, or a retry would be a sixth call in flight at ELAN.
            grace = self._settings.abandoned_call_grace_seconds
            slot.release_after(self._settings.timeout_seconds if grace is None else grace)
            raise
        except BaseException:
            await slot.release()
            raise
        await slot.release()
        return token, response

    # --- attachments ----------------------------------------------------------------

    async def upload_attachment(
        self, content: bytes | UploadBody, filnavn: str, innsender_referanse: str
    ) -> UploadedAttachment:
        """Upload one file for the begjæring `innsender_referanse`: its uuid (and state).

        `content` is the bytes, or an `UploadBody` streamed in chunks (big files).
        """
        # A retry after an unknown outcome may leave an orphan upload on the server;
        # harmless: only the uuid we return is referenced by the begjæring.
        url = self._url(self._settings.paths.upload)
        if isinstance(content, bytes):
            response = await self._call(
                "upload_attachment",
                "POST",
                url,
                files={"fil": (filnavn, content, "application/octet-stream")},
                data={"innsenderReferanse": innsender_referanse},
            )
        else:
            response = await self._call(
                "upload_attachment",
                "POST",
                url,
                stream=_multipart(content, filnavn, innsender_referanse),
            )
        body = json_body(response)
        value = body.get("uuid")
        if not isinstance(value, str) or not value:
            raise ElanPermanentError(
                "ELAN accepted the upload but sent no uuid",
                http_status=response.status_code,
                kode=body.get("kode") if isinstance(body.get("kode"), str) else None,
            )
        state = body.get("status")
        return UploadedAttachment(value, state if isinstance(state, str) else None)

    async def attachment_status(self, uuid: str) -> str:
        """The attachment's state: scanning, ready, virus or failed (as the server says)."""
        path = self._settings.paths.attachment
        if path is None:
            raise ElanPermanentError("elan.paths.attachment is not configured", http_status=404)
        response = await self._call("attachment_status", "GET", self._url(path, uuid=uuid))
        state = json_body(response).get("status")
        return state if isinstance(state, str) else "unknown"

    async def wait_until_ready(
        self,
        uploads: Sequence[UploadedAttachment],
        begjaering: Mapping[str, Any] | None = None,
        *,
        change_of: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, str]:
        """Wait until ELAN has checked each upload: uuid -> ready, virus or failed.

        `begjaering` (with the uuids filled in; `change_of` for a change) is what
        `valider` is asked about when no status path answers; there "ready" means only
        that ELAN no longer says the attachments are being checked: a broken rule of
        any other kind is left for the submit to report.
        """
        limit = self._settings.attachment_ready_timeout_seconds if timeout is None else timeout
        deadline = self._clock() + limit
        states = {u.uuid: u.state for u in uploads if u.state in ATTACHMENT_FINAL_STATES}
        pending = [u.uuid for u in uploads if u.uuid not in states]
        mode = self._settings.attachment_readiness
        if pending and mode != "validate" and not (mode == "auto" and self._no_status_path):
            try:
                for uid in pending:
                    states[uid] = await self._poll_status(uid, deadline, limit)
                pending = []
            except ElanPermanentError as exc:
                if mode == "status" or exc.http_status not in (404, 405):
                    raise
                self._no_status_path = True
                log.warning(
                    "the attachment status path is not there: asking valider instead",
                    extra=fields(http_status=exc.http_status),
                )
        if pending:
            if begjaering is None:
                raise ElanPermanentError(
                    "cannot learn the attachments' state: no status path and no begjæring "
                    "to validate",
                    http_status=404,
                )
            await self._validate_until_checked(begjaering, change_of, deadline, limit)
            states.update(dict.fromkeys(pending, "ready"))
        return {u.uuid: states[u.uuid] for u in uploads}

    def _backoff_waits(self) -> Iterator[float]:
        wait = max(self._retry.initial_wait, 0.01)
        while True:
            yield wait
            wait = min(wait * 2, max(self._retry.max_wait, 0.01))

    async def _poll_status(self, uid: str, deadline: float, limit: float) -> str:
        waits = self._backoff_waits()
        while True:
            state = await self.attachment_status(uid)
            if state in ATTACHMENT_FINAL_STATES:
                return state
            left = deadline - self._clock()
            if left <= 0:
                raise ElanTemporaryError(
                    f"attachment {uid} still '{state}' after {limit:g} s", value=state
                )
            await self._sleep(min(next(waits), left))

    async def _validate_until_checked(
        self,
        begjaering: Mapping[str, Any],
        change_of: str | None,
        deadline: float,
        limit: float,
    ) -> None:
        waits = self._backoff_waits()
        while True:
            if change_of is None:
                result = await self.validate(begjaering)
            else:
                result = await self.validate_change(change_of, begjaering)
            if isinstance(result, FailedTemporarily | FailedPermanently):
                raise result.error
            if not (
                isinstance(result, Rejected)
                and {r.kode for r in result.rules} == {NOT_CHECKED_YET_RULE}
            ):
                return
            left = deadline - self._clock()
            if left <= 0:
                raise ElanTemporaryError(
                    f"ELAN still checking the attachments after {limit:g} s "
                    f"({NOT_CHECKED_YET_RULE})",
                    value=NOT_CHECKED_YET_RULE,
                )
            await self._sleep(min(next(waits), left))

    # --- begjæring ------------------------------------------------------------------

    async def _verdict(
        self,
        operation: str,
        method: str,
        url: str,
        begjaering: Mapping[str, Any],
        *,
        meldingsid: str | None,
        reference: str | None = None,
    ) -> SubmitResult:
        outcome = _Outcome()
        try:
            response = await self._call(
                operation,
                method,
                url,
                json=begjaering,
                meldingsid=meldingsid or str(uuid.uuid4()),
                passthrough=frozenset({422}),
                outcome=outcome,
            )
        except ElanTemporaryError as exc:
            return FailedTemporarily(exc)
        except ElanError as exc:
            return FailedPermanently(exc)
        body = json_body(response)
        if response.status_code == 422:
            return self._rejected(operation, body, outcome)
        ref = body.get("eksternSaksreferanse")
        return Accepted(
            ekstern_saksreferanse=ref if isinstance(ref, str) and ref else reference,
            korrelasjonsid=outcome.korrelasjonsid,
        )

    def _rejected(self, operation: str, body: dict[str, Any], outcome: _Outcome) -> SubmitResult:
        rules = rules_from_body(body)
        codes = {rule.kode for rule in rules}
        server_kid = body.get("korrelasjonsid")
        kid = server_kid if isinstance(server_kid, str) and server_kid else outcome.korrelasjonsid
        if operation == "submit" and codes == {DUPLICATE_RULE}:
            ref = next((r.ekstern_saksreferanse for r in rules if r.ekstern_saksreferanse), None)
            # After an unknown outcome this is our own earlier attempt. Without one it is
            # still "already in": the journal upstream decides whether it expected that.
            log.log(
                20 if outcome.unknown_outcome else 30,
                "submit answered DUPLIKAT_INNSENDING: already submitted",
                extra=fields(
                    after_unknown_outcome=outcome.unknown_outcome,
                    ekstern_saksreferanse=ref,
                    korrelasjonsid=kid,
                ),
            )
            return Accepted(ekstern_saksreferanse=ref, korrelasjonsid=kid, already_submitted=True)
        if operation == "change" and outcome.unknown_outcome and codes == {_PENDING_CHANGE_RULE}:
            # Our own earlier attempt may be the pending change: not a rejection, not proof.
            return FailedTemporarily(
                ElanUnknownOutcomeError(
                    "the change may have been applied (no answer, then UAVKLART_STATUS): "
                    "check Status på sak before changing again",
                    korrelasjonsid=kid,
                    http_status=422,
                    kode=_PENDING_CHANGE_RULE,
                )
            )
        kode = body.get("kode")
        melding = body.get("melding") or body.get("detail") or "ELAN rejected the begjæring"
        return Rejected(
            rules=rules,
            korrelasjonsid=kid,
            kode=kode if isinstance(kode, str) else None,
            melding=str(melding),
        )

    async def validate(self, begjaering: Mapping[str, Any]) -> SubmitResult:
        """Dry run of a new begjæring: Accepted(reference None) or Rejected with every rule."""
        return await self._verdict(
            "validate",
            "POST",
            self._url(self._settings.paths.validate_new),
            begjaering,
            meldingsid=None,
        )

    async def validate_change(
        self, ekstern_saksreferanse: str, begjaering: Mapping[str, Any]
    ) -> SubmitResult:
        """Dry run of a change to case `ekstern_saksreferanse`."""
        url = self._url(
            self._settings.paths.validate_change, eksternSaksreferanse=ekstern_saksreferanse
        )
        return await self._verdict(
            "validate_change", "PUT", url, begjaering, meldingsid=None, reference=None
        )

    async def submit(
        self, begjaering: Mapping[str, Any], *, meldingsid: str | None = None
    ) -> SubmitResult:
        """Submit a new begjæring; one Meldingsid across retries; duplicates resolved."""
        return await self._verdict(
            "submit",
            "POST",
            self._url(self._settings.paths.submit),
            begjaering,
            meldingsid=meldingsid,
        )

    async def change(
        self,
        ekstern_saksreferanse: str,
        begjaering: Mapping[str, Any],
        *,
        meldingsid: str | None = None,
    ) -> SubmitResult:
        """Send a corrected version of case `ekstern_saksreferanse`."""
        url = self._url(self._settings.paths.change, eksternSaksreferanse=ekstern_saksreferanse)
        return await self._verdict(
            "change", "PUT", url, begjaering, meldingsid=meldingsid, reference=ekstern_saksreferanse
        )

    # --- follow-up ------------------------------------------------------------------

    async def status(self, ekstern_saksreferanse: str) -> dict[str, Any]:
        """Status på sak (raw JSON, unknown fields kept); 404 raises ElanPermanentError."""
        url = self._url(
            self._settings.paths.status, "status", eksternSaksreferanse=ekstern_saksreferanse
        )
        return json_body(await self._call("status", "GET", url))

    async def betjeningskartet(self, identifikatorer: list[str]) -> dict[str, Any]:
        """Which rules (old/new) apply to each debtor; call right before submitting."""
        body = {
            "skyldner": [
                {"taxIdentificationNumber": ident, "landkodeIdentifikator": "NO"}
                for ident in identifikatorer
            ]
        }
        url = self._url(self._settings.paths.betjeningskartet, "betjeningskartet")
        return json_body(await self._call("betjeningskartet", "POST", url, json=body))


def build_client(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
) -> ElanClient:
    """An ELAN client with its own token provider, from the validated settings."""
    elan = settings.elan
    bases = elan.api_base_urls(settings.environment)
    rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
    # Several instances share the organisation's slots (the gates connect at the first
    # call, so a ConfigError here or below leaves nothing open).
    slots = (
        cluster_slot_gates(settings, min(elan.max_concurrency, MAX_CONCURRENCY))
        if settings.cluster.enabled
        else None
    )
    # An AsyncClient opens no socket until used; a ConfigError below leaves nothing open.
    token_http = httpx.AsyncClient(
        transport=transport, timeout=settings.maskinporten.timeout_seconds
    )
    tokens = TokenProvider.from_settings(
        settings,
        http=token_http,
        retry=RetryPolicy.from_settings(elan.retry),
        sleep=sleep,
        clock=clock,
        rng=rng,
    )
    http = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(elan.timeout_seconds, connect=elan.connect_timeout_seconds),
    )
    return ElanClient(
        elan,
        base_url=bases["innsending"],
        api_base_urls=bases,
        tokens=tokens,
        http=http,
        sleep=sleep,
        clock=clock,
        rng=rng,
        owned=(token_http, http),
        slots=slots,
    )
