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
from utlegg_gateway.sandbox.options import SandboxOptions


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
    # The written config names the model explicitly, the same the sandbox starts with.
    assert "model_version: '2.1'" in (creds / "gateway.yaml").read_text(encoding="utf-8")
    assert settings.model_version == SandboxOptions().model_version == "2.1"
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


# Without the `[sandbox]` extra: a fresh venv per test would cost a minute, so the
# subprocess hides the libraries instead (sys.modules[name] = None makes import fail).
_HIDE = "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None;"


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_without_the_sandbox_extra_the_commands_say_how_to_install_it(
    command: str, tmp_path: Path
) -> None:
    """`sandbox` and `demo` exit 2 with the pip command, no traceback, and leave nothing."""
    done = subprocess.run(
        [sys.executable, "-c", _HIDE + f"from utlegg_gateway.cli import main; main([{command!r}])"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "[sandbox-not-installed]" in done.stderr
    assert "pip install 'utlegg-gateway[sandbox]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_gateway_itself_needs_no_sandbox_libraries() -> None:
    """Every module outside sandbox/ imports with starlette and uvicorn absent."""
    import utlegg_gateway

    root = Path(utlegg_gateway.__file__).parent
    modules = sorted(
        "utlegg_gateway." + ".".join(p.relative_to(root).with_suffix("").parts)
        for p in root.rglob("*.py")
        if "sandbox" not in p.relative_to(root).parts and p.name != "__main__.py"
    )
    code = (
        _HIDE
        + "import importlib;"
        + "".join(f"importlib.import_module({m.removesuffix('.__init__')!r});" for m in modules)
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert len(modules) > 40
