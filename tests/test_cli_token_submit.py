"""`token` and `submit` as the README runs them: real subprocesses against a loopback sandbox."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._data import REFERENCE

PDF = b"%PDF-1.4\n%%EOF\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTLEGG_GATEWAY__")}
    return subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def sandbox_and_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A model-1.1 sandbox on a free port with `sandbox init` credentials (once: keys are slow)."""
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    cwd = tmp_path_factory.mktemp("cli")
    with running_sandbox(SandboxOptions(model_version="1.1", scanning_seconds=0.0)) as sb:
        init = _cli("sandbox", "init", "creds", "--url", sb.url, cwd=cwd)
        assert init.returncode == 0, init.stderr
        sb.admin.register_client(cwd / "creds" / "registration.json")
        yield sb, cwd


@pytest.fixture
def served(sandbox_and_dir: tuple[Any, Path], tmp_path: Path) -> tuple[Any, Path]:
    """The shared sandbox with its traffic and cases forgotten, and a fresh working folder."""
    sb, shared = sandbox_and_dir
    sb.admin.reset()
    (tmp_path / "creds").symlink_to(shared / "creds")
    return sb, tmp_path


def test_token_prints_what_it_is_for_never_the_token(served: tuple[Any, Path]) -> None:
    """`token` prints environment, scope, organisation and expiry; no token appears anywhere."""
    sb, cwd = served
    result = _cli("token", "--config", "creds/gateway.yaml", cwd=cwd)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["environment"] == "test"
    assert report["scope"] == "skatteetaten:utleggsbegjaering"
    assert report["organisation"] == "312597772"
    assert report["expires_at"] and report["certificate_expires"]
    assert "eyJ" not in result.stdout + result.stderr
    assert sb.admin.stats()["grants_issued"] == 1


def test_submit_reference_with_generated_pdfs(served: tuple[Any, Path]) -> None:
    """`submit` uploads the PDFs the begjæring names, submits it, and a repeat says already in."""
    sb, cwd = served
    folder = cwd / "vedlegg"
    folder.mkdir()
    (folder / "vedlegg.pdf").write_bytes(PDF + b"tvangsgrunnlag")
    (folder / "Fullmakt.pdf").write_bytes(PDF + b"fullmakt")
    args = ("submit", str(REFERENCE), "--attachments", "vedlegg", "--config", "creds/gateway.yaml")

    first = _cli(*args, cwd=cwd)
    assert first.returncode == 0, first.stderr
    receipt = json.loads(first.stdout)
    assert receipt["utfall"] == "akseptert" and not receipt["alleredeInnsendt"]
    (case,) = sb.admin.cases()
    assert receipt["eksternSaksreferanse"] == case["eksternSaksreferanse"]
    uploads = {u["uuid"]: u for u in sb.admin.uploads()}
    by_name = {v["filnavn"]: v["uuid"] for v in receipt["vedlegg"]}
    assert base64.b64decode(uploads[by_name["vedlegg"]]["content_base64"]).endswith(
        b"tvangsgrunnlag"
    )
    payload = case["payload"]
    assert payload["vedlegg"][0]["uuid"] == by_name["vedlegg"]
    fullmakt = payload["saksoeker"][0]["saksoekersProsessfullmektig"]["fullmakt"]["fullmakt"]
    assert fullmakt["uuid"] == by_name["Fullmakt"]

    again = _cli(*args, cwd=cwd)
    assert again.returncode == 0, again.stderr
    repeat = json.loads(again.stdout)
    assert repeat["alleredeInnsendt"] is True
    assert repeat["eksternSaksreferanse"] == receipt["eksternSaksreferanse"]
    assert len(sb.admin.cases()) == 1


def test_submit_with_a_missing_attachment_fails_clearly(served: tuple[Any, Path]) -> None:
    """A begjæring naming a file the folder lacks exits 1 naming it, and nothing is sent."""
    sb, cwd = served
    (cwd / "vedlegg").mkdir()
    (cwd / "vedlegg" / "vedlegg.pdf").write_bytes(PDF)
    result = _cli(
        "submit",
        str(REFERENCE),
        "--attachments",
        "vedlegg",
        "--config",
        "creds/gateway.yaml",
        cwd=cwd,
    )
    assert result.returncode == 1
    assert "Fullmakt" in result.stderr and "not found" in result.stderr
    assert sb.admin.stats()["calls"] == {}


def test_submit_rejected_prints_rules_and_exits_1(served: tuple[Any, Path]) -> None:
    """A begjæring ELAN rejects prints every broken rule in the receipt and exits 1."""
    sb, cwd = served
    data = json.loads(REFERENCE.read_text(encoding="utf-8"))
    data["innsender"]["innsender"]["virksomhet"]["identifikator"]["taxIdentificationNumber"] = (
        "974761076"
    )
    (cwd / "b.json").write_text(json.dumps(data), encoding="utf-8")
    result = _cli("submit", "b.json", "--config", "creds/gateway.yaml", cwd=cwd)
    assert result.returncode == 1
    receipt = json.loads(result.stdout)
    assert receipt["utfall"] == "avvist"
    codes = {rule["kode"] for rule in receipt["vilkaar"]}
    assert "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING" in codes
    assert sb.admin.cases() == []


def test_token_with_invalid_configuration_exits_2(tmp_path: Path) -> None:
    """Without a client id the token command stops with exit 2 and names the setting."""
    (tmp_path / "c.yaml").write_text("environment: test\n", encoding="utf-8")
    result = _cli("token", "--config", "c.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "maskinporten.client_id" in result.stderr
