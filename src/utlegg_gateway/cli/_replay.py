"""`utlegg-gateway replay NAME`: re-queue a failed file after its cause is fixed."""

from __future__ import annotations

from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, handle_errors, load


@click.command()
@click.argument("name")
@config_option
@handle_errors
def replay(name: str, config_path: Path | None) -> None:
    """Move failed file NAME back into its inbox so the next scan takes it again."""
    from utlegg_gateway.operations import replay_file

    target = replay_file(load(config_path), name)
    click.echo(f"re-queued {name} -> {target}")
