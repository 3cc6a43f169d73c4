"""`/_sandbox/dialogporten/…`: the emulator's admin routes (tests and the demo use them)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from utlegg_gateway.sandbox.dialogporten.shapes import problem
from utlegg_gateway.sandbox.dialogporten.state import DialogportenState, iso

__all__ = ["FAULT_ACTIONS", "admin_routes"]

FAULT_ACTIONS = ("ok", "drop", "500", "503")


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
                    "visibleAt": iso(x.visible_at),
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
            return problem(400, "Bad Request", f"invalid letter: {exc}")
        return JSONResponse({"id": letter.id, "dialogId": letter.dialog_id}, status_code=201)

    async def seen(request: Request) -> Response:
        return JSONResponse(dict(state.seen_log))

    async def set_faults(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict) or not all(
            isinstance(v, list) and all(a in FAULT_ACTIONS for a in v) for v in body.values()
        ):
            return problem(400, "Bad Request", f"faults: {{endpoint: [{FAULT_ACTIONS}]}}")
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
            return problem(400, "Bad Request", f"invalid options: {exc}")
        if changes["dialog_per"] not in ("case", "letter"):
            return problem(400, "Bad Request", "dialog_per must be 'case' or 'letter'")
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
