"""The `cluster` section: off by default, only with a PostgreSQL journal, leases renewed in time."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from utlegg_gateway.config import Settings, load_settings
from utlegg_gateway.errors import ConfigError

_PG = {"url": "postgresql://gw@db:5432/journal", "password": {"env": "PGPASS"}}


def _settings(**overrides: Any) -> Settings:
    return load_settings(None, environ={}, overrides=overrides)


def test_off_by_default_and_named_after_the_host() -> None:
    cluster = _settings().cluster
    assert cluster.enabled is False
    assert cluster.instance_name() == socket.gethostname()


def test_an_instance_name_is_kept() -> None:
    settings = _settings(journal=_PG, cluster={"enabled": True, "instance": "gw-b.2"})
    assert settings.cluster.instance_name() == "gw-b.2"
    assert (settings.cluster.lease_seconds, settings.cluster.heartbeat_seconds) == (30.0, 5.0)


def test_a_cluster_needs_the_shared_journal() -> None:
    with pytest.raises(ConfigError, match=r"cluster\.enabled needs a shared PostgreSQL journal"):
        _settings(cluster={"enabled": True})


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        ({"lease_seconds": 10, "heartbeat_seconds": 6}, "at most half of lease_seconds"),
        ({"instance": "gw b"}, "instance"),
        ({"lease_seconds": 1}, "lease_seconds"),
    ],
)
def test_bad_cluster_settings_name_the_key(cluster: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        _settings(journal=_PG, cluster={"enabled": True, **cluster})
    assert "cluster" in str(err.value)


def test_the_environment_can_switch_it_on() -> None:
    settings = load_settings(
        None,
        environ={
            "UTLEGG_GATEWAY__CLUSTER__ENABLED": "true",
            "UTLEGG_GATEWAY__CLUSTER__INSTANCE": "gw-a",
        },
        overrides={"journal": _PG},
    )
    assert settings.cluster.enabled and settings.cluster.instance_name() == "gw-a"
