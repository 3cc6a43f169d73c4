"""utlegg-gateway: legacy file drops in, ELAN utleggsbegjæringer out.

The public surface is re-exported here, once; everything else is internal and may
change. Names load on first use (PEP 562), so `utlegg-gateway --help` and a cron job's
start stay fast: importing the package imports only the exception tree.

    >>> import utlegg_gateway as ug
    >>> settings = ug.load_settings("config.yaml")
    >>> report = ug.run_once(settings)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from utlegg_gateway.errors import ErrorEntry, GatewayError, Place

__version__ = "0.1.0"

# name -> the module that defines it
_LAZY: dict[str, str] = {
    "Settings": "utlegg_gateway.config",
    "load_settings": "utlegg_gateway.config",
    "run_once": "utlegg_gateway.gateway.runner",
    "run_daemon": "utlegg_gateway.gateway.runner",
    "RunReport": "utlegg_gateway.gateway.runner",
    "FileOutcome": "utlegg_gateway.gateway.pipeline",
    "MappingSpec": "utlegg_gateway.mapping.spec",
    "load_mapping": "utlegg_gateway.mapping.spec",
    "resolve_mapping": "utlegg_gateway.mapping",
    "map_file": "utlegg_gateway.mapping",
    "CaseResult": "utlegg_gateway.mapping.results",
    "ProvingContext": "utlegg_gateway.provning",
    "Finding": "utlegg_gateway.provning",
    "validate": "utlegg_gateway.provning",
    "Journal": "utlegg_gateway.journal.sqlite",
    "ElanClient": "utlegg_gateway.elan",
    "build_client": "utlegg_gateway.elan",
    "SubmitResult": "utlegg_gateway.elan",
    "Receipt": "utlegg_gateway.folders.outbox",
    "ErrorReport": "utlegg_gateway.folders.outbox",
    "journal_status": "utlegg_gateway.operations",
    "replay_file": "utlegg_gateway.operations",
}

__all__ = [
    "CaseResult",
    "ElanClient",
    "ErrorEntry",
    "ErrorReport",
    "FileOutcome",
    "Finding",
    "GatewayError",
    "Journal",
    "MappingSpec",
    "Place",
    "ProvingContext",
    "Receipt",
    "RunReport",
    "Settings",
    "SubmitResult",
    "__version__",
    "build_client",
    "journal_status",
    "load_mapping",
    "load_settings",
    "map_file",
    "replay_file",
    "resolve_mapping",
    "run_daemon",
    "run_once",
    "validate",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'utlegg_gateway' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next time without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads
    from utlegg_gateway.config import Settings, load_settings
    from utlegg_gateway.elan import ElanClient, SubmitResult, build_client
    from utlegg_gateway.folders.outbox import ErrorReport, Receipt
    from utlegg_gateway.gateway.pipeline import FileOutcome
    from utlegg_gateway.gateway.runner import RunReport, run_daemon, run_once
    from utlegg_gateway.journal.sqlite import Journal
    from utlegg_gateway.mapping import map_file, resolve_mapping
    from utlegg_gateway.mapping.results import CaseResult
    from utlegg_gateway.mapping.spec import MappingSpec, load_mapping
    from utlegg_gateway.operations import journal_status, replay_file
    from utlegg_gateway.provning import Finding, ProvingContext, validate
