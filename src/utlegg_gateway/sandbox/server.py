"""Serving the sandbox: in a background thread for tests, or in the foreground for the CLI.

The listening socket is bound before uvicorn starts, so the port (0 = any free one) is
known at once and connections made before uvicorn's loop runs wait in the backlog.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import uvicorn
from starlette.routing import BaseRoute

from utlegg_gateway.errors import ConfigError
from utlegg_gateway.sandbox.admin import SandboxAdmin
from utlegg_gateway.sandbox.app import create_app
from utlegg_gateway.sandbox.certs import Credentials
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.elan import ELAN_BASE_PATH
from utlegg_gateway.sandbox.options import SandboxClock, SandboxOptions
from utlegg_gateway.sandbox.recorder import RecorderMiddleware

__all__ = ["RunningSandbox", "bind", "running_sandbox", "serve"]

_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


@dataclass
class RunningSandbox:
    """A sandbox serving on loopback, with its URLs and an admin client."""

    url: str
    issuer: str
    token_endpoint: str
    elan_base_url: str
    admin: SandboxAdmin
    sandbox: Sandbox

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return int(self.url.rsplit(":", 1)[1])

    def register(self, credentials: Credentials) -> None:
        """Register a client written by `write_credentials` (and its system users)."""
        self.admin.register_client(credentials.registration())


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # The protocol must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted
    # connections of a socket whose proto says TCP, and without it every response waits
    # ~40 ms for Nagle + delayed ACK (measured: 46 ms vs 3.8 ms per request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class _Server(uvicorn.Server):
    """uvicorn, but SIGINT/SIGTERM end `serve` normally (exit 0) instead of re-raising."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # a background sandbox is stopped through should_exit only
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            # A second signal while draining forces the exit, as in uvicorn itself.
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _server(
    sb: Sandbox, extra_routes: Sequence[BaseRoute], *, fast: bool = False
) -> uvicorn.Server:
    config = uvicorn.Config(
        # The recorder is a pass-through unless a test records (recorder.recording).
        RecorderMiddleware(create_app(sb, extra_routes), lambda: {"strict": sb.options.strict}),
        # h11 and asyncio by default: pure Python, the same wherever the tests run, and
        # the transport access the drop fault relies on. `fast` (benchmarks) takes the C
        # parser and loop, so a call at `latency:0.05` is ~50 ms and not 50 plus ~1.5 ms
        # of the emulator's own HTTP on a shared core (benchmarks/README.md).
        http="httptools" if fast else "h11",
        loop="uvloop" if fast else "asyncio",
        lifespan="off",
        log_level="warning",
        access_log=False,
        # A `delay:` fault whose client vanished must not hold shutdown for long.
        timeout_graceful_shutdown=2,
    )
    return _Server(config)


def _fixed_base_url(host: str, url: str) -> str | None:
    # Listening on every interface (a container): clients reach us under a name we cannot
    # know, so the issuer follows each request's Host header instead of a fixed URL.
    return None if host in ("0.0.0.0", "::", "") else url  # noqa: S104 - compared, not bound


def _running(url: str, sb: Sandbox) -> RunningSandbox:
    return RunningSandbox(
        url=url,
        issuer=url + "/",
        token_endpoint=url + "/token",
        elan_base_url=url + ELAN_BASE_PATH,
        admin=SandboxAdmin(url),
        sandbox=sb,
    )


@contextmanager
def running_sandbox(
    options: SandboxOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    credentials: Iterable[Credentials] = (),
    clock: SandboxClock | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    fast: bool = False,
) -> Iterator[RunningSandbox]:
    """Serve a sandbox in a background thread; ready on entry, stopped cleanly on exit.

    `fast` serves with httptools and uvloop (the `bench` extra) instead of h11 and asyncio.
    """
    sb = Sandbox(options, clock=clock)
    sock = bind(host, port)
    url = _url(sock)
    sb.base_url = _fixed_base_url(host, url)
    server = _server(sb, extra_routes, fast=fast)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{url}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _READY_TIMEOUT
    # Bounded poll on uvicorn's own readiness flag (no fixed sleep).
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            sb.state.close()
            raise ConfigError(f"sandbox did not start on {url}")
        time.sleep(0.002)
    running = _running(url, sb)
    try:
        for cred in credentials:
            running.register(cred)
        yield running
    finally:
        running.admin.close()
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        sock.close()
        sb.state.close()


def serve(
    options: SandboxOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn handles both and stops cleanly)."""
    sb = Sandbox(options)
    sock = bind(host, port)
    url = _url(sock)
    sb.base_url = _fixed_base_url(host, url)
    if on_ready is not None:
        on_ready(url)
    try:
        _server(sb, ()).run(sockets=[sock])
    finally:
        sock.close()
        sb.state.close()
