"""The sandbox as one ASGI app: Maskinporten + ELAN + admin routes (+ later Dialogporten).

Route lists are composed here only; another module adds its own list through
`extra_routes` (Dialogporten) without touching the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from utlegg_gateway.sandbox.admin import admin_routes
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.dialogporten import sandbox_routes as dialogporten_routes
from utlegg_gateway.sandbox.elan import elan_routes, error_body
from utlegg_gateway.sandbox.token import token_routes

__all__ = ["create_app"]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    korr = request.headers.get("korrelasjonsid")
    if exc.status_code == 404:
        return JSONResponse(error_body("XXX-003", "Ukjent URL", korr), 404)
    if exc.status_code == 400:
        return JSONResponse(error_body("XXX-006", str(exc.detail), korr), 400)
    if exc.status_code == 405:
        return JSONResponse(error_body("XXX-006", "Metoden støttes ikke her", korr), 405)
    return JSONResponse(error_body("XXX-001", str(exc.detail), korr), exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    korr = request.headers.get("korrelasjonsid")
    return JSONResponse(error_body("XXX-001", f"Uventet feil: {type(exc).__name__}", korr), 500)


def create_app(sandbox: Sandbox, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """Build the app around one `Sandbox`."""
    routes: list[BaseRoute] = [
        *token_routes(sandbox),
        *elan_routes(sandbox),
        *admin_routes(sandbox),
        *dialogporten_routes(sandbox),  # /dialogporten/… + /_sandbox/dialogporten/…
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.sandbox = sandbox
    return app
