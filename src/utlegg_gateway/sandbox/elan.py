"""The ELAN endpoints (docs/elan-contract.md): attachments, validate, submit, change, status.

Every call goes through `_guarded`: Korrelasjonsid (UUID, echoed in errors), bearer token
for scope `skatteetaten:utleggsbegjaering`, at most `max_concurrency` calls in flight per
authenticated organisation and API (`concurrency_scope`), then the fault plan, then the handler.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from utlegg_gateway import provning
from utlegg_gateway.provning import Finding, ProvingContext
from utlegg_gateway.sandbox._asgi import DroppedConnection, wait_delay
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.faults import parse_action
from utlegg_gateway.sandbox.maskinporten import AccessToken, read_access_token
from utlegg_gateway.sandbox.options import ELAN_SCOPE
from utlegg_gateway.sandbox.rules import (
    ChangeContext,
    UploadView,
    attachment_state,
    classify_upload,
    findings_for,
    message,
)
from utlegg_gateway.sandbox.state import CaseRow, UploadRow
from utlegg_gateway.sandbox.status import fixture_status, status_body

__all__ = [
    "ELAN_BASE_PATH",
    "SEPARATE_API_BASES",
    "elan_routes",
    "error_body",
    "issuer_of",
    "proving_context",
]

ELAN_BASE_PATH = "/api/utleggsbegjaering/v2"
# Status på sak and Betjeningskartet are separate SwaggerHub APIs; their production
# bases are unpublished. The sandbox serves them at ELAN_BASE_PATH and, to exercise
# `elan.apis.*.base_url`, also under these bases of its own invention.
SEPARATE_API_BASES = {
    "status": "/api/utleggsbegjaering-status/v1",
    "betjeningskartet": "/api/utleggsbegjaering-betjeningskartet/v1",
}
_API_OF = {"status": "status", "betjeningskartet": "betjeningskartet"}
_LOGGED_HEADERS = ("korrelasjonsid", "meldingsid", "klientid", "content-type", "accept")


def error_body(kode: str, melding: str, korrelasjonsid: str | None) -> dict[str, Any]:
    """Skatteetaten's general error body; a request without Korrelasjonsid gets a new one
    (the published body always carries one for support to look up, never null)."""
    return {"kode": kode, "melding": melding, "korrelasjonsid": korrelasjonsid or str(uuid.uuid4())}


def _error(
    status: int, kode: str, melding: str, korrelasjonsid: str | None, **headers: str
) -> JSONResponse:
    return JSONResponse(error_body(kode, melding, korrelasjonsid), status, headers=headers or None)


def _too_many(korrelasjonsid: str | None) -> JSONResponse:
    return JSONResponse(
        error_body("XXX-007", "For mange samtidige kall; prøv igjen senere", korrelasjonsid),
        429,
        headers={"Retry-After": "1"},
    )


def _description(rule: str, fallback: str) -> str:
    info = provning.RULES.get(rule)
    return info.description if info is not None and info.description else fallback


def _strict_rejection_body(findings: list[Finding], instance: str) -> dict[str, Any]:
    """The published 422 (beta `ProblemDetailMedKontrollutslag`): kode, melding, beskrivelse."""
    text = f"Begjæringen bryter {len(findings)} vilkår"
    return {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": text,
        "instance": instance,
        "kontrollutslag": [
            {
                "kode": f.rule,
                "melding": f.serverMessage or f.message,
                "beskrivelse": _description(f.rule, f.serverMessage or f.message),
            }
            for f in findings
        ],
    }


def _rejection_body(
    findings: list[Finding], korrelasjonsid: str, extra: dict[str, Any]
) -> dict[str, Any]:
    text = f"Begjæringen bryter {len(findings)} vilkår"
    entries = []
    for f in findings:
        entry: dict[str, Any] = {
            "kode": f.rule,
            "melding": f.serverMessage or f.message,
            "beskrivelse": _description(f.rule, f.serverMessage or f.message),
            "lokasjon": f.location,
        }
        entry.update(extra.get(f.rule, {}))
        entries.append(entry)
    return {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": text,
        "kode": "XXX-422",
        "melding": text,
        "korrelasjonsid": korrelasjonsid,
        "kontrollutslag": entries,
    }


@dataclass(frozen=True)
class Call:
    """One authenticated ELAN call, as handlers see it."""

    request: Request
    korrelasjonsid: str
    token: AccessToken
    operation: str

    @property
    def org(self) -> str:
        """The authenticated organisation."""
        return self.token.orgnr


Handler = Callable[[Sandbox, Call], Awaitable[Response]]


def issuer_of(sb: Sandbox, request: Request) -> str:
    """The issuer URL, as fixed at start or as this request reached us."""
    return (sb.base_url or str(request.base_url).rstrip("/")) + "/"


def _guarded(
    sb: Sandbox, operation: str, handler: Handler, base: str = ELAN_BASE_PATH
) -> Callable[[Request], Any]:
    api = _API_OF.get(operation, "innsending")

    async def endpoint(request: Request) -> Response:
        sb.stats.calls[operation] += 1
        sb.stats.bases[base] += 1
        began = time.perf_counter()
        try:
            response = await _run(request, began)
        except ClientDisconnect:
            # The client went away mid-request (a gateway stopped or killed): as a real
            # server, drop the request quietly instead of logging a traceback.
            sb.stats.answers[f"{operation}:client-gone"] += 1
            return DroppedConnection()  # records nothing: there is no answer to check
        sb.stats.handler_seconds[operation] += time.perf_counter() - began
        shown = "dropped" if isinstance(response, DroppedConnection) else response.status_code
        sb.stats.answers[f"{operation}:{shown}"] += 1
        return response

    async def _run(request: Request, began: float) -> Response:
        korr = request.headers.get("korrelasjonsid")
        try:
            uuid.UUID(korr or "")
        except ValueError:
            return _error(
                400, "XXX-006", "Header Korrelasjonsid mangler eller er ikke en UUID", korr
            )
        sb.stats.note_korrelasjonsid(str(korr))
        if sb.options.strict:
            # The beta spec marks both required (uuid for Meldingsid); lenient mode lets
            # clients that leave them out through.
            if not request.headers.get("klientid"):
                return _error(400, "XXX-006", "Header Klientid mangler", korr)
            try:
                uuid.UUID(request.headers.get("meldingsid") or "")
            except ValueError:
                return _error(
                    400, "XXX-006", "Header Meldingsid mangler eller er ikke en UUID", korr
                )
        auth = request.headers.get("authorization", "")
        scheme, _, raw = auth.partition(" ")
        token = None
        if scheme.lower() == "bearer" and raw:
            token = read_access_token(
                raw.strip(),
                public_key=sb.public_key,
                issuer=issuer_of(sb, request),
                now=sb.clock.wall(),
            )
        if token is None:
            return _error(401, "XXX-004", "Klienten er ikke autentisert", korr)
        if ELAN_SCOPE not in token.scopes:
            return _error(403, "XXX-005", f"Tokenet mangler scope {ELAN_SCOPE}", korr)
        if not sb.limiter.try_acquire(token.orgnr, api):
            return _too_many(korr)
        try:
            return await _faulted(request, Call(request, korr or "", token, operation), began)
        finally:
            sb.limiter.release(token.orgnr, api)

    async def _faulted(request: Request, call: Call, began: float) -> Response:
        action, seconds = parse_action(sb.faults.next_action(operation))
        if action != "ok":
            sb.stats.faults_applied[f"{operation}:{action}"] += 1
        if action == "500":
            return _error(500, "XXX-001", "Uventet feil (sandbox-feil)", call.korrelasjonsid)
        if action == "503":
            # XXX-002 is documented as HTTP 500; lenient mode answers 503 as before.
            return _error(
                500 if sb.options.strict else 503,
                "XXX-002",
                "Tjenesten er midlertidig utilgjengelig",
                call.korrelasjonsid,
            )
        if action == "429":
            return _too_many(call.korrelasjonsid)
        if action == "drop":
            return DroppedConnection()
        if action == "delay":
            # A server that answers in `seconds`: the sandbox's own work so far (the
            # token's check, reading the body) counts toward them, not on top.
            await request.body()
            seconds = max(0.0, seconds - (time.perf_counter() - began))
            if await wait_delay(request, sb.delays, seconds):
                return DroppedConnection()  # the client is gone; nobody to answer
        if action == "work":
            # The server goes on working (and holding the slot) though the client left.
            await sb.delays.wait(seconds)
        if action == "latency":
            # A server whose answer takes `seconds` in all: its work overlaps the wait
            # rather than coming after it, as `delay:` does.
            await request.body()  # cached, so the handler's form() can read it again
            response = await handler(sb, call)
            seconds = max(0.0, seconds - (time.perf_counter() - began))
            if await wait_delay(request, sb.delays, seconds):
                return DroppedConnection()  # the work is stored; nobody to answer
            return response
        response = await handler(sb, call)
        if action == "accept_then_drop":
            return DroppedConnection()
        return response

    return endpoint


# -- attachments --------------------------------------------------------------------------


async def _upload(sb: Sandbox, call: Call) -> Response:
    korr = call.korrelasjonsid
    # A malformed multipart body raises HTTPException(400): app.py answers it as XXX-006.
    async with call.request.form() as form:
        fil = form.get("fil")
        ref = form.get("innsenderReferanse")
        if not isinstance(fil, UploadFile):
            return _error(
                400, "XXX-006", "Del 'fil' (filen) mangler i multipart-forespørselen", korr
            )
        if not isinstance(ref, str) or not ref.strip():
            return _error(400, "XXX-006", "Del 'innsenderReferanse' mangler", korr)
        content = await fil.read()
        row = UploadRow(
            uuid=str(uuid.uuid4()),
            org=call.org,
            innsender_referanse=ref.strip(),
            filnavn=fil.filename or "vedlegg",
            content_type=fil.content_type or "application/octet-stream",
            content=content,
            received_at=sb.clock.now_ts(),
            outcome=classify_upload(content),
            korrelasjonsid=korr,
        )
    sb.state.add_upload(row)
    if not sb.options.upload_reply_status:
        return JSONResponse({"uuid": row.uuid}, 201)
    return JSONResponse({"uuid": row.uuid, "status": _upload_state(sb, row)}, 201)


def _upload_state(sb: Sandbox, row: UploadRow) -> str:
    return attachment_state(
        row.outcome, row.received_at, sb.clock.now_ts(), sb.options.scanning_seconds
    )


async def _attachment_status(sb: Sandbox, call: Call) -> Response:
    if not sb.options.attachment_status_endpoint:
        path = call.request.url.path
        return _error(404, "XXX-003", f"Ukjent URL {path}", call.korrelasjonsid)
    uid = call.request.path_params["uuid"]
    row = sb.state.get_upload(uid)
    if row is None or row.org != call.org:
        return _error(404, "XXX-003", f"Ukjent vedlegg {uid}", call.korrelasjonsid)
    return JSONResponse(
        {
            "uuid": row.uuid,
            "filnavn": row.filnavn,
            "innsenderReferanse": row.innsender_referanse,
            "status": _upload_state(sb, row),
        }
    )


# -- begjæring ----------------------------------------------------------------------------


def _upload_view(sb: Sandbox) -> Callable[[str], UploadView | None]:
    def lookup(uid: str) -> UploadView | None:
        row = sb.state.get_upload(uid)
        if row is None:
            return None
        return UploadView(row.org, row.innsender_referanse, _upload_state(sb, row))

    return lookup


def proving_context(
    sb: Sandbox, org: str, previous: dict[str, Any] | None = None
) -> ProvingContext:
    """The context the local rules run with: sandbox date, served model, token's organisation."""
    kw: dict[str, Any] = {"today": sb.clock.today(), "version": sb.options.model_version}
    if previous is not None:
        kw["previous"] = previous
    # Newer provning knows the authenticated organisation (and then reports
    # INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING itself); older ones do not take it.
    if "authenticated_orgnr" in {f.name for f in fields(ProvingContext)}:
        kw["authenticated_orgnr"] = org
    return ProvingContext(**kw)


def _status_of(sb: Sandbox, case: CaseRow) -> str:
    return sb.case_status(case)


async def _begjaering(sb: Sandbox, call: Call) -> Response:
    request, korr = call.request, call.korrelasjonsid
    body = await request.body()
    ref = request.path_params.get("ref")
    status, answer = await _decide(sb, call, body, ref)
    headers = {k: v for k, v in request.headers.items() if k in _LOGGED_HEADERS}
    sb.state.log_request(
        operation=call.operation,
        method=request.method,
        path=request.url.path,
        received_at=sb.clock.now_ts(),
        headers=headers,
        org=call.org,
        body=body,
        status=status,
        ref=answer.get("eksternSaksreferanse") if status in (200, 201) else ref,
    )
    if status == 204:
        return Response(status_code=204)
    if status == 200 and sb.options.strict:
        # endreBegjaering answers "null (empty response body)" in the beta spec.
        return Response(status_code=200)
    if status in (200, 201, 422):
        return JSONResponse(answer, status)
    return _error(status, answer["kode"], answer["melding"], korr)


async def _decide(
    sb: Sandbox, call: Call, body: bytes, ref: str | None
) -> tuple[int, dict[str, Any]]:
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, {"kode": "XXX-006", "melding": "Innholdet er ikke gyldig JSON"}
    if not isinstance(payload, dict):
        return 400, {"kode": "XXX-006", "melding": "Begjæringen må være et JSON-objekt"}
    change = None
    case = None
    if ref is not None:
        case = sb.state.get_case(ref)
        if case is None or case.org != call.org:
            return 404, {"kode": "XXX-003", "melding": f"Ukjent eksternSaksreferanse {ref}"}
    ctx = proving_context(sb, call.org, case.payload if case else None)
    if case is not None and ref is not None:
        change = ChangeContext(
            ekstern_saksreferanse=ref,
            previous=case.payload,
            status=_status_of(sb, case),
            seconds_since_last_version=sb.clock.now_ts() - case.last_version_at,
            unsettled_seconds=sb.options.unsettled_seconds,
        )
    dup = None
    if change is None:
        dup = sb.state.find_duplicate(
            call.org, str(payload.get("innsenderReferanse")), str(payload.get("begjaeringsdato"))
        )
    findings = findings_for(
        payload,
        ctx,
        org=call.org,
        uploads=_upload_view(sb),
        duplicate_ref=dup.ref if dup else None,
        old_debtors=sb.old_debtors(),
        change=change,
        register=sb.register,
    )
    # Rules a test asked for (admin `rule-triggers`): those whose condition is a legal
    # judgement (PARAGRAF_4_19_VARSEL_PAAKREVET) cannot be derived from the payload.
    seen = {f.rule for f in findings}
    for rule in sb.forced_rules.get(str(payload.get("innsenderReferanse")), ()):
        if rule not in seen:
            findings.append(Finding(rule, message(rule), ""))
    if findings:
        if sb.options.strict:
            return 422, _strict_rejection_body(findings, call.request.url.path)
        extra = {"DUPLIKAT_INNSENDING": {"eksternSaksreferanse": dup.ref}} if dup else {}
        body_422 = _rejection_body(findings, call.korrelasjonsid, extra)
        return 422, body_422
    if call.operation in ("validate", "validate_change"):
        return 204, {}
    now = sb.clock.now_ts()
    if case is not None:
        sb.state.update_case(case.ref, payload, now)
        return 200, {"eksternSaksreferanse": case.ref}
    new_ref = str(uuid.uuid4())
    year = datetime.fromtimestamp(now, UTC).year
    sb.state.add_case(
        CaseRow(
            ref=new_ref,
            org=call.org,
            innsender_referanse=str(payload.get("innsenderReferanse")),
            begjaeringsdato=str(payload.get("begjaeringsdato")),
            saksnummer=f"UTLBGJ/{year}/{sb.state.next_counter('saksnummer'):06d}",
            submitted_at=now,
            last_version_at=now,
            versions=1,
            payload=payload,
            status_override=None,
        )
    )
    return 201, {"eksternSaksreferanse": new_ref}


# -- status and betjeningskartet ----------------------------------------------------------


async def _status(sb: Sandbox, call: Call) -> Response:
    ref = call.request.path_params["ref"]
    fixture = fixture_status(ref, sb.clock.now())
    if fixture is not None:
        return JSONResponse(fixture)
    case = sb.state.get_case(ref)
    if case is None or case.org != call.org:
        return _error(404, "XXX-003", f"Fant ingen sak med referanse {ref}", call.korrelasjonsid)
    return JSONResponse(status_body(case, _status_of(sb, case), sb.timings(case)))


async def _betjeningskartet(sb: Sandbox, call: Call) -> Response:
    korr = call.korrelasjonsid
    try:
        payload = json.loads(await call.request.body())
    except ValueError:
        return _error(400, "XXX-006", "Innholdet er ikke gyldig JSON", korr)
    skyldnere = payload.get("skyldner") if isinstance(payload, dict) else None
    if not isinstance(skyldnere, list) or not skyldnere:
        return _error(400, "XXX-006", "Feltet 'skyldner' må være en ikke-tom liste", korr)
    old = sb.old_debtors()
    answers = []
    for skyldner in skyldnere:
        ident = skyldner.get("taxIdentificationNumber") if isinstance(skyldner, dict) else None
        if not isinstance(ident, str) or not ident.isdigit() or len(ident) not in (9, 11):
            regelverk = "ukjentSkyldner"
        elif ident in old:
            regelverk = "tidligereRegelverk"
        else:
            regelverk = "nyttRegelverk"
        answers.append({"skyldner": skyldner, "regelverk": regelverk})
    kinds = {a["regelverk"] for a in answers}
    overall = kinds.pop() if len(kinds) == 1 else "motstridendeRegelverk"
    return JSONResponse({"regelverk": overall, "skyldner": answers})


def elan_routes(sb: Sandbox, base: str = ELAN_BASE_PATH) -> list[Route]:
    """The ELAN routes under `base`, each guarded by token, header, limit and fault checks."""
    table: list[tuple[str, str, str, Handler]] = [
        ("POST", "/vedlegg", "upload", _upload),
        ("GET", "/vedlegg/{uuid}", "attachment_status", _attachment_status),
        ("POST", "/utleggsbegjaering/valider", "validate", _begjaering),
        ("POST", "/utleggsbegjaering", "submit", _begjaering),
        ("PUT", "/utleggsbegjaering/valider/{ref}", "validate_change", _begjaering),
        ("PUT", "/utleggsbegjaering/{ref}", "change", _begjaering),
        ("GET", "/status/{ref}", "status", _status),
        ("POST", "/betjeningskartet", "betjeningskartet", _betjeningskartet),
    ]
    routes = [
        Route(base + path, _guarded(sb, name, handler, base), methods=[method], name=f"elan_{name}")
        for method, path, name, handler in table
    ]
    for method, path, name, handler in table:
        if name in SEPARATE_API_BASES:
            own = SEPARATE_API_BASES[name]
            routes.append(
                Route(
                    own + path,
                    _guarded(sb, name, handler, own),
                    methods=[method],
                    name=f"elan_{name}_own_base",
                )
            )
    return routes
