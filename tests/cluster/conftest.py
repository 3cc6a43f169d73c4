"""Settings for "instances" of one cluster: the same PostgreSQL journal and sandbox,
each its own `cluster.instance`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SANDBOX_ORGNR
from utlegg_gateway.config import JournalSettings, Settings


def journal_data(journal: JournalSettings) -> dict[str, Any]:
    """The journal section as a config file would hold it (password from its file)."""
    assert journal.url is not None and journal.password is not None
    return {"url": journal.url, "password": {"file": str(journal.password.file)}}


def instance_data(
    root: Path,
    journal: JournalSettings,
    *,
    instance: str,
    cluster: bool = True,
    sandbox: Any = None,
    credentials: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """One instance's configuration as plain data; ELAN and Maskinporten of `sandbox`."""
    data: dict[str, Any] = {
        "environment": "test",
        "organisation": SANDBOX_ORGNR,
        "journal": journal_data(journal),
        "cluster": {"enabled": cluster, "instance": instance},
        "folders": {name: str(root / name) for name in ("outbox", "work", "archive", "failed")},
    }
    if sandbox is not None:
        data["maskinporten"] = {
            "client_id": credentials.client_id,
            "issuer": sandbox.issuer,
            "token_endpoint": sandbox.token_endpoint,
            "pkcs12_file": str(credentials.pkcs12_file),
            "pkcs12_password": {"file": str(credentials.password_file)},
        }
        data["elan"] = {
            "base_url": sandbox.elan_base_url,
            # Test-fast backoff: a refused call (the sixth) is retried soon, many times.
            "retry": {
                "attempts": 20,
                "total_seconds": 30,
                "initial_wait_seconds": 0.005,
                "max_wait_seconds": 0.02,
            },
        }
    for key, value in extra.items():
        data[key] = (data.get(key) or {}) | value if isinstance(value, dict) else value
    return data


def instance_settings(root: Path, journal: JournalSettings, **kw: Any) -> Settings:
    """`instance_data`, validated as `load_settings` would (relative paths from `root`)."""
    data = instance_data(root, journal, **kw)
    return Settings.model_validate(data | {"base_dir": root}, context={"base_dir": root})


@pytest.fixture
def cluster_journal(postgres_journal_settings: JournalSettings) -> JournalSettings:
    """The shared PostgreSQL journal of the instances (a fresh database per test)."""
    return postgres_journal_settings
