"""`utlegg-gateway status`: the journal's view (files and cases by state, oldest waiting)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, handle_errors, load


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--tenant", default=None, help="Vendor mode: only this tenant's files and cases.")
@handle_errors
def status(config_path: Path | None, as_json: bool, tenant: str | None) -> None:
    """Show files and cases by state and the age of the oldest waiting file.

    Read-only: never creates or changes the journal. In vendor mode every tenant is
    shown, with a breakdown by tenant, unless --tenant names one. Exit codes: 0 shown;
    2 cannot run (configuration, an unknown tenant, or no journal at the configured path).
    """
    from utlegg_gateway.operations import journal_status

    summary = journal_status(load(config_path), tenant=tenant)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    from utlegg_gateway.operations import render_status

    Console().print(render_status(summary))
