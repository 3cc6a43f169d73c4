"""The command line as a user runs it: `sandbox init DIR`, then `sandbox` until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox._client import HTTP, post_grant
from utlegg_gateway.config import load_settings
from utlegg_gateway.errors import UsageError
from utlegg_gateway.sandbox import Credentials, build_grant
from utlegg_gateway.sandbox.init import init_directory


def _init(directory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "utlegg_gateway", "sandbox", "init", str(directory), *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _credentials(directory: Path, client_id: str) -> Credentials:
    return Credentials(
        client_id=client_id,
        orgnr="312597772",
        pkcs12_file=directory / "client.p12",
        password_file=directory / "client.p12.password",
        key_file=directory / "client-key.pem",
        kid="",
        cert_pem_file=directory / "client-cert.pem",
        ca_file=directory / "ca.pem",
        registration_file=directory / "registration.json",
    )


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `sandbox init` per module (a subprocess and three RSA keys)."""
    creds = tmp_path_factory.mktemp("cli") / "creds"
    result = _init(creds, "--url", "http://127.0.0.1:8911")
    assert result.returncode == 0, result.stderr
    assert f"next: utlegg-gateway sandbox --registry {creds}" in result.stdout
    return creds


def test_init_writes_working_credentials_and_config(initialised: Path) -> None:
    """init writes private files 0600 and a gateway.yaml the settings loader accepts."""
    creds = initialised
    for name in ("client.p12", "client.p12.password", "client-key.pem"):
        assert (creds / name).stat().st_mode & 0o777 == 0o600
    settings = load_settings(creds / "gateway.yaml")
    assert settings.maskinporten.issuer == "http://127.0.0.1:8911/"
    assert settings.maskinporten.pkcs12_file == creds / "client.p12"
    assert settings.elan.base_url == "http://127.0.0.1:8911/api/utleggsbegjaering/v2"
    assert settings.organisation == "312597772"
    # A second init into the same folder refuses (in-process: a subprocess costs seconds).
    with pytest.raises(UsageError) as refused:
        init_directory(creds)
    assert refused.value.exit_code == 2
    assert "--force" in str(refused.value)


def test_serve_until_sigterm(initialised: Path, tmp_path: Path) -> None:
    """`sandbox --port 0 --registry DIR` prints its URL, issues tokens, and stops on SIGTERM."""
    settings = load_settings(initialised / "gateway.yaml")
    assert settings.maskinporten.client_id is not None
    creds = _credentials(initialised, settings.maskinporten.client_id)
    state = tmp_path / "state.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "utlegg_gateway",
            "sandbox",
            "--port",
            "0",
            "--registry",
            str(initialised),
            "--state",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the sandbox has bound its port
        if not first:  # it died: show why
            assert proc.stderr is not None
            raise AssertionError(proc.stderr.read())
        assert first.startswith("sandbox listening on http://127.0.0.1:"), first
        url = first.split()[-1]
        issuer = HTTP.get(url + "/.well-known/oauth-authorization-server").json()["issuer"]
        assert issuer == url + "/"

        class _Sb:
            token_endpoint = url + "/token"

        response = post_grant(_Sb, build_grant(creds, issuer))
        assert response.status_code == 200, response.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert state.exists()
