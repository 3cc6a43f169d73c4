"""The admin API (`/_sandbox/…`, never on the real service) and `SandboxAdmin`, its client.

Tests, the demo and the benchmarks use it to look at exactly what the sandbox received,
to register clients, system users and old-rule debtors, to set faults and to move the
sandbox clock so nothing ever waits for real time.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from utlegg_gateway import provning
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.register import RegisterEntry
from utlegg_gateway.sandbox.rules import attachment_state

__all__ = ["ADMIN_PREFIX", "SandboxAdmin", "admin_routes"]

ADMIN_PREFIX = "/_sandbox"


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc


def _body_view(body: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"body_base64": base64.b64encode(body).decode()}
    try:
        text = body.decode("utf-8")
        out["body_text"] = text
        out["json"] = json.loads(text)
    except ValueError:
        out.setdefault("json", None)
    return out


def admin_routes(sb: Sandbox) -> list[Route]:
    """Routes under `/_sandbox`."""

    async def submissions(_: Request) -> Response:
        rows = []
        for r in sb.state.requests():
            row = {
                "seq": r.seq,
                "operation": r.operation,
                "method": r.method,
                "path": r.path,
                "received_at": r.received_at,
                "headers": r.headers,
                "org": r.org,
                "status": r.status,
                "eksternSaksreferanse": r.ref,
            }
            row.update(_body_view(r.body))
            rows.append(row)
        return JSONResponse(rows)

    async def uploads(_: Request) -> Response:
        now = sb.clock.now_ts()
        return JSONResponse(
            [
                {
                    "uuid": u.uuid,
                    "org": u.org,
                    "innsenderReferanse": u.innsender_referanse,
                    "filnavn": u.filnavn,
                    "content_type": u.content_type,
                    "size": len(u.content),
                    "sha256": hashlib.sha256(u.content).hexdigest(),
                    "content_base64": base64.b64encode(u.content).decode(),
                    "received_at": u.received_at,
                    "korrelasjonsid": u.korrelasjonsid,
                    "status": attachment_state(
                        u.outcome, u.received_at, now, sb.options.scanning_seconds
                    ),
                }
                for u in sb.state.uploads()
            ]
        )

    async def cases(_: Request) -> Response:
        return JSONResponse(
            [
                {
                    "eksternSaksreferanse": c.ref,
                    "saksnummer": c.saksnummer,
                    "org": c.org,
                    "innsenderReferanse": c.innsender_referanse,
                    "begjaeringsdato": c.begjaeringsdato,
                    "versions": c.versions,
                    "saksstatus": sb.case_status(c),
                    "payload": c.payload,
                }
                for c in sb.state.cases()
            ]
        )

    async def set_case_status(request: Request) -> Response:
        data = await _json(request)
        if not sb.state.set_case_status(request.path_params["ref"], data.get("saksstatus")):
            return _bad("unknown case", 404)
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        data = await _json(request)
        sb.reset(registrations=bool(data.get("registrations", False)))
        return JSONResponse({"ok": True})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            seconds = data.get("seconds")
            if not isinstance(seconds, int | float) or seconds < 0:
                return _bad("seconds must be a number >= 0")
            sb.advance_clock(float(seconds))
        return JSONResponse({"now": sb.clock.now().isoformat(), "offset": sb.clock.offset})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            data = await _json(request)
            seed = data.pop("seed", None) if isinstance(data, dict) else None
            try:
                sb.faults.set(data, seed=seed)
            except ValueError as exc:
                return _bad(str(exc))
        elif request.method == "DELETE":
            sb.faults.set({})
            sb.delays.release()
        return JSONResponse(sb.faults.plan())

    async def release(_: Request) -> Response:
        sb.delays.release()
        return JSONResponse({"ok": True})

    async def clients(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(sb.state.clients())
        try:
            return JSONResponse(sb.register_client(await _json(request)), 201)
        except ValueError as exc:
            return _bad(str(exc))

    async def systemusers(request: Request) -> Response:
        data = await _json(request)
        try:
            client = sb.register_system_user(
                str(data.get("client_id")), str(data.get("orgnr")), data.get("external_ref")
            )
        except KeyError:
            return _bad("unknown client_id", 404)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse(client, 201)

    async def old_debtors(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            ident = data.get("identifikator")
            if not isinstance(ident, str) or not ident:
                return _bad("identifikator is required")
            sb.state.add_old_debtor(ident)
        return JSONResponse(sorted(sb.state.old_debtors()))

    async def register(request: Request) -> Response:
        if request.method == "POST":
            try:
                entry = RegisterEntry.from_json(await _json(request))
            except (ValueError, AttributeError) as exc:
                return _bad(str(exc))
            sb.register[entry.identifikator] = entry
        return JSONResponse([e.to_json() for _, e in sorted(sb.register.items())])

    async def rule_triggers(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            ref, names = data.get("innsenderReferanse"), data.get("rules")
            if not isinstance(ref, str) or not isinstance(names, list):
                return _bad("innsenderReferanse (text) and rules (a list) are required")
            unknown = sorted(str(n) for n in names if n not in provning.RULES)
            if unknown:
                return _bad(f"unknown rules: {', '.join(unknown)}")
            sb.forced_rules[ref] = tuple(str(n) for n in names)
        return JSONResponse({k: list(v) for k, v in sorted(sb.forced_rules.items())})

    async def stats(_: Request) -> Response:
        return JSONResponse(sb.stats.as_dict(sb.limiter.in_flight()))

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "model_version": sb.options.model_version,
                "scanning_seconds": sb.options.scanning_seconds,
                "status_timings": [list(t) for t in sb.options.status_timings],
                "max_concurrency": sb.options.max_concurrency,
                "token_lifetime": sb.options.token_lifetime,
                "state_file": str(sb.options.state_file) if sb.options.state_file else None,
            }
        )

    p = ADMIN_PREFIX
    routes = [
        Route(f"{p}/submissions", submissions, methods=["GET"]),
        Route(f"{p}/uploads", uploads, methods=["GET"]),
        Route(f"{p}/cases", cases, methods=["GET"]),
        Route(f"{p}/cases/{{ref}}/status", set_case_status, methods=["POST"]),
        Route(f"{p}/reset", reset, methods=["POST"]),
        Route(f"{p}/clock", clock, methods=["GET"]),
        Route(f"{p}/clock/advance", clock, methods=["POST"]),
        Route(f"{p}/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route(f"{p}/faults/release", release, methods=["POST"]),
        Route(f"{p}/clients", clients, methods=["GET", "POST"]),
        Route(f"{p}/systemusers", systemusers, methods=["POST"]),
        Route(f"{p}/old-rules-debtors", old_debtors, methods=["GET", "POST"]),
        Route(f"{p}/register", register, methods=["GET", "POST"]),
        Route(f"{p}/rule-triggers", rule_triggers, methods=["GET", "POST"]),
        Route(f"{p}/stats", stats, methods=["GET"]),
        Route(f"{p}/info", info, methods=["GET"]),
    ]
    return [_catching(r) for r in routes]


def _catching(route: Route) -> Route:
    inner = route.endpoint

    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await inner(request)
        except ValueError as exc:  # bad JSON from the caller
            return _bad(str(exc))
        return response

    return Route(route.path, endpoint, methods=sorted(route.methods or ()))


class SandboxAdmin:
    """Thin client of the admin API; raises `httpx.HTTPStatusError` on a refused call."""

    def __init__(self, url: str, *, client: httpx.Client | None = None) -> None:
        # verify=False: the admin API is plain HTTP on loopback, and skipping the CA bundle
        # saves ~150 ms per sandbox start.
        self._http = client or httpx.Client(
            base_url=url + ADMIN_PREFIX,
            timeout=10.0,
            verify=False,  # noqa: S501 - plain-HTTP loopback, no TLS to verify
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def register_client(self, registration: dict[str, Any] | Path | Any) -> dict[str, Any]:
        """Register a client from a dict, a registration file, or `Credentials`."""
        if isinstance(registration, Path):
            registration = json.loads(registration.read_text(encoding="utf-8"))
        elif not isinstance(registration, dict):
            registration = registration.registration()
        result: dict[str, Any] = self._call("POST", "/clients", registration)
        return result

    def register_system_user(
        self, client_id: str, orgnr: str, *, external_ref: str | None = None
    ) -> dict[str, Any]:
        """Let a client act for `orgnr`'s system user."""
        body = {"client_id": client_id, "orgnr": orgnr, "external_ref": external_ref}
        result: dict[str, Any] = self._call("POST", "/systemusers", body)
        return result

    def add_register_entry(self, identifikator: str, **facts: Any) -> list[dict[str, Any]]:
        """Put an organisation (or person) into the register behind the register rules."""
        result: list[dict[str, Any]] = self._call(
            "POST", "/register", {"identifikator": identifikator, **facts}
        )
        return result

    def trigger_rules(self, innsender_referanse: str, *rules: str) -> None:
        """Answer every validate/submit of `innsender_referanse` with these rules too."""
        self._call(
            "POST", "/rule-triggers", {"innsenderReferanse": innsender_referanse, "rules": rules}
        )

    def add_old_rules_debtor(self, identifikator: str) -> None:
        """Put a debtor on the old rules (SAKSOEKT_GAMMELT_REGELVERK, tidligereRegelverk)."""
        self._call("POST", "/old-rules-debtors", {"identifikator": identifikator})

    def set_faults(self, plan: dict[str, Any], *, seed: int | None = None) -> dict[str, Any]:
        """Replace the fault plan: `{endpoint: {"sequence": [...]}|{"probability": p, ...}}`."""
        body = dict(plan)
        if seed is not None:
            body["seed"] = seed
        result: dict[str, Any] = self._call("PUT", "/faults", body)
        return result

    def clear_faults(self) -> None:
        """No more faults; pending delays end now."""
        self._call("DELETE", "/faults")

    def release_delays(self) -> None:
        """End every pending `delay:` fault now."""
        self._call("POST", "/faults/release")

    def advance_clock(self, seconds: float) -> str:
        """Move the sandbox's business clock forward; returns the new time (ISO)."""
        now: str = self._call("POST", "/clock/advance", {"seconds": seconds})["now"]
        return now

    def set_case_status(self, ekstern_saksreferanse: str, saksstatus: str | None) -> None:
        """Force a case's status (None: follow the clock again)."""
        self._call("POST", f"/cases/{ekstern_saksreferanse}/status", {"saksstatus": saksstatus})

    def submissions(self) -> list[dict[str, Any]]:
        """Begjæring-carrying requests (validate, submit, change …) exactly as received."""
        result: list[dict[str, Any]] = self._call("GET", "/submissions")
        return result

    def uploads(self) -> list[dict[str, Any]]:
        """Attachments as received (bytes base64 in `content_base64`)."""
        result: list[dict[str, Any]] = self._call("GET", "/uploads")
        return result

    def cases(self) -> list[dict[str, Any]]:
        """Accepted cases with their current status and latest payload."""
        result: list[dict[str, Any]] = self._call("GET", "/cases")
        return result

    def stats(self) -> dict[str, Any]:
        """Grants issued/rejected, calls and answers per endpoint, concurrency seen."""
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def info(self) -> dict[str, Any]:
        """The sandbox's configuration (model version, timings …)."""
        result: dict[str, Any] = self._call("GET", "/info")
        return result

    def reset(self, *, registrations: bool = False) -> None:
        """Forget traffic, cases, clock offset and faults (registrations too on request)."""
        self._call("POST", "/reset", {"registrations": registrations})
