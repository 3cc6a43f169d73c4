"""`utlegg-gateway schemas --out DIR`: the outbox's schemas, for an integrator."""

from __future__ import annotations

from pathlib import Path

import click

from utlegg_gateway.cli._common import handle_errors


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the schema files into (created if missing).",
)
@handle_errors
def schemas(out: Path) -> None:
    """Write the JSON Schemas, XSDs and CSV column specs of every outbox file.

    See docs/outbox.md for what each describes and the versioning policy.
    Exit codes: 0 written; 2 the folder cannot be written.
    """
    from utlegg_gateway.schemas import write_schemas

    for path in write_schemas(out):
        click.echo(str(path))
