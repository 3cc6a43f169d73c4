"""The image built and run: `demo` inside the container exits 0 with receipts (item 5).

Marked `container` and run only on request (`UTLEGG_CONTAINER_TESTS=1 .venv/bin/python -m
pytest -m container`, or `bash scripts/container-test`): a build takes minutes and needs
a container engine (podman or docker) and the `python:3.11-slim` base image from a
registry. Without either it is skipped, saying which is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASE = "docker.io/library/python:3.11-slim"
DEMO = ("demo", "--dir", "/data/demo/run")

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(
        os.environ.get("UTLEGG_CONTAINER_TESTS") != "1",
        reason="container build on request only: UTLEGG_CONTAINER_TESTS=1",
    ),
]


def _engine() -> str:
    for name in ("podman", "docker"):
        exe = shutil.which(name)
        if exe and subprocess.run([exe, "info"], capture_output=True, check=False).returncode == 0:
            return exe
    pytest.skip("no working container engine (podman or docker)")


def _base_image(engine: str) -> None:
    have = subprocess.run([engine, "image", "inspect", BASE], capture_output=True, check=False)
    if have.returncode == 0:
        return
    pull = subprocess.run(
        [engine, "pull", BASE], capture_output=True, text=True, timeout=600, check=False
    )
    if pull.returncode != 0:
        pytest.skip(f"cannot pull {BASE}: {pull.stderr.strip()[-300:]}")


@pytest.mark.timeout(1800)
def test_the_image_builds_and_runs_the_demo(tmp_path: Path) -> None:
    engine = _engine()
    _base_image(engine)
    tag = "localhost/utlegg-gateway:test-sandbox"
    build = subprocess.run(
        [engine, "build", "--build-arg", "EXTRAS=[sandbox]", "-t", tag, str(REPO)],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    out = tmp_path / "demo-out"
    out.mkdir()
    out.chmod(0o777)  # the image's user (uid 10001) writes here
    run = subprocess.run(
        [engine, "run", "--rm", "-e", "COLUMNS=200", "-v", f"{out}:/data/demo", tag, *DEMO],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    receipts = sorted((out / "run" / "outbox").glob("*.kvittering.json"))
    assert len(receipts) >= 3
    # The production image (no [sandbox] extra) refuses the demo with exit 2, saying why.
    prod = subprocess.run(
        [engine, "build", "-t", "localhost/utlegg-gateway:test", str(REPO)],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert prod.returncode == 0, prod.stderr[-3000:]
    refused = subprocess.run(
        [engine, "run", "--rm", "localhost/utlegg-gateway:test", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert "sandbox" in refused.stderr
