"""The sandbox's server libraries are an extra: say how to install them instead of a traceback."""

from __future__ import annotations

from utlegg_gateway.errors import SandboxNotInstalledError

try:
    import starlette  # noqa: F401  # only asked whether it is there
    import uvicorn  # noqa: F401
except ImportError as exc:
    raise SandboxNotInstalledError(
        f"the sandbox needs its server libraries ({exc.name} is missing)",
        hint="pip install 'utlegg-gateway[sandbox]' (a production install leaves them out)",
    ) from exc
