"""The product installed from its wheel, not from the checkout (issue 13, item 1).

The wheel is built as a user would (`pip wheel --no-deps .`), installed into a fresh
virtual environment in a temporary folder, and `utlegg-gateway demo` is run from yet
another folder: the shipped mappings and example exports must come from the installed
package (package data read through importlib.resources), never from the checkout.

To stay offline and fast, the fresh venv borrows its third-party dependencies from the
test run's own environment through a `.pth` line (the editable install of this checkout
there is a `.pth` *inside* that folder, which Python does not follow from a `.pth` line).
`scripts/wheel-demo` (run by `scripts/test`, so by CI) does the same with a clean install
of every dependency from PyPI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_installs_into_a_fresh_venv_and_the_demo_runs_from_elsewhere(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The venv holds the package's own folders/outbox/ source: outside tmp_path, which
    # the outbox contract fixture checks (the demo's outbox in tmp_path is checked).
    build = tmp_path_factory.mktemp("wheel-install")
    dist = build / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
        cwd=tmp_path,
    )
    [wheel] = dist.glob("utlegg_gateway-*.whl")

    venv = build / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
        ).stdout.strip()
    )
    # Dependencies only: appended after the venv's own site-packages.
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp_path,
    )

    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "COVERAGE", "COV_"))
    }
    env["COLUMNS"] = "250"
    where = _run(
        [str(py), "-c", "import utlegg_gateway._shipped as s; print(s.shipped_mappings_dir())"],
        cwd=elsewhere,
        env=env,
    ).stdout.strip()
    assert Path(where) == site / "utlegg_gateway" / "mappings"

    done = _run([str(venv / "bin" / "utlegg-gateway"), "demo"], cwd=elsewhere, env=env)

    [out] = (elsewhere / "demo-output").iterdir()
    receipts = sorted((out / "outbox").glob("*.kvittering.json"))
    assert len(receipts) >= 3
    cases = [c for r in receipts for c in json.loads(r.read_bytes())["cases"]]
    assert [c["status"] for c in cases].count("accepted") == len(cases) - 1
    assert str(REPO) not in (out / "config.yaml").read_text()
    for receipt in receipts:
        assert str(receipt) in done.stdout
