"""`utlegg-gateway replay NAME`: re-queue a failed file after its cause is fixed."""

from __future__ import annotations

from pathlib import Path

import click

from utlegg_gateway.cli._common import (
    config_option,
    handle_errors,
    load,
    log_level_option,
    setup_logging,
)


@click.command()
@click.argument("name")
@config_option
@log_level_option
@handle_errors
def replay(name: str, config_path: Path | None, log_level: str) -> None:
    """Move failed file NAME back into its inbox so the next scan takes it again.

    Exit codes: 0 re-queued; 2 no such failed file, it is gone from failed/, its inbox is
    not configured, or a file of that name is already in the inbox (configuration and
    journal errors too).
    """
    from utlegg_gateway.operations import replay_file

    settings = load(config_path)
    setup_logging(log_level)
    target = replay_file(settings, name)
    click.echo(f"re-queued {name} -> {target}")
