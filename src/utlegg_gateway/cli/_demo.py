"""`utlegg-gateway demo`: the whole gateway against the built-in sandbox, offline."""

from __future__ import annotations

from pathlib import Path

import click

from utlegg_gateway.cli._common import handle_errors


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to leave everything (default: ./demo-output/<timestamp>).",
)
@click.option(
    "--tenants",
    type=click.IntRange(0, 20),
    default=0,
    show_default=True,
    help="Vendor mode: file for this many customer organisations, one tenant each.",
)
@handle_errors
def demo(directory: Path | None, tenants: int) -> None:
    """Start a sandbox, drop the example exports, run the gateway, show what came out.

    Exit codes: 0 the demo ran (its one broken case is meant to be rejected); 2 cannot run
    (the [sandbox] extra or the shipped examples missing, --dir not empty).
    """
    from utlegg_gateway.demo import run_demo

    raise SystemExit(run_demo(directory, tenants=tenants))
