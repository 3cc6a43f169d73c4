"""`utlegg-gateway followup`: one follow-up tick (due statuses, one Dialogporten cycle); cron."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from utlegg_gateway._logging import mask
from utlegg_gateway.cli._common import (
    config_option,
    handle_errors,
    load,
    log_level_option,
    setup_logging,
)
from utlegg_gateway.errors import EXIT_CASE_ERRORS

if TYPE_CHECKING:
    from utlegg_gateway.followup import FollowupReport


@click.command()
@config_option
@log_level_option
@handle_errors
def followup(config_path: Path | None, log_level: str) -> None:
    """Poll Status på sak for due cases and Dialogporten for letters, once; write the outbox.

    Exit codes: 0 the round completed; 1 some status or letter could not be fetched or
    written (tried again next round); 2 cannot run (configuration, credentials, journal).
    """
    from utlegg_gateway.followup import run_followup_once

    settings = load(config_path)
    setup_logging(log_level)
    report = run_followup_once(settings)
    if echo_report(report):
        sys.exit(EXIT_CASE_ERRORS)


def report_events(report: FollowupReport) -> list[dict[str, Any]]:
    """The round as JSON-line events (`once --followup` off a terminal): one per status
    change and per letter written, one per error."""
    events: list[dict[str, Any]] = [
        {
            "event": "status",
            "case": change.innsender_referanse,
            "saksstatus": change.saksstatus,
            "paths": [str(p) for p in change.files],
        }
        for change in report.status_changes
    ]
    events += [
        {
            "event": "letter",
            "case": letter.innsender_referanse,
            "kind": letter.kind,
            "paths": [str(p) for p in (letter.json_file, *letter.attachments, *letter.copies)],
        }
        for letter in report.letters
    ]
    # Masked as a log line is: an error's text may quote what ELAN answered.
    events += [{"event": "followup-error", "error": mask(error)} for error in report.errors]
    return events


def echo_report(report: FollowupReport) -> bool:
    """Print what a follow-up round wrote, one line each, then a count; True on errors."""
    for change in report.status_changes:
        click.echo(f"status  {change.innsender_referanse}: {change.saksstatus}  {change.files[0]}")
    for letter in report.letters:
        click.echo(
            f"letter  {letter.innsender_referanse or '?'}: {letter.kind}  {letter.json_file}"
        )
    click.echo(
        f"{len(report.status_changes)} status change(s), {len(report.letters)} letter(s), "
        f"{len(report.errors)} error(s)"
    )
    return bool(report.errors)
