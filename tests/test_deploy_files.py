"""deploy/: the systemd unit, its config and the cron line work as written (issue 13, item 6).

The unit is checked by `systemd-analyze verify` where the tool is installed, the config by
the gateway's own loader, their paths against each other, and the cron line is run with
`sh -c` as cron runs it (only the two absolute install paths are replaced by this test
run's executable and config).
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._support import MAPPINGS
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "systemd" / "utlegg-gateway.service"
CONFIG = REPO / "deploy" / "systemd" / "config.yaml"
CRON = REPO / "deploy" / "cron" / "utlegg-gateway"
INSTALLED = "/opt/utlegg-gateway/.venv/bin/utlegg-gateway"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def test_the_unit_and_its_config_agree() -> None:
    service = _service()
    settings = load_settings(CONFIG, environ={})
    writable = [Path(p) for p in service["ReadWritePaths"].split()]
    writable.append(Path("/var/lib") / service["StateDirectory"])
    written = [
        settings.journal.path,
        settings.runner.lock_file,
        settings.folders.work,
        settings.folders.outbox,
        settings.folders.archive,
        settings.folders.failed,
        *(i.path for i in settings.inboxes),
    ]
    for path in written:
        assert any(path.is_relative_to(w) for w in writable), f"{path} is not writable"
    assert service["ProtectSystem"] == "strict"  # so nothing else is
    assert "2" in service["RestartPreventExitStatus"].split()
    assert float(service["TimeoutStopSec"]) > settings.runner.shutdown_grace_seconds
    assert f"--config {CONFIG.name}" not in service["ExecStart"]
    assert service["ExecStart"].endswith("run --config /etc/utlegg-gateway/config.yaml")


def test_the_docs_show_the_unit_as_shipped() -> None:
    docs = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    block = re.search(r"```ini\n(.*?)```", docs, re.DOTALL)
    assert block is not None
    assert block.group(1) == UNIT.read_text(encoding="utf-8")
    cron = re.search(r"```cron\n(.*?)```", docs, re.DOTALL)
    assert cron is not None
    assert cron.group(1) == CRON.read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify also checks that ExecStart exists: point it at this run's installed command.
    exe = shutil.which("utlegg-gateway") or str(
        Path(__import__("sys").executable).parent / "utlegg-gateway"
    )
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, exe), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # an unknown key is only a warning: none allowed


def _cron_command() -> str:
    lines = [
        line
        for line in CRON.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    [line] = lines
    return line.split(None, 6)[6]  # five time fields, the user, then the command


def _run_cron(tmp_path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "utlegg-gateway")
    log = tmp_path / "log" / "once.log"
    log.parent.mkdir(exist_ok=True)
    command = (
        _cron_command()
        .replace(INSTALLED, exe)
        .replace("/etc/utlegg-gateway/config.yaml", str(config))
        .replace("/var/log/utlegg-gateway/once.log", str(log))
    )
    return subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cron_line_mails_only_a_run_that_needs_a_person(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
    )
    quiet = _run_cron(tmp_path, config)  # nothing to do: exit 0, no mail
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")

    shutil.rmtree(tmp_path / "inbox")  # the share is gone: exit 2, a mail
    loud = _run_cron(tmp_path, config)
    assert loud.stdout.startswith("utlegg-gateway once exited 2; see ")
    assert "inbox folder missing" in (tmp_path / "log" / "once.log").read_text()
