"""Dialogporten emulator: the end-user API a system user polls for Skatteetaten's letters.

Serves `/dialogporten/api/v1/enduser/dialogs[...]` in the shapes of the end-user OpenAPI
(research/dialogporten-notes.md §2–3): search with `serviceResource`, `party`,
`updatedAfter`/`updatedBefore`, `createdAfter`, `externalReference`, `orderBy`
(keyset on the sort key plus `id`), `limit` (1–1000) and an opaque `continuationToken`
with `hasNextPage`; the full dialog (which, as in the real service, writes the seen log);
the transmissions list and one transmission (no seen side effect). Attachments are served
by the "service owner" (Skatteetaten) under `/api/utleggsbegjaering/v2/meldinger/…`,
because Dialogporten stores no file content.

Letters are *derived*, not stored: `DialogportenState.case_accepted` (the hook the ELAN
submit calls) records the accepted case, and a case whose `innsenderReferanse` ends in
one of `DialogportenOptions.rettebrev_suffixes` gets a rettebrev that becomes visible
`rettebrev_after_seconds` after acceptance on the sandbox clock. Its `updatedAt` is that
due time (as with Dialogporten's `visibleFrom`), ids are uuid5 of the case reference, so
the same cases give the same dialogs after a restart and tests can count on them.

Which field carries the case reference is unknown for the real service (notes §6); the
sandbox puts the `eksternSaksreferanse` in `externalReference` and in `process`
(`urn:no:skatteetaten:utlegg:sak:<ref>`), and `dialog_per="case"` (one dialog per case,
letters as transmissions) or `"letter"` (one dialog per letter, attachments on the dialog,
no transmissions: the Altinn Correspondence shape) is an option.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from utlegg_gateway.sandbox._asgi import DroppedConnection
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.dialogporten.admin import admin_routes
from utlegg_gateway.sandbox.dialogporten.shapes import (
    ATTACHMENT_PREFIX,
    dialog_json,
    problem,
    transmission_json,
)
from utlegg_gateway.sandbox.dialogporten.state import (
    ELAN_SERVICE_RESOURCE,
    ORG_PARTY_PREFIX,
    AcceptedCase,
    DialogportenOptions,
    DialogportenState,
    Letter,
    minimal_pdf,
)
from utlegg_gateway.sandbox.elan import issuer_of
from utlegg_gateway.sandbox.maskinporten import read_access_token

__all__ = [
    "DIALOGPORTEN_PREFIX",
    "ELAN_SERVICE_RESOURCE",
    "AcceptedCase",
    "Authenticate",
    "DialogportenOptions",
    "DialogportenState",
    "Letter",
    "admin_routes",
    "minimal_pdf",
    "routes",
    "sandbox_routes",
]

DIALOGPORTEN_PREFIX = "/dialogporten/api/v1/enduser"
DIALOGPORTEN_SCOPE = "digdir:dialogporten"
_ORDER_KEYS = {"updatedat": "updatedAt", "createdat": "createdAt", "contentupdatedat": "updatedAt"}

# Verifies a bearer token (the sandbox's own JWTs): (scopes, system user's orgnr), or None.
Authenticate = Callable[[str, Request], tuple[tuple[str, ...], str | None] | None]


def _unauthorized(error: str, description: str) -> Response:
    # The published 401 has no body (end-user OpenAPI); the reason goes where RFC 6750
    # puts it, in WWW-Authenticate, as ASP.NET's JWT bearer handler does.
    challenge = f'Bearer error="{error}", error_description="{description}"'
    return Response(status_code=401, headers={"WWW-Authenticate": challenge})


def _caller_party(
    request: Request, authenticate: Authenticate, *, scopes: tuple[str, ...]
) -> str | Response:
    """The party the system user in the bearer token acts for, or the error response."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return _unauthorized("invalid_request", "A bearer token is required.")
    caller = authenticate(header[7:].strip(), request)
    if caller is None:
        return _unauthorized("invalid_token", "The bearer token is not valid.")
    granted, systemuser_org = caller
    if not set(granted) & set(scopes):
        wanted = " or ".join(s for s in scopes)
        return _unauthorized(
            "insufficient_scope",
            "This endpoint requires a token from ID-porten or Maskinporten "
            f"with the scope(s) {wanted}",
        )
    if not systemuser_org:
        # The published 403 has no body either.
        return Response(status_code=403)
    return ORG_PARTY_PREFIX + systemuser_org


def _parse_time(raw: str | None, name: str) -> datetime | Response | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return problem(400, "Bad Request", f"'{name}' is not a valid date-time: {raw}")
    if value.tzinfo is None:
        return problem(400, "Bad Request", f"'{name}' must carry an explicit time zone")
    return value


def _order(raw: str | None) -> tuple[str, bool] | Response:
    """(sort key, descending) from `orderBy`; the default is contentUpdatedAt descending."""
    text = (raw or "contentUpdatedAt_desc").split(",")[0].strip().lower()
    key, _, direction = text.partition("_")
    if key not in _ORDER_KEYS or direction not in ("", "asc", "desc"):
        return problem(400, "Bad Request", f"Invalid orderBy: {raw}")
    return key, direction != "asc"


def _fault(state: DialogportenState, endpoint: str) -> Response | None:
    """Apply the next scripted fault: `drop` (connection reset), `500`, `503`, or None."""
    action = state.next_fault(endpoint)
    if action == "drop":
        return DroppedConnection()
    if action == "503":
        # As published: text/plain "Service Unavailable" with Retry-After.
        return PlainTextResponse("Service Unavailable", 503, headers={"Retry-After": "1"})
    if action == "500":
        return problem(500, "Sandbox fault", "scripted 500")
    return None


def routes(state: DialogportenState, *, authenticate: Authenticate) -> list[BaseRoute]:
    """The end-user API routes plus the service owner's attachment download."""

    def base_of(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def search(request: Request) -> Response:
        if (fault := _fault(state, "search")) is not None:
            return fault
        party = _caller_party(request, authenticate, scopes=(DIALOGPORTEN_SCOPE,))
        if isinstance(party, Response):
            return party
        q = request.query_params
        resources = q.getlist("serviceResource")
        parties = q.getlist("party")
        if not resources and not parties:
            return problem(400, "Bad Request", "Either ServiceResource or Party must be specified.")
        bounds: dict[str, datetime | None] = {}
        for name in ("updatedAfter", "updatedBefore", "createdAfter", "createdBefore"):
            parsed = _parse_time(q.get(name), name)
            if isinstance(parsed, Response):
                return parsed
            bounds[name] = parsed
        order = _order(q.get("orderBy"))
        if isinstance(order, Response):
            return order
        key, descending = order
        try:
            limit = int(q.get("limit") or 100)
        except ValueError:
            return problem(400, "Bad Request", "'limit' must be an integer")
        if not 1 <= limit <= 1000:
            return problem(400, "Bad Request", "'limit' must be between 1 and 1000")
        after: tuple[str, str] | None = None
        token = q.get("continuationToken")
        if token:
            parts = dict(p.split("_", 1) for p in token.split(",") if "_" in p)
            if key not in parts or "id" not in parts:
                return problem(
                    400,
                    "Bad Request",
                    f"continuationToken does not match OrderBy. Missing token keys: {key}",
                )
            after = (parts[key], parts["id"])
        ext_ref = q.get("externalReference")
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for dialog_id, letters in state.dialogs().items():
            item = dialog_json(dialog_id, letters, state.options, detail=False, base="")
            if item["party"] != party:
                continue  # only what the caller is authorized for
            if parties and item["party"] not in parties:
                continue
            if resources and item["serviceResource"] not in resources:
                continue
            if ext_ref is not None and item["externalReference"] != ext_ref:
                continue
            updated = datetime.fromisoformat(item["updatedAt"].replace("Z", "+00:00"))
            created = datetime.fromisoformat(item["createdAt"].replace("Z", "+00:00"))
            lo, hi = bounds["updatedAfter"], bounds["updatedBefore"]
            if (lo and updated < lo) or (hi and updated > hi):
                continue  # both bounds inclusive, as the real SQL
            lo, hi = bounds["createdAfter"], bounds["createdBefore"]
            if (lo and created < lo) or (hi and created > hi):
                continue
            rows.append((item[_ORDER_KEYS[key]], dialog_id, item))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=descending)
        if after is not None:
            if descending:
                rows = [r for r in rows if (r[0], r[1]) < after]
            else:
                rows = [r for r in rows if (r[0], r[1]) > after]
        page, more = rows[:limit], len(rows) > limit
        direction = "desc" if descending else "asc"
        next_token = f"{key}_{page[-1][0]},id_{page[-1][1]}" if page and more else None
        return JSONResponse(
            {
                "items": [r[2] for r in page],
                "hasNextPage": more,
                "continuationToken": next_token,
                "orderBy": f"{key}_{direction},id_{direction}",
            }
        )

    def find_dialog(request: Request, endpoint: str) -> list[Letter] | Response:
        """The letters of the dialog in the path, after faults, token and party checks."""
        if (fault := _fault(state, endpoint)) is not None:
            return fault
        party = _caller_party(request, authenticate, scopes=(DIALOGPORTEN_SCOPE,))
        if isinstance(party, Response):
            return party
        letters = state.dialogs().get(request.path_params["dialog_id"])
        if not letters or letters[0].party != party:
            return problem(404, "Not Found", "Entity 'DialogEntity' not found.")
        return letters

    async def get_dialog(request: Request) -> Response:
        letters = find_dialog(request, "dialog")
        if isinstance(letters, Response):
            return letters
        dialog_id = request.path_params["dialog_id"]
        state.seen_log[dialog_id] = state.seen_log.get(dialog_id, 0) + 1
        body = dialog_json(dialog_id, letters, state.options, detail=True, base=base_of(request))
        return JSONResponse(body, headers={"ETag": body["revision"]})

    async def list_transmissions(request: Request) -> Response:
        letters = find_dialog(request, "transmissions")
        if isinstance(letters, Response):
            return letters
        if state.options.dialog_per == "letter":
            return JSONResponse([])
        return JSONResponse([transmission_json(x, base_of(request)) for x in letters])

    async def get_transmission(request: Request) -> Response:
        letters = find_dialog(request, "transmissions")
        if isinstance(letters, Response):
            return letters
        for letter in letters:
            if letter.id == request.path_params["transmission_id"]:
                return JSONResponse(transmission_json(letter, base_of(request)))
        return problem(404, "Not Found", "Entity 'DialogTransmission' not found.")

    async def download(request: Request) -> Response:
        if (fault := _fault(state, "download")) is not None:
            return fault
        # The service owner's own endpoint: the system user's Dialogporten token or an
        # ELAN token of the same organisation (what Skatteetaten accepts is unknown).
        party = _caller_party(
            request, authenticate, scopes=(DIALOGPORTEN_SCOPE, "skatteetaten:utleggsbegjaering")
        )
        if isinstance(party, Response):
            return party
        letter = state.letter_by_url_id(request.path_params["url_id"])
        if letter is None or letter.party != party:
            return problem(404, "Not Found", "Unknown attachment.")
        return Response(
            letter.pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{letter.attachment_name}"'},
        )

    p = DIALOGPORTEN_PREFIX
    return [
        Route(f"{p}/dialogs", search, methods=["GET"]),
        Route(f"{p}/dialogs/{{dialog_id}}", get_dialog, methods=["GET"]),
        Route(f"{p}/dialogs/{{dialog_id}}/transmissions", list_transmissions, methods=["GET"]),
        Route(
            f"{p}/dialogs/{{dialog_id}}/transmissions/{{transmission_id}}",
            get_transmission,
            methods=["GET"],
        ),
        Route(f"{ATTACHMENT_PREFIX}/{{url_id}}", download, methods=["GET"]),
    ]


def _accepted_cases(sb: Sandbox) -> list[AcceptedCase]:
    return [
        AcceptedCase(
            ekstern_saksreferanse=c.ref,
            innsender_referanse=c.innsender_referanse,
            orgnr=c.org,
            accepted_at=datetime.fromtimestamp(c.submitted_at, UTC),
            saksnummer=c.saksnummer,
        )
        for c in sb.state.cases()
    ]


def sandbox_routes(sb: Sandbox, options: DialogportenOptions | None = None) -> list[BaseRoute]:
    """Dialogporten on the ELAN sandbox: its clock, its cases, its access tokens."""
    # Reading every case parses every payload: re-read only when a submit was answered
    # (the counter moves after the case is stored, before the client hears of it) or the
    # counters were reset; otherwise each request would cost O(cases) JSON parses.
    cache: dict[str, Any] = {"key": None, "cases": []}

    def accepted() -> list[AcceptedCase]:
        answers = sb.stats.answers
        key = (id(answers), sum(n for k, n in answers.items() if k.startswith("submit:")))
        if key != cache["key"]:
            cache["cases"], cache["key"] = _accepted_cases(sb), key
        cases: list[AcceptedCase] = cache["cases"]
        return cases

    state = DialogportenState(options, clock=sb.clock.now, cases=accepted)

    def authenticate(raw: str, request: Request) -> tuple[tuple[str, ...], str | None] | None:
        token = read_access_token(
            raw, public_key=sb.public_key, issuer=issuer_of(sb, request), now=sb.clock.wall()
        )
        return None if token is None else (token.scopes, token.systemuser_orgnr)

    return [*routes(state, authenticate=authenticate), *admin_routes(state)]
