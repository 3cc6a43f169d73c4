"""Fixtures: a real sandbox on 127.0.0.1 (port 0), credentials it trusts, settings for it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._data import REFERENCE
from utlegg_gateway.config import Settings

ORGNR = "312597772"  # the innsender of the reference begjæring
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def reference_begjaering() -> dict[str, Any]:
    """The official model 1.1 example (tests/model/data), a fresh copy each time."""
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def settings_for(
    sandbox: Any, tmp_path: Path, credentials: Any, *, mode: str = "pkcs12", **extra: Any
) -> Settings:
    """Settings that talk to `sandbox` with `credentials` (pkcs12, pem or kid)."""
    mp: dict[str, Any] = {
        "client_id": credentials.client_id,
        "issuer": sandbox.issuer,
        "token_endpoint": sandbox.token_endpoint,
    }
    if mode == "pkcs12":
        mp |= {
            "pkcs12_file": str(credentials.pkcs12_file),
            "pkcs12_password": {"file": str(credentials.password_file)},
        }
    elif mode == "kid":
        mp |= {"kid": credentials.kid, "private_key": {"file": str(credentials.key_file)}}
    mp |= extra.pop("maskinporten", {})
    elan: dict[str, Any] = {
        "base_url": sandbox.elan_base_url,
        # Test-fast backoff: the loop is the real one, the waits are tiny.
        "retry": {
            "attempts": 8,
            "total_seconds": 30,
            "initial_wait_seconds": 0.005,
            "max_wait_seconds": 0.05,
        },
    }
    elan |= extra.pop("elan", {})
    data = {"environment": "test", "organisation": ORGNR, "maskinporten": mp, "elan": elan}
    data |= extra
    return Settings.model_validate(data | {"base_dir": tmp_path}, context={"base_dir": tmp_path})


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One client (certificate, kid key, one system user) for the whole session: keys are slow."""
    from utlegg_gateway.sandbox.certs import write_credentials

    return write_credentials(
        tmp_path_factory.mktemp("creds"), orgnr=ORGNR, systemuser_orgs=("313367002",)
    )


@pytest.fixture
def sandbox(credentials: Any) -> Iterator[Any]:
    """A fresh sandbox serving model 1.1, attachments ready at once, our client registered."""
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0)
    with running_sandbox(options, credentials=[credentials]) as running:
        yield running
