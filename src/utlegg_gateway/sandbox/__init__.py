"""The local ELAN + Maskinporten emulator (the sandbox): see README "Sandbox".

with running_sandbox(SandboxOptions(model_version="1.1")) as sb:
    creds = write_credentials(tmp_path)
    sb.register(creds)
    ... sb.token_endpoint, sb.issuer, sb.elan_base_url, sb.admin.submissions() ...
"""

from __future__ import annotations

from utlegg_gateway.sandbox import _requires  # noqa: F401  # refuses early, with the fix
from utlegg_gateway.sandbox.admin import SandboxAdmin
from utlegg_gateway.sandbox.certs import Credentials, write_credentials
from utlegg_gateway.sandbox.core import Sandbox
from utlegg_gateway.sandbox.grants import build_grant
from utlegg_gateway.sandbox.options import (
    DEFAULT_STATUS_TIMINGS,
    ELAN_SCOPE,
    SandboxClock,
    SandboxOptions,
)
from utlegg_gateway.sandbox.server import RunningSandbox, running_sandbox, serve

__all__ = [
    "DEFAULT_STATUS_TIMINGS",
    "ELAN_SCOPE",
    "Credentials",
    "RunningSandbox",
    "Sandbox",
    "SandboxAdmin",
    "SandboxClock",
    "SandboxOptions",
    "build_grant",
    "running_sandbox",
    "serve",
    "write_credentials",
]
