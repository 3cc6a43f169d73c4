"""One poisoned file among twenty good ones, in `once` and in the daemon."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.e2e._support import (
    FORMATS,
    MAPPINGS,
    drop_attachments,
    gateway_cmd,
    wait_for,
)
from utlegg_gateway.demo import write_gateway_config

LIMIT = 100_000  # max_file_bytes: the sample is ~6 KB, the poison 300 KB


def _config(tmp_path: Path, sandbox: Any, credentials: Any) -> Path:
    path = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.2,
        observer="native",
    )
    data = yaml.safe_load(path.read_text("utf-8"))
    data["inboxes"][0]["readiness"]["max_file_bytes"] = LIMIT
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def _drop_batch(inbox: Path, batch: int) -> tuple[list[str], str]:
    """Twenty good exports (distinct cases) and one too large; returns their names."""
    sample = FORMATS["csv-krav"].read_bytes()
    good: list[str] = []
    for i in range(20):
        data = sample.replace(b"IB-2025-000127;", f"IB-{batch}-{i:03d}127;".encode()).replace(
            b"IB-2025-000311;", f"IB-{batch}-{i:03d}311;".encode()
        )
        name = f"utlegg_{batch}_{i:02d}.csv"
        (inbox / f"{name}.part").write_bytes(data)
        (inbox / f"{name}.part").replace(inbox / name)
        good.append(name)
    poison = f"gift_{batch}.csv"
    (inbox / f"{poison}.part").write_bytes(sample + b"x" * 300_000)
    (inbox / f"{poison}.part").replace(inbox / poison)
    return good, poison


def _answers(outbox: Path, good: list[str], poison: str) -> bool:
    return (
        all((outbox / f"{n}.kvittering.json").exists() for n in good)
        and (outbox / f"{poison}.feil.json").exists()
    )


def _check(outbox: Path, failed: Path, good: list[str], poison: str) -> None:
    for name in good:
        doc = json.loads((outbox / f"{name}.kvittering.json").read_bytes())
        assert {c["status"] for c in doc["cases"]} == {"accepted"}, name
        assert len(doc["cases"]) == 2
    feil = json.loads((outbox / f"{poison}.feil.json").read_bytes())
    assert f"max_file_bytes ({LIMIT})" in feil["message"]
    assert not (outbox / f"{poison}.kvittering.json").exists()
    assert (failed / poison).is_file()


def test_a_poisoned_file_among_twenty_in_once_and_in_the_daemon(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """`once`: 20 receipts, 1 error report, exit 1. `run`: the same, and it keeps running."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    outbox, failed = tmp_path / "outbox", tmp_path / "failed"
    drop_attachments("csv-krav", inbox)
    good, poison = _drop_batch(inbox, 1)

    once = subprocess.run(
        gateway_cmd("once", "--config", str(config)),
        cwd=tmp_path,
        capture_output=True,
        check=False,
        timeout=300,
    )

    assert once.returncode == 1, once.stderr[-2000:]
    _check(outbox, failed, good, poison)
    assert len(list(outbox.glob("*.kvittering.json"))) == 20
    assert len(list(outbox.glob("*.feil.json"))) == 1

    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            gateway_cmd("run", "--config", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        drop_attachments("csv-krav", inbox)
        good, poison = _drop_batch(inbox, 2)

        def answered() -> bool:
            assert daemon.poll() is None, log.read_text()
            return _answers(outbox, good, poison)

        wait_for(answered, timeout=180, what="20 receipts and 1 error report")
        _check(outbox, failed, good, poison)
        assert daemon.poll() is None  # still running after the poison
        daemon.terminate()
        assert daemon.wait(timeout=60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert len(sandbox.admin.cases()) == 80
