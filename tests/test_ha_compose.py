"""deploy/ha/compose.yaml: two gateway instances on one PostgreSQL journal (issue 16 item 6).

Docker cannot run where these tests run (no registry to pull postgres:16 or the Python
base image from), so this checks the file, not a running stack: two instances with
distinct names, the same journal, the password a Docker secret file and never inline,
the folders shared and each run lock on the instance's own volume, and the configuration
each instance would load validated by the gateway's own loader (with the image's and the
service's environment, as the container sees it).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from utlegg_gateway.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
HA = REPO / "deploy" / "ha"
COMPOSE: dict[str, Any] = yaml.safe_load((HA / "compose.yaml").read_text(encoding="utf-8"))
INSTANCES = ("gw-a", "gw-b")
SHARED = ("/data/inbox", "/data/outbox", "/data/archive", "/data/failed")


def _image_env() -> dict[str, str]:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    block = re.search(r"^ENV (.*?)(?=^\S)", dockerfile, re.MULTILINE | re.DOTALL)
    assert block is not None
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1)))


def _mounts(service: dict[str, Any]) -> dict[PurePosixPath, tuple[str, list[str]]]:
    out = {}
    for spec in service["volumes"]:
        source, target, *mode = spec.split(":")
        out[PurePosixPath(target)] = (source, mode)
    return out


def _loaded(name: str) -> Settings:
    """What instance `name` loads: its mounted config file and its environment."""
    service = COMPOSE["services"][name]
    source, mode = _mounts(service)[PurePosixPath("/config/config.yaml")]
    assert mode == ["ro"]
    return load_settings(HA / source, environ={**_image_env(), **service["environment"]})


def test_two_instances_of_one_image_with_distinct_names() -> None:
    services = COMPOSE["services"]
    assert {name for name in services if name.startswith("gw-")} == set(INSTANCES)
    loaded = [_loaded(name) for name in INSTANCES]
    assert all(s.cluster.enabled for s in loaded)
    assert [s.cluster.instance_name() for s in loaded] == list(INSTANCES)
    assert services["gw-a"]["image"] == services["gw-b"]["image"]
    assert services["gw-a"]["build"]["args"]["EXTRAS"] == "[postgres]"
    # The health ports differ on the host; inside both serve the image's port.
    assert len({tuple(services[n]["ports"]) for n in INSTANCES}) == 2


def test_one_journal_with_the_password_from_a_docker_secret() -> None:
    loaded = [_loaded(name) for name in INSTANCES]
    urls = {s.journal.url for s in loaded}
    assert len(urls) == 1
    [url] = urls
    assert url is not None and url.startswith("postgresql://") and "@postgres:" in url
    secrets = COMPOSE["secrets"]
    for name, settings in zip(INSTANCES, loaded, strict=True):
        password = settings.journal.password
        assert password is not None and password.env is None
        path = PurePosixPath(str(password.file))
        assert path.parent == PurePosixPath("/run/secrets")
        assert path.name in COMPOSE["services"][name]["secrets"]
        assert "file" in secrets[path.name]
    postgres = COMPOSE["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    # No password written out anywhere in the file, nor in the URL.
    text = (HA / "compose.yaml").read_text(encoding="utf-8") + (HA / "config.yaml").read_text(
        encoding="utf-8"
    )
    assert not re.search(r"(?i)password\s*[:=]\s*['\"]?\w{6,}", text.replace("_FILE", ""))


@pytest.mark.parametrize("target", SHARED)
def test_the_folders_are_shared_named_volumes(target: str) -> None:
    sources = {
        name: _mounts(COMPOSE["services"][name])[PurePosixPath(target)] for name in INSTANCES
    }
    [(source, mode)] = {(s, tuple(m)) for s, m in sources.values()}
    assert mode == ()  # writable
    assert source in COMPOSE["volumes"], f"{target}: {source} is not a named volume"


def test_each_instance_has_its_own_local_state_for_the_run_lock() -> None:
    loaded = {name: _loaded(name) for name in INSTANCES}
    state = {
        name: _mounts(COMPOSE["services"][name])[PurePosixPath("/data/state")][0]
        for name in INSTANCES
    }
    assert len(set(state.values())) == 2
    for name, settings in loaded.items():
        lock = PurePosixPath(settings.runner.lock_file)
        assert lock.is_relative_to("/data/state"), f"{name}: run lock not on its state volume"
        # Claims are renames: work/ is on the shared inbox volume.
        assert PurePosixPath(settings.folders.work).is_relative_to("/data/inbox")
        for inbox in settings.inboxes:
            assert PurePosixPath(inbox.path).is_relative_to("/data/inbox")


def test_the_instances_wait_for_the_database_and_the_drain() -> None:
    for name in INSTANCES:
        service = COMPOSE["services"][name]
        settings = _loaded(name)
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        grace = re.fullmatch(r"(\d+)s", service["stop_grace_period"])
        assert grace is not None and float(grace.group(1)) > settings.runner.shutdown_grace_seconds
