"""`sandbox init DIR`: credentials, a registration and a ready gateway.yaml in one go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from utlegg_gateway.errors import UsageError
from utlegg_gateway.model import DEFAULT_MODEL_VERSION
from utlegg_gateway.sandbox.certs import Credentials, write_credentials
from utlegg_gateway.sandbox.elan import ELAN_BASE_PATH

__all__ = ["DEFAULT_URL", "InitResult", "init_directory"]

DEFAULT_URL = "http://127.0.0.1:8900"


@dataclass(frozen=True)
class InitResult:
    """What `init_directory` wrote."""

    credentials: Credentials
    config_file: Path


def gateway_config(credentials: Credentials, url: str, directory: Path) -> dict[str, object]:
    """Settings (config.py keys) pointing the gateway at a sandbox with these credentials."""
    url = url.rstrip("/")
    return {
        "environment": "test",
        "model_version": DEFAULT_MODEL_VERSION,
        "organisation": credentials.orgnr,
        "maskinporten": {
            "client_id": credentials.client_id,
            "issuer": url + "/",
            "token_endpoint": url + "/token",
            "pkcs12_file": credentials.pkcs12_file.relative_to(directory).as_posix(),
            "pkcs12_password": {
                "file": credentials.password_file.relative_to(directory).as_posix()
            },
        },
        "elan": {"base_url": url + ELAN_BASE_PATH},
    }


def init_directory(
    directory: Path,
    *,
    url: str = DEFAULT_URL,
    orgnr: str = "312597772",
    systemuser_orgs: tuple[str, ...] = (),
    force: bool = False,
    client_id: str | None = None,
) -> InitResult:
    """Write credentials + registration + `gateway.yaml` into `directory`."""
    config_file = directory / "gateway.yaml"
    if not force and (config_file.exists() or (directory / "registration.json").exists()):
        raise UsageError(
            f"{directory} already holds sandbox credentials",
            file=str(directory),
            hint="use --force to replace them, or choose another folder",
        )
    credentials = write_credentials(
        directory, orgnr=orgnr, systemuser_orgs=systemuser_orgs, client_id=client_id
    )
    header = (
        "# Written by `utlegg-gateway sandbox init`: the gateway against a local sandbox.\n"
        f"# Start the sandbox with: utlegg-gateway sandbox --port {url.rsplit(':', 1)[-1]} "
        f"--registry {directory}\n"
    )
    body = yaml.safe_dump(
        gateway_config(credentials, url, directory), sort_keys=False, allow_unicode=True
    )
    config_file.write_text(header + body, encoding="utf-8")
    return InitResult(credentials=credentials, config_file=config_file)
