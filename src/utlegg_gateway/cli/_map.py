"""`utlegg-gateway map FILE`: map a legacy export to begjæringer, one JSON line per case."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, environment_option, handle_errors, load
from utlegg_gateway.config import MAX_MAPPING_WORKERS
from utlegg_gateway.errors import EXIT_CASE_ERRORS, EXIT_OK, InputFileError, SourceError
from utlegg_gateway.mapping._parallel import Workers


@click.command("map")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mapping_name",
    default=None,
    help="Mapping name (mappings/NAME.yaml) or path; default: by the file-name patterns.",
)
@click.option(
    "--workers",
    default=None,
    metavar="N|auto",
    help="Processes that map the file, in file order; default: runner.mapping_workers "
    "(auto: every core for a file of 8 MB or more).",
)
@environment_option
@config_option
@handle_errors
def map_command(
    file: Path,
    mapping_name: str | None,
    workers: str | None,
    environment: str | None,
    config_path: Path | None,
) -> None:
    """Map FILE (CSV or XML export) and validate each case; JSON Lines on stdout.

    Exit 0 when every case is ok, 1 when some case failed, 2 when the file or the mapping
    cannot be read.
    """
    from utlegg_gateway._shipped import mapping_search_dirs
    from utlegg_gateway.mapping import map_file, resolve_mapping, workers_for
    from utlegg_gateway.provning import ProvingContext

    settings = load(config_path, environment=environment)
    if not file.is_file():
        raise InputFileError(f"cannot read {file}: no such file", file=str(file))
    setting = settings.runner.mapping_workers if workers is None else _workers(workers)
    # The configured folders, then the shipped mappings.
    dirs = mapping_search_dirs(settings.runner.mapping_dirs)
    # The same check as `mapping check` (and the gateway): a mapping with errors never runs.
    spec = resolve_mapping(mapping_name, file, dirs, version=settings.model_version)
    if spec.warnings:
        # One line, not one per warning: deprecations would otherwise drown the output.
        click.echo(
            f"note: mapping {spec.name}: {len(spec.warnings)} warning(s) under model "
            f"{settings.model_version}; `utlegg-gateway mapping check {spec.path}` lists them",
            err=True,
        )
    ctx = ProvingContext(
        today=date.today(), version=settings.model_version, environment=settings.environment
    )
    failed = False
    count = 0
    results = map_file(file, spec, ctx, workers=workers_for(file, setting))
    for count, result in enumerate(results, start=1):  # noqa: B007  (count is read after the loop)
        line: dict[str, object] = {"case": result.innsender_referanse or result.key}
        line["ok"] = result.ok
        if result.ok:
            line["begjaering"] = result.begjaering
        else:
            failed = True
            line["errors"] = [issue.to_json() for issue in result.errors]
        click.echo(json.dumps(line, ensure_ascii=False))
    if count == 0:
        # Records in another namespace, a renamed element or a wrong delimiter once gave
        # "0 cases, exit 0": as in the gateway, a file without a case is an error.
        raise SourceError(
            f"the mapping {spec.name!r} found no case in {file}",
            file=str(file),
            hint="check the record element and its namespace, the delimiter and the header "
            "(`utlegg-gateway mapping check MAPPING --sample FILE`)",
        )
    sys.exit(EXIT_CASE_ERRORS if failed else EXIT_OK)


def _workers(text: str) -> Workers:
    if text == "auto":
        return "auto"
    if text.isdigit() and 1 <= int(text) <= MAX_MAPPING_WORKERS:
        return int(text)
    raise click.BadParameter(
        f"{text!r}: a number from 1 to {MAX_MAPPING_WORKERS}, or auto", param_hint="--workers"
    )
