"""`utlegg-gateway validate FILE.json`: local prøving of one begjæring."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from utlegg_gateway import provning
from utlegg_gateway.cli._common import (
    config_option,
    environment_option,
    handle_errors,
    load,
    model_version_option,
)
from utlegg_gateway.errors import EXIT_CASE_ERRORS, EXIT_OK
from utlegg_gateway.provning import ProvingContext, format_finding


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
@environment_option
@model_version_option
@click.option(
    "--allow-upload-placeholders",
    is_flag=True,
    help='Accept "<upload:FILE>" as a Vedlegg uuid (a payload built before its uploads).',
)
@handle_errors
def validate(
    file: Path,
    config_path: Path | None,
    environment: str | None,
    model_version: str | None,
    allow_upload_placeholders: bool,
) -> None:
    """Check one begjæring (JSON), or every case of what `map` wrote (JSON Lines).

    Prints one line per finding (rule, JSON pointer, message), then one "warning:" line
    per deprecated field the model version still accepts. For `map` output each line is
    prefixed by its case, the attachments' uuids count as uploads still to come, and a
    case `map` could not build counts as a finding. Exit 0 when clean (warnings allowed),
    1 when it found errors, 2 when the file or the configuration cannot be read.
    """
    import dataclasses

    settings = load(config_path, environment=environment, model_version=model_version)
    ctx = ProvingContext(
        today=date.today(),
        version=settings.model_version,
        environment=settings.environment,
        authenticated_orgnr=settings.organisation,
        allow_upload_placeholders=allow_upload_placeholders,
    )
    total = 0
    for doc in provning.load_documents(file):
        prefix = f"{doc.case}: " if doc.case is not None else ""
        if doc.payload is None:
            click.echo(f"{prefix}not built by map ({doc.map_errors} error(s)); see its errors")
            total += 1
            continue
        case_ctx = (
            dataclasses.replace(ctx, allow_upload_placeholders=True) if doc.placeholders else ctx
        )
        findings = provning.validate(doc.payload, case_ctx)
        total += len(findings)
        for finding in findings:
            click.echo(prefix + format_finding(finding))
        # Deprecated fields are accepted: shown, but they do not change the exit code.
        for warning in provning.deprecations(doc.payload, case_ctx):
            click.echo(f"{prefix}warning: {format_finding(warning)}")
    where = f"model {settings.model_version}, environment {settings.environment}"
    if total:
        click.echo(f"{file}: {total} finding(s) ({where})")
        sys.exit(EXIT_CASE_ERRORS)
    click.echo(f"{file}: OK ({where})")
    sys.exit(EXIT_OK)
