"""`utlegg-gateway submit FILE.json [--attachments DIR]`: upload, wait until ready, submit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, environment_option, handle_errors, load
from utlegg_gateway.errors import EXIT_CASE_ERRORS


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--attachments",
    "attachments_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the files the begjæring names (by filnavn, e.g. vedlegg -> vedlegg.pdf).",
)
@config_option
@environment_option
@handle_errors
def submit(
    file: Path, attachments_dir: Path | None, config_path: Path | None, environment: str | None
) -> None:
    """Submit one begjæring to ELAN and print the receipt (JSON).

    Exit codes: 0 accepted (or already in); 1 rejected or failed; 2 cannot run
    (configuration, credentials, FILE unreadable).
    """
    from utlegg_gateway.elan.submit import submit_file

    settings = load(config_path, environment=environment)
    receipt = submit_file(settings, file, attachments_dir=attachments_dir)
    click.echo(json.dumps(receipt.to_dict(), indent=2, ensure_ascii=False))
    if not receipt.accepted:
        sys.exit(EXIT_CASE_ERRORS)
