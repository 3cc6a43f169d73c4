"""A test-only recorder of every HTTP exchange the sandbox serves (issue 17, contract tests).

Off unless something observes: `with recording(exchanges.append): ...` makes every sandbox
app in this process hand each finished exchange (request line, headers and body; status,
headers and body of the answer) to the observer, from the sandbox's own thread. The test
suite's contract fixture uses it to hold every answer against the published schemas.

The middleware tees `receive` through an object that forwards attribute access to the
server's own cycle, so the `drop` fault (`_asgi.DroppedConnection`, which reaches the
transport through `receive.__self__`) still works. A dropped connection records nothing:
there is no answer to check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Exchange", "RecorderMiddleware", "recording"]

Observer = Callable[["Exchange"], None]

_observers: list[Observer] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class Exchange:
    """One request the sandbox answered, and the answer (header names in lower case)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    # What the serving sandbox says about itself at answer time (e.g. {"strict": True}).
    context: Mapping[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The answer's header `name` (case-insensitive), or None."""
        return _first(self.headers, name)

    def request_header(self, name: str) -> str | None:
        """The request's header `name` (case-insensitive), or None."""
        return _first(self.request_headers, name)

    @property
    def content_type(self) -> str | None:
        """The answer's Content-Type header."""
        return self.header("content-type")


def _first(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers if k == wanted), None)


@contextmanager
def recording(observer: Observer) -> Iterator[None]:
    """Hand every exchange any sandbox in this process serves to `observer` meanwhile."""
    with _lock:
        _observers.append(observer)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(observer)


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw or ())


class _Tee:
    """`receive` that keeps a copy of the request body; other attributes are the cycle's."""

    def __init__(self, receive: Receive) -> None:
        object.__setattr__(self, "_receive", receive)
        object.__setattr__(self, "chunks", [])

    async def receive(self) -> Message:
        message: Message = await self._receive()
        if message["type"] == "http.request":
            self.chunks.append(message.get("body", b""))
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(self._receive, "__self__", None), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(getattr(self._receive, "__self__", None), name, value)


class RecorderMiddleware:
    """ASGI middleware: a pass-through unless `recording` is active."""

    def __init__(
        self, app: ASGIApp, context: Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _observers:
            await self.app(scope, receive, send)
            return
        tee = _Tee(receive)
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def tee_send(message: Message) -> None:
            # The answer is held until its last byte and recorded before any of it leaves:
            # uvicorn may complete a bodiless answer at its start message, and the client
            # (a test) must never see an answer its contract fixture has not.
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body" and start:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                whole = b"".join(body)
                _notify(scope, tee, start, whole, self.context)
                await send(start)
                await send({"type": "http.response.body", "body": whole})
                return
            await send(message)

        await self.app(scope, tee.receive, tee_send)


def _notify(
    scope: Scope,
    tee: _Tee,
    start: dict[str, Any],
    body: bytes,
    context: Callable[[], Mapping[str, Any]] | None,
) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    exchange = Exchange(
        method=scope["method"],
        path=scope["path"],
        query=tuple(parse_qsl(query, keep_blank_values=True)),
        request_headers=_headers(scope.get("headers")),
        request_body=b"".join(tee.chunks),
        status=int(start.get("status", 0)),
        headers=_headers(start.get("headers")),
        body=body,
        context=dict(context()) if context is not None else {},
    )
    with _lock:
        observers = list(_observers)
    for observer in observers:
        observer(exchange)
