"""`utlegg-gateway once` (cron) and `utlegg-gateway run` (daemon)."""

from __future__ import annotations

import json
import sys
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
@config_option
@log_level_option
@click.option(
    "--followup",
    "with_followup",
    is_flag=True,
    help="Then one status and letters round, as `utlegg-gateway followup` (nightly cron).",
)
@handle_errors
def once(config_path: Path | None, log_level: str, with_followup: bool) -> None:
    """Process what is in the inboxes now, wait for its cases, exit.

    With --followup, one status and letters round follows under the same lock; a status
    or letter it could not fetch or write makes the exit code 1.

    Exit codes: 0 every case accepted (or already in); 1 some case rejected or failed, or
    a file unreadable; 2 cannot run (configuration, credentials, mapping, no inbox folder
    there at all); 3 another run holds the lock.
    """
    from utlegg_gateway.gateway.progress import (
        JsonLinesProgress,
        ProgressTee,
        TerminalProgress,
        print_summary,
        summarise,
        summary_line,
    )
    from utlegg_gateway.gateway.runner import run_once

    settings = load(config_path)
    # stderr on a terminal: a live display with the logs above it and a summary table.
    # stdout off a terminal (cron, a pipe): JSON lines, one per file and per receipt, and
    # a summary line last. Both at once for `once | tee`.
    json_out = None if sys.stdout.isatty() else JsonLinesProgress(sys.stdout)
    if sys.stderr.isatty():
        terminal = TerminalProgress()
        setup_logging(log_level, console=terminal)
        sinks = [terminal] if json_out is None else [terminal, json_out]
        with terminal:
            report = run_once(settings, progress=ProgressTee(*sinks), followup=with_followup)
    else:
        terminal = None
        setup_logging(log_level)
        report = run_once(settings, progress=json_out, followup=with_followup)
    counted = None
    if report.followup is not None:
        from utlegg_gateway.cli._followup import echo_report, report_events

        round_ = report.followup
        if json_out is None:
            echo_report(round_)
        else:
            for event in report_events(round_):
                click.echo(json.dumps(event, ensure_ascii=False))
        counted = {
            "status_changes": len(round_.status_changes),
            "letters": len(round_.letters),
            "errors": len(round_.errors),
        }
    summary = summarise(
        report.outcomes,
        exit_code=report.exit_code,
        outbox=settings.folders.outbox,
        failed=settings.folders.failed,
        followup=counted,
    )
    if terminal is not None:
        print_summary(terminal.console, summary)
    if json_out is not None:
        click.echo(summary_line(summary))
    sys.exit(report.exit_code)


@click.command()
@config_option
@log_level_option
@handle_errors
def run(config_path: Path | None, log_level: str) -> None:
    """Run as a daemon: SIGTERM finishes calls in flight, exits 0; SIGHUP reloads mappings.

    Exit codes: 0 stopped by SIGTERM/SIGINT after finishing the calls in flight; 2 cannot
    start (configuration, credentials, mapping, journal); 3 another run holds the lock.
    """
    from utlegg_gateway.gateway.runner import run_daemon

    settings = load(config_path)
    setup_logging(log_level)
    sys.exit(run_daemon(settings))
