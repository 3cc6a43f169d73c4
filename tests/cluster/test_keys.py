"""Which locks share a key: the same organisation's slots in every instance, each tenant's
slots and poller its own (vendor mode). Pure: no connection is made until a first call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import SANDBOX_ORGNR, SANDBOX_SYSTEMUSER_ORG
from utlegg_gateway.cluster import ClusterSlotGate, PollerLock, cluster_slot_gates
from utlegg_gateway.config import Settings, load_settings


def _vendor(tmp_path: Path, instance: str, scope: str = "api") -> Settings:
    data = {
        "journal": {"url": "postgresql://gw@db:5432/journal", "password": {"env": "PGPASS"}},
        "cluster": {"enabled": True, "instance": instance},
        "elan": {"concurrency_scope": scope},
        "tenants": [
            {"name": "alfa", "organisation": SANDBOX_SYSTEMUSER_ORG, "inboxes": []},
            {"name": "beta", "organisation": SANDBOX_ORGNR, "inboxes": []},
        ],
    }
    path = tmp_path / instance / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_settings(path, environ={})


def _namespaces(settings: Settings) -> dict[str, int]:
    gates = cluster_slot_gates(settings, 5)
    out = {}
    for api, gate in gates.gates.items():
        assert isinstance(gate, ClusterSlotGate)
        out[api] = gate.namespace
    return out


def test_instances_share_an_organisations_slots_and_tenants_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASS", "not-used-here")
    a, b = _vendor(tmp_path, "gw-a"), _vendor(tmp_path, "gw-b")
    a_alfa, a_beta = (_namespaces(t) for t in a.tenant_settings())
    b_alfa, _ = (_namespaces(t) for t in b.tenant_settings())
    assert a_alfa == b_alfa  # one organisation: the same slots in every instance
    assert len(set(a_alfa.values())) == 3  # scope "api": each API its own 5
    assert not set(a_alfa.values()) & set(a_beta.values())
    locks = [PollerLock.for_settings(t) for t in (*a.tenant_settings(), *b.tenant_settings())]
    assert [lock.instance for lock in locks] == ["gw-a", "gw-a", "gw-b", "gw-b"]
    assert locks[0].namespace == locks[2].namespace != locks[1].namespace


def test_organisation_scope_is_one_set_of_slots_for_all_apis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASS", "not-used-here")
    settings = _vendor(tmp_path, "gw-a", scope="organisation")
    alfa = cluster_slot_gates(settings.tenant_settings()[0], 5)
    assert len({id(gate) for gate in alfa.gates.values()}) == 1
    assert len(set(_namespaces(settings.tenant_settings()[0]).values())) == 1
