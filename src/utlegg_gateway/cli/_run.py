"""`utlegg-gateway once` (cron) and `utlegg-gateway run` (daemon)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, handle_errors, load


def _logging(level: str) -> None:
    from utlegg_gateway._logging import configure_logging

    # JSON lines for machines (cron mail, journald, docker logs); masked either way.
    configure_logging(json_lines=not sys.stderr.isatty(), level=level)


@click.command()
@config_option
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING, ERROR.")
@handle_errors
def once(config_path: Path | None, log_level: str) -> None:
    """Process what is in the inboxes now, wait for its cases, exit.

    Exit 0 when every case was accepted, 1 when some case was rejected or failed,
    2 on configuration errors, 3 when another run holds the lock.
    """
    from utlegg_gateway.gateway.runner import RichProgress, run_once

    settings = load(config_path)
    _logging(log_level)
    if sys.stderr.isatty():
        with RichProgress() as progress:
            report = run_once(settings, progress=progress)
    else:
        report = run_once(settings)
    sys.exit(report.exit_code)


@click.command()
@config_option
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING, ERROR.")
@handle_errors
def run(config_path: Path | None, log_level: str) -> None:
    """Run as a daemon: SIGTERM finishes calls in flight, exits 0; SIGHUP reloads mappings."""
    from utlegg_gateway.gateway.runner import run_daemon

    settings = load(config_path)
    _logging(log_level)
    sys.exit(run_daemon(settings))
