"""`utlegg-gateway sandbox`: run the local ELAN + Maskinporten emulator; `sandbox init DIR`."""

from __future__ import annotations

from pathlib import Path

import click

from utlegg_gateway.cli._common import handle_errors
from utlegg_gateway.model import DEFAULT_MODEL_VERSION, SPECS


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8900, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file that keeps the sandbox's state across restarts (default: in memory).",
)
@click.option(
    "--registry",
    "registries",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Client registration file, or a folder of registration*.json (from `sandbox init`).",
)
@click.option(
    "--model-version",
    type=click.Choice(sorted(SPECS)),
    default=DEFAULT_MODEL_VERSION,
    show_default=True,
)
@click.option(
    "--scanning-seconds",
    type=float,
    default=2.0,
    show_default=True,
    help="How long an uploaded attachment stays 'scanning'.",
)
@click.option(
    "--strict",
    is_flag=True,
    help=(
        "Send and demand only what Skatteetaten publishes: a 422 with plain"
        " kontrollutslag[{kode, melding, beskrivelse}] (no lokasjon, no eksternSaksreferanse"
        " on DUPLIKAT_INNSENDING), Klientid and Meldingsid headers required, an empty body"
        " on a change, HTTP 500 (not 503) for XXX-002. Off: the richer lenient answers."
    ),
)
@click.option(
    "--no-attachment-status",
    is_flag=True,
    help=(
        "Answer the unpublished GET /vedlegg/{uuid} with 404 XXX-003, so a client must"
        " learn attachment readiness from valider (elan.attachment_readiness)."
    ),
)
@click.option(
    "--no-upload-status",
    is_flag=True,
    help="Upload replies carry only the uuid, no 'status'.",
)
@click.option(
    "--no-published-test-parties",
    is_flag=True,
    help=(
        "Do not put Skatteetaten's published old-rules test parties (~100 persons, ~100"
        " organisations) on the old rules."
    ),
)
@click.option(
    "--old-rules-debtor",
    "old_rules",
    multiple=True,
    help="A debtor identifier on the old rules (SAKSOEKT_GAMMELT_REGELVERK).",
)
@click.pass_context
@handle_errors
def sandbox(  # noqa: PLR0917 - click passes every option positionally-by-name
    ctx: click.Context,
    host: str,
    port: int,
    state: Path | None,
    registries: tuple[Path, ...],
    model_version: str,
    scanning_seconds: float,
    old_rules: tuple[str, ...],
    strict: bool,
    no_attachment_status: bool,
    no_upload_status: bool,
    no_published_test_parties: bool,
) -> None:
    """Serve the sandbox until Ctrl-C / SIGTERM. Prints the URLs it serves.

    Exit codes: 0 stopped by Ctrl-C / SIGTERM; 2 cannot run (the [sandbox] extra missing,
    the port taken).
    """
    if ctx.invoked_subcommand is not None:
        return
    from utlegg_gateway.sandbox import SandboxOptions, serve

    options = SandboxOptions(
        model_version=model_version,
        scanning_seconds=scanning_seconds,
        state_file=state,
        registries=registries,
        old_rules_debtors=old_rules,
        strict=strict,
        attachment_status_endpoint=not no_attachment_status,
        upload_reply_status=not no_upload_status,
        published_old_rules_parties=not no_published_test_parties,
    )

    def ready(url: str) -> None:
        click.echo(f"sandbox listening on {url}")
        click.echo(f"  maskinporten issuer: {url}/")
        click.echo(f"  token endpoint:      {url}/token")
        click.echo(f"  elan base url:       {url}/api/utleggsbegjaering/v2")
        click.echo(f"  admin api:           {url}/_sandbox")
        click.echo(f"  model version:       {model_version}", nl=True)
        click.echo(f"  mode:                {'strict' if strict else 'lenient'}")

    serve(options, host=host, port=port, on_ready=ready)


@sandbox.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--url",
    default="http://127.0.0.1:8900",
    show_default=True,
    help="Where gateway.yaml expects the sandbox.",
)
@click.option(
    "--orgnr",
    default="312597772",
    show_default=True,
    help="The organisation the client certificate is issued to.",
)
@click.option(
    "--systemuser-org",
    "systemuser_orgs",
    multiple=True,
    help="An organisation whose system user this client may act as.",
)
@click.option(
    "--client-id",
    default=None,
    help="The Maskinporten client_id to register (default: sandbox-ORGNR-<random>); a "
    "fixed one lets a prepared config (compose.yaml) name it.",
)
@click.option("--force", is_flag=True, help="Replace credentials already in DIRECTORY.")
@handle_errors
def init(  # noqa: PLR0917 - click passes every option positionally-by-name
    directory: Path,
    url: str,
    orgnr: str,
    systemuser_orgs: tuple[str, ...],
    client_id: str | None,
    force: bool,
) -> None:
    """Write a test CA, client certificate (PKCS#12 + password), registration, gateway.yaml.

    Exit codes: 0 written; 2 credentials already there (without --force) or not writable.
    """
    from utlegg_gateway.sandbox.init import init_directory

    result = init_directory(
        directory,
        url=url,
        orgnr=orgnr,
        systemuser_orgs=systemuser_orgs,
        force=force,
        client_id=client_id,
    )
    creds = result.credentials
    click.echo(f"wrote sandbox credentials to {directory}")
    click.echo(f"  client_id:     {creds.client_id} (orgnr {creds.orgnr})")
    click.echo(f"  certificate:   {creds.pkcs12_file} (password in {creds.password_file})")
    click.echo(f"  key + kid:     {creds.key_file} ({creds.kid})")
    click.echo(f"  registration:  {creds.registration_file}")
    click.echo(f"  gateway config: {result.config_file}")
    click.echo(f"next: utlegg-gateway sandbox --registry {directory}")
