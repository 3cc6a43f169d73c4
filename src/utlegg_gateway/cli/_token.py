"""`utlegg-gateway token`: fetch a Maskinporten token and say what it is for (never the token)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, environment_option, handle_errors, load


@click.command()
@config_option
@environment_option
@handle_errors
def token(config_path: Path | None, environment: str | None) -> None:
    """Fetch a token: prints environment, scope, organisation and expiry as JSON.

    Exit codes: 0 a token was had; 1 Maskinporten refused or could not be reached;
    2 cannot run (configuration, credentials).
    """
    from utlegg_gateway.elan.submit import token_report

    settings = load(config_path, environment=environment)
    click.echo(json.dumps(token_report(settings), indent=2, ensure_ascii=False))
