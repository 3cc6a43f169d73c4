"""Dockerfile, config.container.yaml and compose.yaml agree (issue 13, item 5).

Read as files: volumes, read-only mounts, stop timeouts against the drain grace, the
health port, the try profile's environment overrides loaded by the gateway's own loader.
tests/test_container_image.py builds and runs the image where a container engine and
its base image are available.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from utlegg_gateway.config import load_settings

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
CONFIG = REPO / "config.container.yaml"
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def _image_env() -> dict[str, str]:
    block = re.search(r"^ENV (.*?)(?=^\S)", DOCKERFILE, re.MULTILINE | re.DOTALL)
    assert block is not None
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1)))


def _volumes() -> list[PurePosixPath]:
    [line] = [v for v in DOCKERFILE.splitlines() if v.startswith("VOLUME ")]
    return [PurePosixPath(p) for p in json.loads(line.removeprefix("VOLUME "))]


def _settings(**env: str):
    return load_settings(CONFIG, environ={**_image_env(), **env})


def _grace_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match is not None, value
    return float(match.group(1))


def test_every_path_the_gateway_writes_is_a_volume_never_the_config() -> None:
    settings = _settings()
    volumes = _volumes()
    written = [
        settings.journal.path,
        settings.runner.lock_file,
        settings.folders.work,
        settings.folders.outbox,
        settings.folders.archive,
        settings.folders.failed,
        *(i.path for i in settings.inboxes),
    ]
    for path in map(PurePosixPath, written):
        assert any(path.is_relative_to(v) for v in volumes), f"{path} is on no volume"
        assert not path.is_relative_to("/config"), f"{path} is under the read-only /config"
    # Claims are renames: work/ shares the inboxes' volume.
    work = PurePosixPath(settings.folders.work)
    for inbox in settings.inboxes:
        assert work.parts[:3] == PurePosixPath(inbox.path).parts[:3]
    # The shipped mappings need no configuration (only a site's own in /config/mappings).
    assert [str(p) for p in settings.runner.mapping_dirs] == ["/config/mappings"]
    assert "COPY mappings ./mappings" in DOCKERFILE  # built into the wheel


def test_the_healthcheck_asks_the_port_the_gateway_serves() -> None:
    settings = _settings()
    [check] = [line for line in DOCKERFILE.splitlines() if "urlopen" in line]
    assert "UTLEGG_GATEWAY__HEALTH__PORT" in check
    assert settings.health.port == int(_image_env()["UTLEGG_GATEWAY__HEALTH__PORT"])
    assert settings.health.host == "0.0.0.0"
    # A configured port is overridden by the image's environment, so they cannot differ.
    assert _settings(UTLEGG_GATEWAY__HEALTH__PORT="9200").health.port == 9200


def test_the_docker_run_example_mounts_failed_and_waits_for_the_drain() -> None:
    grace = _settings().runner.shutdown_grace_seconds
    docs = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    for text in (DOCKERFILE, docs):
        run = re.search(r"docker run (.*?)utlegg-gateway\s*$", text, re.MULTILINE | re.DOTALL)
        assert run is not None
        command = run.group(1)
        timeout = re.search(r"--stop-timeout (\d+)", command)
        assert timeout is not None and float(timeout.group(1)) > grace
        mounts = re.findall(r"-v (\S+):(/\S+?)(:ro)?\s", command)
        targets = {PurePosixPath(t): ro for _, t, ro in mounts}
        for volume in _volumes():
            assert targets.get(volume) == "", f"{volume} not mounted writable"
        assert targets[PurePosixPath("/config")] == ":ro"


def test_compose_mounts_every_volume_and_waits_for_the_drain() -> None:
    grace = _settings().runner.shutdown_grace_seconds
    for name in ("gateway", "gateway-try"):
        service = COMPOSE["services"][name]
        assert _grace_seconds(service["stop_grace_period"]) > grace
        mounts = {}
        for spec in service["volumes"]:
            _source, target, *mode = spec.split(":")
            mounts[PurePosixPath(target)] = mode
        for volume in _volumes():
            assert mounts.get(volume) == [], f"{name}: {volume} not mounted writable"
        for target, mode in mounts.items():
            if target.is_relative_to("/config") or target.is_relative_to("/config-try"):
                assert mode == ["ro"], f"{name}: {target} must be read-only"


def test_the_try_profile_points_the_gateway_at_the_sandbox_service() -> None:
    services = COMPOSE["services"]
    sandbox = services["sandbox"]
    assert sandbox["build"]["args"]["EXTRAS"] == "[sandbox]"
    [command] = sandbox["command"]
    assert "--client-id sandbox-compose" in command
    assert "--registry /creds" in command and "--port 8900" in command
    try_ = services["gateway-try"]
    settings = _settings(**try_["environment"])
    assert settings.maskinporten.client_id == "sandbox-compose"
    assert settings.maskinporten.token_endpoint == "http://sandbox:8900/token"
    assert str(settings.maskinporten.pkcs12_file) == "/creds/client.p12"
    assert settings.elan.base_url_for(settings.environment).startswith("http://sandbox:8900/")
    assert "sandbox-creds:/creds:ro" in try_["volumes"]
    assert "./config.container.yaml:/config-try/config.yaml:ro" in try_["volumes"]


def test_sandbox_init_registers_the_client_id_compose_names(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from utlegg_gateway.cli import main

    args = ["sandbox", "init", str(tmp_path / "creds"), "--client-id", "sandbox-compose"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    registration = json.loads((tmp_path / "creds" / "registration.json").read_bytes())
    assert "sandbox-compose" in json.dumps(registration)
    gateway = yaml.safe_load((tmp_path / "creds" / "gateway.yaml").read_bytes())
    assert gateway["maskinporten"]["client_id"] == "sandbox-compose"
