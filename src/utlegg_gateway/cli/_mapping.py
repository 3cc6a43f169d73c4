"""`utlegg-gateway mapping …`: the toolchain for writing mappings (check, test, explain, init).

Each subcommand is a thin shell over one library function in `utlegg_gateway.mapping`.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import click

from utlegg_gateway.cli._common import config_option, handle_errors, load, model_version_option
from utlegg_gateway.errors import EXIT_CASE_ERRORS, EXIT_OK


@click.group("mapping")
def mapping() -> None:
    """Write and test mappings: check, test, explain, init, schema."""


@mapping.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sample",
    "samples",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A sample export to run the mapping over (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per problem.")
@model_version_option
@config_option
@handle_errors
def check(
    file: Path,
    samples: tuple[Path, ...],
    as_json: bool,
    model_version: str | None,
    config_path: Path | None,
) -> None:
    """Check the mapping FILE against the target model: every problem, with line:column.

    Unknown target fields (with did-you-mean), required fields no branch fills, constants
    outside their code list (listing the valid values), type mismatches, XPaths that can
    never match. Exit 0 when there is no error (warnings allowed), 1 when there is one,
    2 when FILE cannot be read.
    """
    from utlegg_gateway.mapping.check import check_mapping

    settings = load(config_path, model_version=model_version)
    report = check_mapping(file, settings.model_version, samples)
    for problem in report.problems:
        click.echo(json.dumps(problem.to_json()) if as_json else problem.describe())
    for run in report.samples:
        click.echo(f"sample {run.path}: {run.cases} case(s), {run.failed} with issues", err=True)
    summary = (
        f"{file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        f" (model {report.version})"
    )
    click.echo(summary, err=True)
    sys.exit(EXIT_CASE_ERRORS if report.errors else EXIT_OK)


@mapping.command("test")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mapping_name",
    default=None,
    help="Mapping name or path for every export; default: by the file-name patterns.",
)
@click.option("--update", is_flag=True, help="Write the expected files (after review).")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day prøving runs on (YYYY-MM-DD; default: today), for tests that must not age.",
)
@model_version_option
@config_option
@handle_errors
def test(  # noqa: PLR0917 - click passes every option positionally-by-name
    folder: Path,
    mapping_name: str | None,
    update: bool,
    today: datetime | None,
    model_version: str | None,
    config_path: Path | None,
) -> None:
    """Map the sample exports in FOLDER and compare each case with FOLDER/expected/EXPORT/CASE.json.

    Prints each case as PASS, FAIL (with one line per differing field: its JSON pointer,
    the expected and the actual value), NEW (no expected file yet) or GONE (expected, but
    no longer in the export). Exit 0 when every case passes, 1 otherwise; with --update the
    expected files are written from what the mapping makes now, exit 0.
    """
    from utlegg_gateway.mapping.golden import run_golden

    settings = load(config_path, model_version=model_version)
    day = today.date() if today else date.today()
    report = run_golden(
        folder,
        settings.runner.mapping_dirs,
        settings.model_version,
        day,
        mapping=mapping_name,
        update=update,
    )
    for case in report.cases:
        click.echo(f"{case.status.upper():7} {case.export} {case.case}")
        for line in case.diffs:
            click.echo(f"        {line}")
    for name in report.skipped:
        click.echo(f"skipped {name}: no mapping claims it", err=True)
    passed = sum(c.status == "pass" for c in report.cases)
    click.echo(
        f"{folder}: {len(report.cases)} case(s), {passed} passed, {len(report.failed)} failed",
        err=True,
    )
    sys.exit(EXIT_CASE_ERRORS if report.failed else EXIT_OK)


@mapping.command("explain")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--case", "case", required=True, help="The case key (or innsenderReferanse).")
@click.option(
    "--mapping",
    "mapping_name",
    default=None,
    help="Mapping name (mappings/NAME.yaml) or path; default: by the file-name patterns.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per field.")
@config_option
@handle_errors
def explain(
    file: Path, case: str, mapping_name: str | None, as_json: bool, config_path: Path | None
) -> None:
    """For one case of the export FILE: each target field and where it came from.

    One line per value: its JSON pointer, the value, the source row or element, the column
    or XPath, and the transform chain (or: a constant, or the default of an empty value).
    The case's mapping issues follow. Exit 0, or 2 when the case is not in FILE.
    """
    from utlegg_gateway._shipped import mapping_search_dirs
    from utlegg_gateway.mapping import resolve_mapping
    from utlegg_gateway.mapping.explain import explain_case

    settings = load(config_path)
    dirs = mapping_search_dirs(settings.runner.mapping_dirs)
    spec = resolve_mapping(mapping_name, file, dirs, version=settings.model_version)
    result = explain_case(file, spec, case)
    if not as_json:
        click.echo(f"case {result.key} ({result.source}), mapping {spec.name}")
    for origin in result.fields:
        click.echo(
            json.dumps(origin.to_json(), ensure_ascii=False) if as_json else origin.describe()
        )
    for issue in result.issues:
        click.echo(f"issue: {issue.code}  {issue.location or '/'}  {issue.message}")
    sys.exit(EXIT_OK)


@mapping.command("init")
@click.argument("sample", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--layout",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Fixed-width: a layout file, NAME;START;LENGTH (or NAME;START-END) per line.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the mapping here (default: stdout); an existing file is not overwritten.",
)
@model_version_option
@config_option
@handle_errors
def init(
    sample: Path,
    layout: Path | None,
    out: Path | None,
    model_version: str | None,
    config_path: Path | None,
) -> None:
    """Write a starting mapping for exports like SAMPLE (CSV, fixed-width or XML).

    Every source column (XML: element and attribute) is listed with its first value, the
    encoding and the CSV delimiter are detected, and the template holds the target fields
    the model requires as TODOs. A fixed-width SAMPLE needs a column ruler as its first
    line (`----+----1----+----2`) or --layout. Exit 0, or 2 when SAMPLE cannot be read.
    """
    from utlegg_gateway.errors import UsageError
    from utlegg_gateway.mapping.init import init_mapping

    settings = load(config_path, model_version=model_version)
    text = init_mapping(sample, settings.model_version, layout)
    if out is None:
        click.echo(text, nl=False)
        sys.exit(EXIT_OK)
    if out.exists():
        raise UsageError(f"{out} exists; not overwritten", file=str(out))
    out.write_text(text, encoding="utf-8")
    click.echo(
        f"wrote {out}: fill in the TODOs, then `utlegg-gateway mapping check {out}`", err=True
    )
    sys.exit(EXIT_OK)


@mapping.command("schema")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema to this file (default: stdout).",
)
@handle_errors
def schema(out: Path | None) -> None:
    """The JSON Schema of mapping files, for editors.

    Reference it from a mapping's first line, `# yaml-language-server: $schema=PATH`, and
    an editor with the YAML language server completes keys and target field names and
    flags typos as you type. Exit 0.
    """
    from utlegg_gateway.errors import UsageError
    from utlegg_gateway.mapping.schema import SCHEMA_FILE

    text = SCHEMA_FILE.read_text(encoding="utf-8")
    if out is None:
        click.echo(text, nl=False)
        sys.exit(EXIT_OK)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}", file=str(out)) from exc
    sys.exit(EXIT_OK)
