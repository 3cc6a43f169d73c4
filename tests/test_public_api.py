"""The package's public surface: pinned, importable, and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import utlegg_gateway

# Changing this list is a decision about the public API: say so in the changelog.
PUBLIC = [
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


def test_all_is_pinned() -> None:
    """`__all__` is the agreed list (as httpx pins its own); every lazy name is in it."""
    assert sorted(utlegg_gateway.__all__) == sorted(PUBLIC)
    assert set(utlegg_gateway._LAZY) <= set(PUBLIC)


def test_every_public_name_resolves_to_its_defining_object() -> None:
    """Each name loads and is the object of the module that owns it."""
    from utlegg_gateway.config import load_settings
    from utlegg_gateway.gateway.runner import run_once

    for name in PUBLIC:
        assert getattr(utlegg_gateway, name) is not None, name
    assert utlegg_gateway.load_settings is load_settings
    assert utlegg_gateway.run_once is run_once
    assert "run_once" in dir(utlegg_gateway)


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A typo fails as attribute access should, not as an import error."""
    with pytest.raises(AttributeError, match="run_onec"):
        utlegg_gateway.__getattr__("run_onec")


def test_importing_the_package_loads_no_stage() -> None:
    """`import utlegg_gateway` (every CLI start) imports none of the heavy stages."""
    script = (
        "import json, sys, utlegg_gateway; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('utlegg_gateway'))))"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    loaded = json.loads(out.stdout)
    assert loaded == ["utlegg_gateway", "utlegg_gateway.errors"]
    heavy = ("lxml", "httpx", "pydantic")
    script = f"import sys, utlegg_gateway; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    assert out.stdout.strip() == b"[]"
