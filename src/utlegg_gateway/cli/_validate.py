"""`utlegg-gateway validate FILE.json`: local prøving of one begjæring."""

from __future__ import annotations

import click

from utlegg_gateway.cli._common import handle_errors


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@handle_errors
def validate(file: str) -> None:
    """Check one begjæring (JSON) against the model and the server's rules."""
    raise NotImplementedError
