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

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from utlegg_gateway.sandbox._asgi import DroppedConnection
from utlegg_gateway.sandbox.core import Sandbox
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
ATTACHMENT_PREFIX = "/api/utleggsbegjaering/v2/meldinger"
ELAN_SERVICE_RESOURCE = "urn:altinn:resource:ske-utleggsbegjaering"
DIALOGPORTEN_SCOPE = "digdir:dialogporten"
ORG_PARTY_PREFIX = "urn:altinn:organization:identifier-no:"
PROCESS_PREFIX = "urn:no:skatteetaten:utlegg:sak:"
EXTENDED_TYPE_PREFIX = "urn:no:skatteetaten:utlegg:melding:"
# Fixed namespace: ids derive from case references, stable across restarts.
_NAMESPACE = uuid.UUID("8d4a3c1e-6a55-4a43-9f0e-3f0b1f2d7e11")

# Verifies a bearer token (the sandbox's own JWTs): (scopes, system user's orgnr), or None.
Authenticate = Callable[[str, Request], tuple[tuple[str, ...], str | None] | None]

LetterKind = Literal["rettebrev", "nektebrev", "varsel", "vedtak"]
_TRANSMISSION_TYPE: dict[str, str] = {
    "rettebrev": "Request",
    "nektebrev": "Rejection",
    "varsel": "Alert",
    "vedtak": "Decision",
}
_FAULT_ACTIONS = ("ok", "drop", "500", "503")
_ORDER_KEYS = {"updatedat": "updatedAt", "createdat": "createdAt", "contentupdatedat": "updatedAt"}


@dataclass(frozen=True)
class DialogportenOptions:
    """How the emulated authority writes letters."""

    # A case whose innsenderReferanse ends in one of these gets a rettebrev.
    rettebrev_suffixes: tuple[str, ...] = ("7",)
    # Sandbox-clock seconds from acceptance until the rettebrev is visible.
    rettebrev_after_seconds: float = 3600.0
    # The rules the rettebrev asks the innsender to correct.
    rettebrev_rules: tuple[str, ...] = ("MANGLER_OPPLYSNINGER_OM_SAKSOEKT",)
    dialog_per: Literal["case", "letter"] = "case"
    service_resource: str = ELAN_SERVICE_RESOURCE
    org: str = "skd"


@dataclass(frozen=True)
class AcceptedCase:
    """What the sandbox's submit tells the emulator about a case it accepted."""

    ekstern_saksreferanse: str
    innsender_referanse: str
    orgnr: str  # the innsender organisation: the dialog's party
    accepted_at: datetime
    saksnummer: str | None = None


@dataclass(frozen=True)
class Letter:
    """One letter (a transmission, or a dialog in `dialog_per="letter"`)."""

    id: str
    dialog_id: str
    kind: LetterKind
    party: str
    ekstern_saksreferanse: str | None
    title: str
    summary: str
    visible_at: datetime
    attachment_id: str
    attachment_url_id: str
    attachment_name: str
    pdf: bytes = field(repr=False)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _loc(text: str) -> dict[str, Any]:
    return {"mediaType": "text/plain", "value": [{"languageCode": "nb", "value": text}]}


def minimal_pdf(lines: Sequence[str]) -> bytes:
    """A small valid one-page PDF showing `lines` (deterministic bytes, no timestamps)."""

    def esc(text: str) -> str:
        latin = text.encode("latin-1", "replace").decode("latin-1")
        return latin.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 11 Tf", "50 790 Td", "14 TL"]
    ops += [f"({esc(line)}) '" for line in lines]
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


class DialogportenState:
    """The letters the emulated authority has written; dialogs are views over them."""

    def __init__(
        self,
        options: DialogportenOptions | None = None,
        *,
        clock: Callable[[], datetime],
        cases: Callable[[], Iterable[AcceptedCase]] = tuple,
    ) -> None:
        self.options = options or DialogportenOptions()
        self._clock = clock
        # The ELAN sandbox's accepted cases: letters are derived from them on demand, so
        # a sandbox restarted on its state file shows the same dialogs again.
        self._cases = cases
        self._lock = threading.RLock()
        self._letters: dict[str, Letter] = {}
        # Letters written through the admin API (the others live only while their case does).
        self._manual: set[str] = set()
        # dialog id -> how many times the full dialog was fetched (the seen log's cause).
        self.seen_log: dict[str, int] = {}
        # endpoint name (search, dialog, transmissions, download) -> scripted actions.
        self.faults: dict[str, list[str]] = {}

    def next_fault(self, endpoint: str) -> str:
        """The next scripted action for `endpoint` ("ok" when none is left)."""
        with self._lock:
            script = self.faults.get(endpoint)
            return script.pop(0) if script else "ok"

    def _derive(self) -> list[Letter]:
        live = set(self._manual)
        for case in self._cases():
            letter = self.case_accepted(case)
            if letter is not None:
                live.add(letter.id)
        return [x for x in self._letters.values() if x.id in live]

    # -- feeding -----------------------------------------------------------------------

    def case_accepted(self, case: AcceptedCase) -> Letter | None:
        """The rettebrev rule: the letter this accepted case gets, if the rule picks it."""
        if not case.innsender_referanse.endswith(self.options.rettebrev_suffixes):
            return None
        known = self._letters.get(
            _uid("transmission", f"rettebrev/{case.ekstern_saksreferanse}/{case.orgnr}")
        )
        if known is not None:
            return known  # skip building its PDF again
        rules = self.options.rettebrev_rules
        return self._add(
            kind="rettebrev",
            orgnr=case.orgnr,
            ekstern_saksreferanse=case.ekstern_saksreferanse,
            visible_at=case.accepted_at + timedelta(seconds=self.options.rettebrev_after_seconds),
            title=f"Rettebrev: utleggsbegjæring {case.innsender_referanse} må rettes",
            summary=(
                f"Begjæringen {case.innsender_referanse} (sak {case.ekstern_saksreferanse}) "
                f"må rettes innen 14 dager. Vilkår som må rettes: {', '.join(rules)}."
            ),
            body_lines=[f"Vilkår: {rule}" for rule in rules],
        )

    def add_letter(self, **kw: Any) -> Letter:
        """Write one letter by hand (admin API), e.g. a varsel or a backdated letter."""
        letter = self._add(**kw)
        with self._lock:
            self._manual.add(letter.id)
        return letter

    def _add(
        self,
        *,
        kind: LetterKind,
        orgnr: str,
        ekstern_saksreferanse: str | None,
        visible_at: datetime,
        title: str,
        summary: str,
        body_lines: Sequence[str] = (),
    ) -> Letter:
        """Write one letter (idempotent: the same kind for the same case is one letter)."""
        key = f"{kind}/{ekstern_saksreferanse or title}/{orgnr}"
        letter_id = _uid("transmission", key)
        if self.options.dialog_per == "case" and ekstern_saksreferanse:
            dialog_id = _uid("dialog", ekstern_saksreferanse, orgnr)
        else:
            dialog_id = _uid("dialog", key)
        pdf = minimal_pdf(["Skatteetaten - alminnelig namsmann", title, summary, *body_lines])
        letter = Letter(
            id=letter_id,
            dialog_id=dialog_id,
            kind=kind,
            party=ORG_PARTY_PREFIX + orgnr,
            ekstern_saksreferanse=ekstern_saksreferanse,
            title=title,
            summary=summary,
            visible_at=visible_at.astimezone(UTC),
            attachment_id=_uid("attachment", key),
            attachment_url_id=_uid("attachment-url", key),
            attachment_name=f"{kind}.pdf",
            pdf=pdf,
        )
        with self._lock:
            self._letters.setdefault(letter_id, letter)
            return self._letters[letter_id]

    def reset_derived(self) -> None:
        """Forget the derived letters (options changed: they are derived again)."""
        with self._lock:
            self._letters = {k: v for k, v in self._letters.items() if k in self._manual}

    def reset(self) -> None:
        """Forget every letter, the seen log and the faults (the sandbox's reset)."""
        with self._lock:
            self._letters.clear()
            self._manual.clear()
            self.seen_log.clear()
            self.faults.clear()

    # -- views -------------------------------------------------------------------------

    def visible_letters(self) -> list[Letter]:
        """Letters visible now on the sandbox clock."""
        now = self._clock()
        with self._lock:
            return [x for x in self._derive() if x.visible_at <= now]

    def all_letters(self) -> list[Letter]:
        """Every letter, visible or scheduled (admin view)."""
        with self._lock:
            return self._derive()

    def dialogs(self) -> dict[str, list[Letter]]:
        """Visible dialogs: id -> its letters in order of appearance."""
        out: dict[str, list[Letter]] = {}
        for letter in sorted(self.visible_letters(), key=lambda x: (x.visible_at, x.id)):
            out.setdefault(letter.dialog_id, []).append(letter)
        return out

    def letter_by_url_id(self, url_id: str) -> Letter | None:
        """The letter whose attachment URL has this id."""
        for letter in self.visible_letters():
            if letter.attachment_url_id == url_id:
                return letter
        return None


# -- JSON shapes -----------------------------------------------------------------------


def _attachment_json(letter: Letter, base: str) -> dict[str, Any]:
    return {
        "id": letter.attachment_id,
        "displayName": [{"languageCode": "nb", "value": letter.attachment_name}],
        "name": letter.attachment_name,
        "expiresAt": None,
        "urls": [
            {
                "id": letter.attachment_url_id,
                "url": f"{base}{ATTACHMENT_PREFIX}/{letter.attachment_url_id}",
                "mediaType": "application/pdf",
                "consumerType": "Api",
            }
        ],
    }


def _transmission_json(letter: Letter, base: str) -> dict[str, Any]:
    return {
        "id": letter.id,
        "createdAt": _iso(letter.visible_at),
        "authorizationAttribute": None,
        "isAuthorized": True,
        "extendedType": EXTENDED_TYPE_PREFIX + letter.kind,
        "externalReference": letter.ekstern_saksreferanse,
        "relatedTransmissionId": None,
        "type": _TRANSMISSION_TYPE[letter.kind],
        "sender": {"actorType": "ServiceOwner", "actorId": None, "actorName": "Skatteetaten"},
        "content": {
            "title": _loc(letter.title),
            "summary": _loc(letter.summary),
            "contentReference": None,
        },
        "attachments": [_attachment_json(letter, base)],
        "navigationalActions": [],
        "deletedAt": None,
    }


def _dialog_json(
    dialog_id: str, letters: list[Letter], options: DialogportenOptions, *, detail: bool, base: str
) -> dict[str, Any]:
    first, last = letters[0], letters[-1]
    ref = first.ekstern_saksreferanse
    per_letter = options.dialog_per == "letter"
    out: dict[str, Any] = {
        "id": dialog_id,
        "org": options.org,
        "serviceResource": options.service_resource,
        "serviceResourceType": "GenericAccessResource",
        "party": first.party,
        "progress": None,
        "extendedStatus": None,
        "externalReference": ref,
        "process": PROCESS_PREFIX + ref if ref else None,
        "precedingProcess": None,
        "status": "RequiresAttention",
        "createdAt": _iso(first.visible_at),
        "updatedAt": _iso(last.visible_at),
        "contentUpdatedAt": _iso(last.visible_at),
        "dueAt": None,
        "isApiOnly": False,
        "hasUnopenedContent": True,
        "isContentSeen": False,
        "fromServiceOwnerTransmissionsCount": 0 if per_letter else len(letters),
        "fromPartyTransmissionsCount": 0,
        "seenSinceLastUpdate": [],
        "seenSinceLastContentUpdate": [],
        "endUserContext": {"revision": _uid("ctx", dialog_id), "systemLabels": ["Default"]},
        "content": {"title": _loc(last.title), "summary": _loc(last.summary)},
    }
    if not detail:
        out["guiAttachmentCount"] = 0
        out["latestActivity"] = None
        return out
    out["revision"] = _uid("revision", dialog_id, last.id)
    out["transmissions"] = [] if per_letter else [_transmission_json(x, base) for x in letters]
    out["attachments"] = [_attachment_json(x, base) for x in letters] if per_letter else []
    out["activities"] = []
    out["apiActions"] = []
    out["guiActions"] = []
    out["dialogToken"] = None
    return out


# -- HTTP ------------------------------------------------------------------------------


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _caller_party(
    request: Request, authenticate: Authenticate, *, scopes: tuple[str, ...]
) -> str | Response:
    """The party the system user in the bearer token acts for, or the error response."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return _problem(401, "Unauthorized", "A bearer token is required.")
    caller = authenticate(header[7:].strip(), request)
    if caller is None:
        return _problem(401, "Unauthorized", "The bearer token is not valid.")
    granted, systemuser_org = caller
    if not set(granted) & set(scopes):
        wanted = " or ".join(f'"{s}"' for s in scopes)
        return _problem(
            401,
            "Unauthorized",
            "This endpoint requires a token from ID-porten or Maskinporten "
            f"with the scope(s) {wanted}",
        )
    if not systemuser_org:
        return _problem(403, "Forbidden", "The token does not carry a system user.")
    return ORG_PARTY_PREFIX + systemuser_org


def _parse_time(raw: str | None, name: str) -> datetime | Response | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return _problem(400, "Bad Request", f"'{name}' is not a valid date-time: {raw}")
    if value.tzinfo is None:
        return _problem(400, "Bad Request", f"'{name}' must carry an explicit time zone")
    return value


def _order(raw: str | None) -> tuple[str, bool] | Response:
    """(sort key, descending) from `orderBy`; the default is contentUpdatedAt descending."""
    text = (raw or "contentUpdatedAt_desc").split(",")[0].strip().lower()
    key, _, direction = text.partition("_")
    if key not in _ORDER_KEYS or direction not in ("", "asc", "desc"):
        return _problem(400, "Bad Request", f"Invalid orderBy: {raw}")
    return key, direction != "asc"


def _fault(state: DialogportenState, endpoint: str) -> Response | None:
    """Apply the next scripted fault: `drop` (connection reset), `500`, `503`, or None."""
    action = state.next_fault(endpoint)
    if action == "drop":
        return DroppedConnection()
    if action in ("500", "503"):
        headers = {"Retry-After": "1"} if action == "503" else None
        response = _problem(int(action), "Sandbox fault", f"scripted {action}")
        response.headers.update(headers or {})
        return response
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
            return _problem(
                400, "Bad Request", "Either ServiceResource or Party must be specified."
            )
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
            return _problem(400, "Bad Request", "'limit' must be an integer")
        if not 1 <= limit <= 1000:
            return _problem(400, "Bad Request", "'limit' must be between 1 and 1000")
        after: tuple[str, str] | None = None
        token = q.get("continuationToken")
        if token:
            parts = dict(p.split("_", 1) for p in token.split(",") if "_" in p)
            if key not in parts or "id" not in parts:
                return _problem(
                    400,
                    "Bad Request",
                    f"continuationToken does not match OrderBy. Missing token keys: {key}",
                )
            after = (parts[key], parts["id"])
        ext_ref = q.get("externalReference")
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for dialog_id, letters in state.dialogs().items():
            item = _dialog_json(dialog_id, letters, state.options, detail=False, base="")
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

    def find_dialog(request: Request, party: str) -> list[Letter] | Response:
        letters = state.dialogs().get(request.path_params["dialog_id"])
        if not letters or letters[0].party != party:
            return _problem(404, "Not Found", "Entity 'DialogEntity' not found.")
        return letters

    async def get_dialog(request: Request) -> Response:
        if (fault := _fault(state, "dialog")) is not None:
            return fault
        party = _caller_party(request, authenticate, scopes=(DIALOGPORTEN_SCOPE,))
        if isinstance(party, Response):
            return party
        letters = find_dialog(request, party)
        if isinstance(letters, Response):
            return letters
        dialog_id = request.path_params["dialog_id"]
        state.seen_log[dialog_id] = state.seen_log.get(dialog_id, 0) + 1
        body = _dialog_json(dialog_id, letters, state.options, detail=True, base=base_of(request))
        return JSONResponse(body, headers={"ETag": body["revision"]})

    async def list_transmissions(request: Request) -> Response:
        if (fault := _fault(state, "transmissions")) is not None:
            return fault
        party = _caller_party(request, authenticate, scopes=(DIALOGPORTEN_SCOPE,))
        if isinstance(party, Response):
            return party
        letters = find_dialog(request, party)
        if isinstance(letters, Response):
            return letters
        if state.options.dialog_per == "letter":
            return JSONResponse([])
        return JSONResponse([_transmission_json(x, base_of(request)) for x in letters])

    async def get_transmission(request: Request) -> Response:
        if (fault := _fault(state, "transmissions")) is not None:
            return fault
        party = _caller_party(request, authenticate, scopes=(DIALOGPORTEN_SCOPE,))
        if isinstance(party, Response):
            return party
        letters = find_dialog(request, party)
        if isinstance(letters, Response):
            return letters
        for letter in letters:
            if letter.id == request.path_params["transmission_id"]:
                return JSONResponse(_transmission_json(letter, base_of(request)))
        return _problem(404, "Not Found", "Entity 'DialogTransmission' not found.")

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
            return _problem(404, "Not Found", "Unknown attachment.")
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


def admin_routes(state: DialogportenState) -> list[BaseRoute]:
    """`/_sandbox/dialogporten/…`: list letters, write one by hand (e.g. backdated), seen log."""

    async def list_letters(request: Request) -> Response:
        visible = {x.id for x in state.visible_letters()}
        return JSONResponse(
            [
                {
                    "id": x.id,
                    "dialogId": x.dialog_id,
                    "kind": x.kind,
                    "party": x.party,
                    "eksternSaksreferanse": x.ekstern_saksreferanse,
                    "title": x.title,
                    "visibleAt": _iso(x.visible_at),
                    "visible": x.id in visible,
                }
                for x in sorted(state.all_letters(), key=lambda x: (x.visible_at, x.id))
            ]
        )

    async def add(request: Request) -> Response:
        body = await request.json()
        try:
            visible_at = datetime.fromisoformat(str(body["visibleAt"]).replace("Z", "+00:00"))
            letter = state.add_letter(
                kind=body.get("kind", "varsel"),
                orgnr=str(body["orgnr"]),
                ekstern_saksreferanse=body.get("eksternSaksreferanse"),
                visible_at=visible_at,
                title=str(body.get("title", "Varsel fra Skatteetaten")),
                summary=str(body.get("summary", "")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            return _problem(400, "Bad Request", f"invalid letter: {exc}")
        return JSONResponse({"id": letter.id, "dialogId": letter.dialog_id}, status_code=201)

    async def seen(request: Request) -> Response:
        return JSONResponse(dict(state.seen_log))

    async def set_faults(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict) or not all(
            isinstance(v, list) and all(a in _FAULT_ACTIONS for a in v) for v in body.values()
        ):
            return _problem(400, "Bad Request", f"faults: {{endpoint: [{_FAULT_ACTIONS}]}}")
        with state._lock:
            state.faults = {str(k): [str(a) for a in v] for k, v in body.items()}
        return JSONResponse(state.faults)

    async def set_options(request: Request) -> Response:
        body = await request.json()
        try:
            changes = {
                "rettebrev_suffixes": tuple(body["rettebrev_suffixes"])
                if "rettebrev_suffixes" in body
                else state.options.rettebrev_suffixes,
                "rettebrev_after_seconds": float(
                    body.get("rettebrev_after_seconds", state.options.rettebrev_after_seconds)
                ),
                "rettebrev_rules": tuple(
                    body.get("rettebrev_rules", state.options.rettebrev_rules)
                ),
                "dialog_per": body.get("dialog_per", state.options.dialog_per),
            }
        except (TypeError, ValueError) as exc:
            return _problem(400, "Bad Request", f"invalid options: {exc}")
        if changes["dialog_per"] not in ("case", "letter"):
            return _problem(400, "Bad Request", "dialog_per must be 'case' or 'letter'")
        state.options = replace(state.options, **changes)
        state.reset_derived()
        return JSONResponse(asdict(state.options))

    return [
        Route("/_sandbox/dialogporten/letters", list_letters, methods=["GET"]),
        Route("/_sandbox/dialogporten/letters", add, methods=["POST"]),
        Route("/_sandbox/dialogporten/seenlog", seen, methods=["GET"]),
        Route("/_sandbox/dialogporten/faults", set_faults, methods=["PUT"]),
        Route("/_sandbox/dialogporten/options", set_options, methods=["PUT"]),
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
    state = DialogportenState(options, clock=sb.clock.now, cases=lambda: _accepted_cases(sb))

    def authenticate(raw: str, request: Request) -> tuple[tuple[str, ...], str | None] | None:
        token = read_access_token(
            raw, public_key=sb.public_key, issuer=issuer_of(sb, request), now=sb.clock.wall()
        )
        return None if token is None else (token.scopes, token.systemuser_orgnr)

    return [*routes(state, authenticate=authenticate), *admin_routes(state)]
