"""The demo's follow-up act: advance the sandbox clock, poll, show status changes and letters.

Called by `utlegg-gateway demo` after its submissions, with the sandbox still running:
the demo client is made the system user of its own organisation (Dialogporten needs a
system user), the sandbox's rettebrev rule is pointed at the first accepted case (the
shipped examples have no reference ending in 7), statuses are polled once, the clock is
moved one hour and a bit, and one more tick fetches the new statuses and the rettebrev.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from utlegg_gateway.config import Settings, SystembrukerSettings
from utlegg_gateway.elan import build_client
from utlegg_gateway.errors import ConfigError
from utlegg_gateway.followup import FollowupReport, build_followup
from utlegg_gateway.journal import open_journal
from utlegg_gateway.journal.sqlite import CaseState

__all__ = [
    "ADVANCE_SECONDS",
    "collect_followup",
    "print_followup",
    "run_demo_followup",
    "show_followup",
]

# Past the sandbox's sakBesluttet (3600 s) and its rettebrev delay (3600 s).
ADVANCE_SECONDS = 3700.0


def _followup_settings(settings: Settings, sandbox: Any) -> Settings:
    org = settings.organisation or ""
    mp = settings.maskinporten.model_copy(update={"systembruker": SystembrukerSettings(org=org)})
    dp = settings.dialogporten.model_copy(
        update={"enabled": True, "base_url": sandbox.url + "/dialogporten"}
    )
    return settings.model_copy(update={"maskinporten": mp, "dialogporten": dp})


async def run_demo_followup(settings: Settings, sandbox: Any) -> FollowupReport:
    """Register the system user, poll, advance the sandbox clock, poll again; both ticks."""
    offset = 0.0

    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=offset)

    if not settings.maskinporten.client_id or not settings.organisation:
        raise ConfigError("the demo follow-up needs maskinporten.client_id and organisation")
    sandbox.admin.register_system_user(settings.maskinporten.client_id, settings.organisation)
    settings = _followup_settings(settings, sandbox)
    journal = open_journal(settings.journal, clock=clock)
    try:
        accepted = journal.cases_in_states(CaseState.ACCEPTED)
        if accepted:
            suffix = accepted[0].innsender_referanse[-1:]
            httpx.put(
                sandbox.url + "/_sandbox/dialogporten/options",
                json={"rettebrev_suffixes": [suffix]},
            ).raise_for_status()
        report = FollowupReport()
        async with (
            build_client(settings) as elan,
            build_followup(settings, journal, elan, clock=clock) as followup,
        ):
            first = await followup.tick()
            sandbox.admin.advance_clock(ADVANCE_SECONDS)
            offset += ADVANCE_SECONDS
            second = await followup.tick(force_letters=True)
        for part in (first, second):
            report.status_changes += part.status_changes
            report.letters += part.letters
            report.errors += part.errors
        return report
    finally:
        journal.close()


def collect_followup(settings: Settings, sandbox: Any) -> FollowupReport:
    """Run the follow-up act (blocking); the demo prints it with `print_followup`."""
    return asyncio.run(run_demo_followup(settings, sandbox))


def print_followup(console: Console, report: FollowupReport) -> None:
    """Print the status changes and letters the follow-up wrote to the outbox."""
    table = Table(
        title=f"Follow-up after the sandbox clock moved {ADVANCE_SECONDS / 3600:.1f} h: "
        "status changes and letters in the outbox"
    )
    for column in ("case", "what", "file"):
        table.add_column(column)
    for change in report.status_changes:
        before = f"{change.previous} → " if change.previous else ""
        table.add_row(
            change.innsender_referanse, f"{before}{change.saksstatus}", change.files[0].name
        )
    for letter in report.letters:
        files = ", ".join(p.name for p in (letter.json_file, *letter.attachments))
        table.add_row(letter.innsender_referanse or "?", letter.kind, files)
    console.print(table)
    for error in report.errors:
        console.print(f"[red]follow-up error[/red]: {error}")


def show_followup(console: Console, settings: Settings, sandbox: Any) -> FollowupReport:
    """Run the follow-up act and print it."""
    report = collect_followup(settings, sandbox)
    print_followup(console, report)
    return report
