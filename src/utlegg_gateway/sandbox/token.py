"""Maskinporten routes: `POST /token`, the well-known metadata and the JWKS."""

from __future__ import annotations

import base64
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from utlegg_gateway.sandbox._asgi import DroppedConnection, wait_delay
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.elan import issuer_of
from utlegg_gateway.sandbox.faults import parse_action
from utlegg_gateway.sandbox.maskinporten import (
    GRANT_TYPE,
    SYSTEMUSER_TYPE,
    GrantError,
    check_grant,
    issue_access_token,
)

__all__ = ["token_routes"]


def _b64url(n: int) -> str:
    return (
        base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    )


def token_routes(sb: Sandbox) -> list[Route]:
    """Routes of the Maskinporten emulator."""

    async def well_known(request: Request) -> Response:
        issuer = issuer_of(sb, request)
        return JSONResponse(
            {
                "issuer": issuer,
                "token_endpoint": issuer + "token",
                "jwks_uri": issuer + "jwks",
                # RFC 8414 §2 REQUIRED; no authorization endpoint, so no response types.
                "response_types_supported": [],
                "grant_types_supported": [GRANT_TYPE],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512"],
                "authorization_details_types_supported": [SYSTEMUSER_TYPE],
            }
        )

    async def jwks(_: Request) -> Response:
        numbers = sb.public_key.public_numbers()
        key = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": sb.kid,
            "n": _b64url(numbers.n),
            "e": _b64url(numbers.e),
        }
        return JSONResponse({"keys": [key]})

    async def token(request: Request) -> Response:
        sb.stats.calls["token"] += 1
        began = time.perf_counter()
        action, seconds = parse_action(sb.faults.next_action("token"))
        if action != "ok":
            sb.stats.faults_applied[f"token:{action}"] += 1
        if action in ("500", "503", "429"):
            error = {"500": "server_error", "503": "temporarily_unavailable", "429": "slow_down"}
            headers = {"Retry-After": "1"} if action == "429" else None
            return JSONResponse(
                {"error": error[action], "error_description": "sandbox fault"},
                int(action),
                headers=headers,
            )
        if action == "drop":
            return DroppedConnection()
        if action == "delay" and await wait_delay(request, sb.delays, seconds):
            return DroppedConnection()
        if action == "latency":
            await request.body()  # cached, so the grant's form() can read it again
            response = await _grant(request)
            seconds = max(0.0, seconds - (time.perf_counter() - began))
            if await wait_delay(request, sb.delays, seconds):
                return DroppedConnection()
            return response
        response = await _grant(request)
        if action == "accept_then_drop":
            return DroppedConnection()
        return response

    async def _grant(request: Request) -> Response:
        async with request.form() as form:
            grant_type = form.get("grant_type")
            assertion = form.get("assertion")
        try:
            if grant_type != GRANT_TYPE:
                raise GrantError(
                    "unsupported_grant_type", f"MP-011 Unsupported grant_type {grant_type!r}"
                )
            if not isinstance(assertion, str) or not assertion:
                raise GrantError("invalid_request", "MP-011 Invalid assertion. Missing assertion")
            issuer = issuer_of(sb, request)
            now = sb.clock.wall()
            clients = {c["client_id"]: c for c in sb.state.clients()}
            claims, client, systemuser, amr = check_grant(
                assertion,
                issuer=issuer,
                clients=clients,
                trusted_cas=sb.trusted_cas(),
                now=now,
                use_jti=lambda jti, exp: sb.state.use_jti(jti, exp, now),
            )
        except GrantError as exc:
            sb.stats.grants_rejected += 1
            return JSONResponse(exc.body(), exc.status)
        scope = str(claims["scope"])
        access_token = issue_access_token(
            signing_key=sb.signing_key,
            kid=sb.kid,
            issuer=issuer,
            client=client,
            scope=scope,
            systemuser_orgnr=systemuser,
            amr=amr,
            now=now,
            lifetime=sb.options.token_lifetime,
        )
        sb.stats.grants_issued += 1
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": sb.options.token_lifetime,
            "scope": scope,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return [
        Route("/.well-known/oauth-authorization-server", well_known, methods=["GET"]),
        Route("/jwks", jwks, methods=["GET"]),
        Route("/token", token, methods=["POST"]),
    ]
