"""Low-level HTTP tricks the fault plan needs: dropping a connection, waiting out a delay."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from utlegg_gateway.sandbox.faults import DelayGate

__all__ = ["DroppedConnection", "wait_delay"]


class DroppedConnection(Response):
    """A "response" that closes the TCP connection without sending a byte of an answer."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn's h11/httptools cycles are the bound `receive`'s owner and hold the
        # transport; abort() resets the socket at once, so the client sees the connection
        # die before any status line (httpx: RemoteProtocolError / ReadError).
        cycle: Any = getattr(receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is not None:
            transport.abort()
            # Mark the cycle disconnected so uvicorn does not try to send its own 500.
            cycle.disconnected = True
            await asyncio.sleep(0)
            return
        # Fallback for other servers: start a response and fail mid-way, which every
        # ASGI server turns into a closed connection with an incomplete answer.
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionAbortedError("sandbox fault: connection dropped")


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def wait_delay(request: Request, gate: DelayGate, seconds: float) -> bool:
    """Hold the answer for `seconds` (or until released); True if the client gave up meanwhile."""
    await request.body()  # read it now, so further receive() calls can only mean disconnect
    waiter = asyncio.ensure_future(gate.wait(seconds))
    watcher = asyncio.ensure_future(_wait_disconnect(request.receive))
    done, pending = await asyncio.wait({waiter, watcher}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return watcher in done
