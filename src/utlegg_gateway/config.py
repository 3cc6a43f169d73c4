"""Typed settings: YAML file + environment overrides, validated once at start.

The `Settings` object is built once by the CLI (`load_settings`) and passed down; no
module reads configuration or the environment on its own.

Environment overrides use `UTLEGG_GATEWAY__` plus the path in upper case, joined by
double underscores: `UTLEGG_GATEWAY__ENVIRONMENT=prod`,
`UTLEGG_GATEWAY__ELAN__MAX_CONCURRENCY=3`. Values are parsed as YAML scalars.

Secrets never live in the YAML: a secret field is given as `*_file` (a path) or
`*_env` (the name of an environment variable), and `Secret.read()` fetches it when needed.
Relative paths are resolved against the folder of the configuration file.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.parse
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from utlegg_gateway.errors import ConfigError
from utlegg_gateway.model._versions import DEFAULT_MODEL_VERSION, ModelVersion, known_version

__all__ = [
    "ENV_PREFIX",
    "TENANT_KEYS",
    "ConfigPath",
    "CorrectionsSettings",
    "DialogportenSettings",
    "ElanHeaders",
    "ElanPaths",
    "ElanSettings",
    "Environment",
    "FolderSettings",
    "FollowupSettings",
    "HealthSettings",
    "InboxSettings",
    "JournalSettings",
    "MaskinportenSettings",
    "ModelVersion",
    "ObserverKind",
    "ReadinessSettings",
    "ReceiptFormat",
    "RetrySettings",
    "RoutingSettings",
    "RunnerSettings",
    "Secret",
    "Settings",
    "StatusPollStep",
    "SystembrukerSettings",
    "load_settings",
]

Environment = Literal["test", "prod"]
# More mapping processes than this only add start-up time and memory on any machine we run.
MAX_MAPPING_WORKERS = 64

ENV_PREFIX = "UTLEGG_GATEWAY__"
DEFAULT_ENVIRONMENT: Environment = "test"


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    value = value.expanduser()
    if value.is_absolute() or base is None:
        return value
    return Path(base) / value


# A path in the configuration: relative paths are taken from the config file's folder.
ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]


class _Section(BaseModel):
    """Base of every settings section: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(_Section):
    """A secret given by file path or environment variable name, never inline."""

    file: ConfigPath | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Secret:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of 'file' (a path) or 'env' (a variable name)")
        return self

    def read(self) -> str:
        """Fetch the secret now; raises ConfigError naming where it looked."""
        if self.file is not None:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read secret file {self.file}: {exc.strerror}") from exc
        assert self.env is not None
        value = os.environ.get(self.env)
        if value is None:
            raise ConfigError(f"environment variable {self.env} (a secret) is not set")
        return value


ReceiptFormat = Literal["json", "csv", "xml"]
ObserverKind = Literal["native", "polling", "none"]


_JOURNAL_PATH = Path("state/journal.sqlite3")


class JournalSettings(_Section):
    """The journal: an SQLite file on LOCAL disk (`path`, the default; WAL does not work
    over NFS/SMB), or a shared PostgreSQL database (`url`, password from `password`)."""

    path: ConfigPath = Field(default=_JOURNAL_PATH, validate_default=True)
    # postgresql://user@host:5432/database (libpq URI; ?sslmode=verify-full etc. allowed).
    url: str | None = None
    password: Secret | None = None
    busy_timeout_ms: int = Field(default=5000, ge=0)

    @model_validator(mode="after")
    def _one_backend(self, info: ValidationInfo) -> JournalSettings:
        if self.url is None:
            if self.password is not None:
                raise ValueError("password is for a PostgreSQL journal: give url too, or drop it")
            return self
        if self.path != _resolve_path(_JOURNAL_PATH, info):
            raise ValueError("give path (an SQLite journal) or url (PostgreSQL), not both")
        # Never echo the URL here: it might hold the very password this refuses.
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("url must be a PostgreSQL URL: postgresql://user@host:port/database")
        if parts.password is not None:
            raise ValueError(
                "url must not hold the password: give journal.password as {file: PATH} "
                "or {env: VARIABLE}"
            )
        try:
            parts.port  # noqa: B018 -- parsing the port is the check
        except ValueError:
            raise ValueError("url has an invalid port") from None
        return self


class ReadinessSettings(_Section):
    """When a dropped file counts as finished (see docs/architecture.md "Inbox readiness")."""

    # Producer temp names and hidden files, matched case-insensitively against the name.
    ignore_patterns: tuple[str, ...] = (
        "*.tmp",
        "*.part",
        "*.filepart",
        "*.writing",
        "*.incomplete",
        "~*",
        ".*",
    )
    # e.g. [".done", ".ok"]: the file is ready only once X.done (or X.ok) exists; () = no marker.
    marker_suffixes: tuple[str, ...] = ()
    # Size and mtime unchanged for this long (longer on SMB/NFS: attribute caches lie).
    stable_seconds: float = Field(default=10.0, ge=0)
    # mtime at least this old; weak on its own (copies may keep the source mtime).
    min_age_seconds: float = Field(default=0.0, ge=0)
    allow_empty: bool = False
    # A 0-byte file is never ready; after this long unchanged (our clock) it is answered
    # with an error report and moved to failed/, so no drop waits for ever unanswered.
    empty_file_max_age_seconds: float = Field(default=3600.0, ge=0)
    # A data file larger than this is refused (error report, failed/) before it is read.
    max_file_bytes: int = Field(default=1024**3, ge=1)


class InboxSettings(_Section):
    """One drop folder: where, which files, how to tell they are ready, what to answer."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    path: ConfigPath
    # Names of the YAML mappings (under mappings/) that may read this inbox's files.
    mappings: tuple[str, ...] = ()
    # Data files (case-insensitive globs); anything else (the PDFs) is an attachment.
    include_patterns: tuple[str, ...] = ("*.csv", "*.xml")
    readiness: ReadinessSettings = Field(default={}, validate_default=True)
    # Claimed files go to <work>/<name>/; must be on the inbox's file system. None: folders.work.
    work: ConfigPath | None = None
    # "native" OS events (local disk), "polling" (network mounts), "none" (listing only).
    observer: ObserverKind = "native"
    scan_interval_seconds: float = Field(default=30.0, gt=0)
    # How long a file waits for the attachments it names before the case is reported.
    attachments_wait_seconds: float = Field(default=3600.0, ge=0)
    # An attachment larger than this is refused before it is read (ELAN publishes no
    # limit; 50 MiB is far above any real enclosure and far below what would hurt memory).
    attachments_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # A PDF with more than one hard link may be a file from elsewhere linked into the
    # inbox (a link's other name can be anywhere on the file system): refused unless on.
    attachments_allow_hard_links: bool = False
    receipt_formats: tuple[ReceiptFormat, ...] = ("json",)
    # CSV receipts: UTF-8 with BOM, so Excel and Windows tools detect the encoding.
    receipt_csv_encoding: str = "utf-8-sig"
    receipt_csv_delimiter: str = Field(default=";", min_length=1, max_length=1)
    # A CSV cell starting with = + - @ gets a leading ' so a spreadsheet shows it as
    # text instead of running it; off only for importers that need the exact value.
    receipt_csv_neutralise_formulas: bool = True


def _unique_inbox_names(inboxes: tuple[InboxSettings, ...]) -> tuple[InboxSettings, ...]:
    # The name keys the journal rows and the work folder: two inboxes must not share it.
    names = [i.name for i in inboxes]
    doubles = sorted({n for n in names if names.count(n) > 1})
    if doubles:
        raise ValueError(f"inbox names must be unique; repeated: {', '.join(doubles)}")
    return inboxes


class FolderSettings(_Section):
    """The gateway's own folders: work (claimed), outbox, archive (+retention), failed."""

    # Defaults are validated so they too resolve against the config file's folder.
    work: ConfigPath = Field(default=Path("work"), validate_default=True)
    outbox: ConfigPath = Field(default=Path("outbox"), validate_default=True)
    archive: ConfigPath = Field(default=Path("archive"), validate_default=True)
    failed: ConfigPath = Field(default=Path("failed"), validate_default=True)
    # Archived originals older than this are purged; journal rows (hashes) are kept.
    archive_retention_days: int = Field(default=90, ge=1)


# --- maskinporten + elan ----------------------------------------------------------

MASKINPORTEN_ISSUERS: dict[str, str] = {
    "test": "https://test.maskinporten.no/",
    "prod": "https://maskinporten.no/",
}
ELAN_BASE_URLS: dict[str, str | None] = {
    "test": "https://api-test.sits.no/api/utleggsbegjaering/v2",
    # Not published by Skatteetaten: must be configured (see docs/elan-contract.md).
    "prod": None,
}
ELAN_SCOPE = "skatteetaten:utleggsbegjaering"
_ORGNR = r"^\d{9}$"


class SystembrukerSettings(_Section):
    """An Altinn system user: the customer organisation that owns it (+ its externalRef)."""

    org: str = Field(pattern=_ORGNR)
    external_ref: str | None = None


class MaskinportenSettings(_Section):
    """Maskinporten client: who we are, how we sign, which token we ask for."""

    client_id: str | None = None
    scope: str = ELAN_SCOPE
    # Default from `environment`. With only `issuer`, the token endpoint is read from the
    # issuer's metadata (/.well-known/oauth-authorization-server), as Digdir recommends.
    issuer: str | None = None
    token_endpoint: str | None = None
    # Signing material, one of: PKCS#12 (+password), PEM certificate + key, or key + kid.
    pkcs12_file: ConfigPath | None = None
    pkcs12_password: Secret | None = None
    certificate_file: ConfigPath | None = None
    private_key: Secret | None = None
    private_key_password: Secret | None = None
    kid: str | None = None
    algorithm: Literal["RS256", "RS384", "RS512"] = "RS256"
    consumer_org: str | None = Field(default=None, pattern=_ORGNR)
    systembruker: SystembrukerSettings | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    # Warn (start-up and health) when the certificate expires within this many days.
    certificate_warning_days: int = Field(default=30, ge=0)

    @model_validator(mode="after")
    def _one_signing_method(self) -> MaskinportenSettings:
        methods = [
            self.pkcs12_file is not None,
            self.certificate_file is not None,
            self.kid is not None,
        ]
        if sum(methods) > 1:
            raise ValueError("give one of pkcs12_file, certificate_file (+ private_key) or kid")
        if self.certificate_file is not None and self.private_key is None:
            raise ValueError("certificate_file needs private_key (file or env)")
        if self.kid is not None and self.private_key is None:
            raise ValueError("kid needs private_key (file or env)")
        if self.pkcs12_file is not None and self.private_key is not None:
            raise ValueError("pkcs12_file holds the key itself: drop private_key")
        if self.token_endpoint is not None and self.issuer is None:
            raise ValueError("token_endpoint needs issuer (the grant's aud)")
        if self.issuer is not None and not self.issuer.endswith("/"):
            raise ValueError("issuer must end with '/' (it is the grant's aud, verbatim)")
        return self

    def issuer_for(self, environment: str) -> str:
        """The grant's `aud`: the configured issuer or the environment's."""
        return self.issuer or MASKINPORTEN_ISSUERS[environment]

    def token_endpoint_for(self, environment: str) -> str | None:
        """Where the grant is posted; None: read it from the configured issuer's metadata."""
        if self.token_endpoint is not None:
            return self.token_endpoint
        if self.issuer is not None:
            return None
        return MASKINPORTEN_ISSUERS[environment] + "token"


class ElanPaths(_Section):
    """Operation paths relative to their API's base URL (see docs/elan-contract.md)."""

    upload: str = "/vedlegg"
    # Unpublished (no source documents it): None, or a 404/405 there, makes `auto`
    # readiness ask `valider` instead (elan.attachment_readiness).
    attachment: str | None = "/vedlegg/{uuid}"
    validate_new: str = "/utleggsbegjaering/valider"
    submit: str = "/utleggsbegjaering"
    validate_change: str = "/utleggsbegjaering/valider/{eksternSaksreferanse}"
    change: str = "/utleggsbegjaering/{eksternSaksreferanse}"
    status: str = "/status/{eksternSaksreferanse}"
    betjeningskartet: str = "/betjeningskartet"


class ElanHeaders(_Section):
    """Header names; the beta spec spelled one `KlientId`, so they are configurable."""

    korrelasjonsid: str = "Korrelasjonsid"
    meldingsid: str = "Meldingsid"
    klientid: str = "Klientid"


class ElanApi(_Section):
    """One of the separately published ELAN APIs; None: it lives at `elan.base_url`."""

    base_url: str | None = None


class ElanApis(_Section):
    """Status på sak and Betjeningskartet are their own SwaggerHub APIs (May 2026 pages)."""

    status: ElanApi = Field(default_factory=ElanApi)
    betjeningskartet: ElanApi = Field(default_factory=ElanApi)


class RetrySettings(_Section):
    """Backoff for calls that are safe to repeat: exponential, jittered, bounded."""

    attempts: int = Field(default=6, ge=1, le=20)
    total_seconds: float = Field(default=60.0, gt=0)
    initial_wait_seconds: float = Field(default=0.5, ge=0)
    max_wait_seconds: float = Field(default=8.0, ge=0)


class ElanSettings(_Section):
    """The ELAN client: where, which headers, how many calls at once, how to retry."""

    # Default from `environment` (test documented; prod must be set).
    base_url: str | None = None
    paths: ElanPaths = Field(default_factory=ElanPaths)
    headers: ElanHeaders = Field(default_factory=ElanHeaders)
    klientid: str = "utlegg-gateway"
    # Skatteetaten allows at most 5 concurrent calls per API per organisation.
    max_concurrency: int = Field(default=5, ge=1, le=5)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    # After a call we gave up on (timeout after sending) ELAN may still be working on it:
    # its slot stays taken this long, so ELAN never sees more than max_concurrency calls.
    # None: timeout_seconds (as long again as we waited for it).
    abandoned_call_grace_seconds: float | None = Field(default=None, ge=0)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    # Upload → ready: wait for ELAN's attachment check at most this long.
    attachment_ready_timeout_seconds: float = Field(default=300.0, gt=0)
    # How the gateway learns that ELAN has checked an attachment. Every mode first takes
    # a final state from the upload reply when it carries one. auto: then the status
    # path if configured and it answers, else `valider` (a 422 with only
    # VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT means "not yet").
    # status: only the status path (a 404 there fails the case). validate: only `valider`.
    attachment_readiness: Literal["auto", "status", "validate"] = "auto"
    # Other APIs' base URLs; the innsending operations use `base_url`.
    apis: ElanApis = Field(default_factory=ElanApis)
    # Skatteetaten: "at most 5 concurrent calls per API per organisation". organisation:
    # one pool of max_concurrency slots for all ELAN APIs together (stricter).
    concurrency_scope: Literal["api", "organisation"] = "api"

    def base_url_for(self, environment: str) -> str:
        """The configured base URL or the environment's; prod has no public default."""
        url = self.base_url or ELAN_BASE_URLS[environment]
        if url is None:
            raise ConfigError(
                f"elan.base_url must be set for environment '{environment}': "
                "Skatteetaten has not published the production address",
                field="elan.base_url",
            )
        return url.rstrip("/")

    def api_base_urls(self, environment: str) -> dict[str, str]:
        """Base URL per ELAN API (innsending, status, betjeningskartet)."""
        main = self.base_url_for(environment)
        return {
            "innsending": main,
            "status": (self.apis.status.base_url or main).rstrip("/"),
            "betjeningskartet": (self.apis.betjeningskartet.base_url or main).rstrip("/"),
        }


# --- runner + health ---------------------------------------------------------------


class RunnerSettings(_Section):
    """The `once`/`run` lifecycle: lock file, mappings, concurrency, shutdown, retries."""

    # One run at a time: `once` from cron must not overlap a daemon or another `once`.
    lock_file: ConfigPath = Field(default=Path("state/gateway.lock"), validate_default=True)
    # Folders searched for `<name>.yaml` when an inbox names its mappings; the shipped
    # mappings are searched after them (utlegg_gateway._shipped.mapping_search_dirs).
    mapping_dirs: tuple[ConfigPath, ...] = Field(default=(Path("mappings"),), validate_default=True)
    # Cases (of all files) in flight at once; ELAN calls are capped by elan.max_concurrency.
    max_cases_in_flight: int = Field(default=20, ge=1, le=1000)
    # Start a file's cases as they are read (the first submit seconds after the claim,
    # not after the whole file); false holds every case until the file is read to its
    # end, so a file broken half-way sends none of its cases.
    submit_while_mapping: bool = True
    # Processes that map one file, its cases still coming out in file order. `auto`:
    # every core for a file of 8 MB or more (a worker costs ~0.3 s to start) when the file
    # is read to its end first (`map`, submit_while_mapping: false), else 1: a file sent
    # as it is read is read only as fast as ELAN takes its cases.
    mapping_workers: Annotated[int, Field(ge=1, le=MAX_MAPPING_WORKERS)] | Literal["auto"] = "auto"
    # Files claimed per scan, so a backlog of thousands does not starve the rest.
    max_files_per_scan: int = Field(default=50, ge=1)
    # SIGTERM: stop claiming, let calls in flight finish for this long, then stop.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # A case whose submit still failed temporarily after the client's retries is tried
    # again this many times, this long apart, before it ends as `failed`.
    case_retries: int = Field(default=3, ge=0)
    case_retry_delay_seconds: float = Field(default=60.0, ge=0)
    # Journal-derived health and metrics snapshots are refreshed this often (daemon).
    refresh_seconds: float = Field(default=15.0, gt=0)
    # Daemon: answered files whose move to archive/ or failed/ failed are retried this often.
    move_retry_seconds: float = Field(default=3600.0, gt=0)


class ClusterSettings(_Section):
    """Several `run` instances sharing one PostgreSQL journal and one set of folders.

    Off by default: one gateway per journal, held by the run lock. On, each instance
    holds a lease in the journal that it renews every `heartbeat_seconds`; files it
    claims and cases it sends are its own; an instance whose lease has not been renewed
    for `lease_seconds` is taken for dead, and another resumes its files and cases by the
    same rules as a restart. Follow-up runs on one instance per tenant at a time, and the
    5-in-flight limit per organisation holds across all instances.
    """

    enabled: bool = False
    # This instance's name in the journal (owner of its leases); the host name by default,
    # so a restarted instance takes up its own work at once. Unique per instance.
    instance: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    # Without a renewal for this long an instance is taken for dead and its work resumed.
    lease_seconds: float = Field(default=30.0, ge=2)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A call waiting for one of the organisation's cluster-wide ELAN slots asks again
    # this often (a free slot is taken at once; this only bounds the wait when all are busy).
    slot_poll_seconds: float = Field(default=0.01, gt=0, le=1)

    @model_validator(mode="after")
    def _renewed_in_time(self) -> ClusterSettings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(
                "heartbeat_seconds must be at most half of lease_seconds, so one late "
                "renewal does not lose the lease"
            )
        return self

    def instance_name(self) -> str:
        """The configured instance name, or this host's name."""
        return self.instance or socket.gethostname()


class HealthSettings(_Section):
    """`/healthz` + `/metrics` for the daemon (`run`); `once` never serves them."""

    enabled: bool = True
    # Loopback by default; in a container set host 0.0.0.0 (the Dockerfile does).
    host: str = "127.0.0.1"
    # 0 = any free port (tests); 9108 is the usual exporter-range default.
    port: int = Field(default=9108, ge=0, le=65535)
    # How often the daemon checks that a token can still be obtained.
    token_check_seconds: float = Field(default=300.0, gt=0)


# --- follow-up, Dialogporten, routing -----------------------------------------------


class StatusPollStep(_Section):
    """Poll a case every `every_seconds` while it is younger than `until_seconds` (None: ever)."""

    until_seconds: float | None = Field(default=None, gt=0)
    every_seconds: float = Field(gt=0)


def _default_status_schedule() -> tuple[StatusPollStep, ...]:
    return (
        StatusPollStep(until_seconds=3600, every_seconds=60),
        StatusPollStep(until_seconds=86400, every_seconds=900),
        StatusPollStep(every_seconds=3600),
    )


class FollowupSettings(_Section):
    """Status på sak polling for accepted cases (docs/followup.md)."""

    status_enabled: bool = True
    # By case age since acceptance; the first step whose until_seconds is above the age wins.
    status_schedule: tuple[StatusPollStep, ...] = Field(default_factory=_default_status_schedule)
    # No more polling once a case reaches one of these.
    final_statuses: tuple[str, ...] = ("sakNektetFremmet", "sakAvsluttet", "sakHevet")
    # How often the follow-up loop wakes up to see what is due.
    tick_seconds: float = Field(default=30.0, gt=0)
    # Subfolders of folders.outbox.
    status_folder: str = Field(default="status", pattern=r"^[A-Za-z0-9_.-]+$")
    letters_folder: str = Field(default="meldinger", pattern=r"^[A-Za-z0-9_.-]+$")


CaseReferenceField = Literal["externalReference", "process", "transmission.externalReference"]


class DialogportenSettings(_Section):
    """Letters (rettebrev …) from Altinn Dialogporten, polled as the system user."""

    enabled: bool = False
    # Default by environment: tt02 for test, platform.altinn.no for prod.
    base_url: str | None = None
    scope: str = "digdir:dialogporten"
    # Token scope for attachment downloads (Skatteetaten's endpoint); None: `scope`.
    attachment_scope: str | None = None
    service_resource: str = "urn:altinn:resource:ske-utleggsbegjaering"
    # Default: urn:altinn:organization:identifier-no:<organisation (or the system user's org)>.
    party: str | None = None
    poll_interval_seconds: float = Field(default=900.0, gt=0)
    # updatedAfter = last poll start - overlap (commit lag, clock skew).
    overlap_seconds: float = Field(default=600.0, ge=0)
    page_limit: int = Field(default=100, ge=1, le=1000)
    # Dialogs of a page synced at once (Dialogporten documents no limit; stay polite).
    max_concurrency: int = Field(default=4, ge=1, le=16)
    # A wide sweep (backdated letters, new rights) this often, this far back.
    sweep_interval_seconds: float = Field(default=86400.0, gt=0)
    sweep_window_days: float = Field(default=7.0, gt=0)
    # Unknown for the real service: letters as transmissions of a dialog per case,
    # or one dialog per letter (read with GET dialog, which marks it seen).
    letters_as: Literal["transmissions", "dialogs"] = "transmissions"
    # Which field holds the authority's case reference, and a regex whose group `ref`
    # is the eksternSaksreferanse inside it.
    case_reference_field: CaseReferenceField = "externalReference"
    case_reference_pattern: str = r"^(?P<ref>.+)$"
    timeout_seconds: float = Field(default=30.0, gt=0)

    def base_url_for(self, environment: str) -> str:
        """The configured base URL or the environment's."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return {
            "test": "https://platform.tt02.altinn.no/dialogporten",
            "prod": "https://platform.altinn.no/dialogporten",
        }[environment]


class CorrectionsSettings(_Section):
    """Corrections (endring) of accepted cases: where they come from, how UAVKLART_STATUS waits."""

    # Names of inboxes (see `inboxes`) whose files are corrections, not new cases.
    inboxes: tuple[str, ...] = ()
    # UAVKLART_STATUS (an earlier version is still unprocessed): retry with backoff.
    retry_initial_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    retry_max_attempts: int = Field(default=24, ge=1)


class RoutingSettings(_Section):
    """Betjeningskartet routing in the 2026 transition: old-rule debtors go to ELSA."""

    # None: on before `betjeningskartet_until`, off from then on.
    betjeningskartet: bool | None = None
    betjeningskartet_until: date = date(2027, 1, 1)
    elsa_folder: str = Field(default="elsa", pattern=r"^[A-Za-z0-9_.-]+$")

    def betjeningskartet_on(self, today: date) -> bool:
        """Whether to look debtors up before submitting on `today`."""
        if self.betjeningskartet is not None:
            return self.betjeningskartet
        return today < self.betjeningskartet_until


_TENANT_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class Settings(_Section):
    """The whole configuration. Sections are filled in by the stages that own them.

    With `tenants` (vendor mode) each tenant is a whole Settings of its own: the file's
    top level merged with the tenant's entry (see `load_settings`); the top level keeps
    what is the process's (journal, runner, cluster, health, elan, environment).
    """

    # The tenant these settings are: "" for the one implicit tenant of a plain config.
    tenant: str = Field(default="", pattern=r"^$|" + _TENANT_NAME)
    tenants: tuple[Settings, ...] = ()
    environment: Environment = DEFAULT_ENVIRONMENT
    # A declared model version (model/_versions.py SPECS); new configs get the newest.
    model_version: Annotated[ModelVersion, AfterValidator(known_version)] = DEFAULT_MODEL_VERSION
    # The organisation the gateway acts as (innsender orgnr): 9 digits.
    organisation: str | None = Field(default=None, pattern=r"^\d{9}$")
    maskinporten: MaskinportenSettings = Field(default_factory=MaskinportenSettings)
    elan: ElanSettings = Field(default_factory=ElanSettings)
    # `{}` + validate_default: the section is built with the context, so relative
    # default paths resolve against the config file's folder.
    journal: JournalSettings = Field(default={}, validate_default=True)
    inboxes: Annotated[tuple[InboxSettings, ...], AfterValidator(_unique_inbox_names)] = ()
    folders: FolderSettings = Field(default={}, validate_default=True)
    runner: RunnerSettings = Field(default={}, validate_default=True)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    followup: FollowupSettings = Field(default_factory=FollowupSettings)
    dialogporten: DialogportenSettings = Field(default_factory=DialogportenSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    corrections: CorrectionsSettings = Field(default_factory=CorrectionsSettings)
    # Sections owned by later stages are added below as they are built
    # (maskinporten, elan, journal, inboxes, outbox, archive, followup, health).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="after")
    def _cluster_needs_postgres(self) -> Settings:
        if self.cluster.enabled and self.journal.url is None:
            raise ValueError(
                "cluster.enabled needs a shared PostgreSQL journal (journal.url); an SQLite "
                "journal is one instance's own"
            )
        return self

    @model_validator(mode="after")
    def _tenants_apart(self) -> Settings:
        if not self.tenants:
            return self
        if self.inboxes:
            raise ValueError("with tenants, each inbox belongs to a tenant: move 'inboxes' there")
        names = [t.tenant for t in self.tenants]
        orgs = [t.organisation for t in self.tenants]
        inboxes = [i.name for t in self.tenants for i in t.inboxes]
        outboxes = [t.folders.outbox for t in self.tenants]
        groups: tuple[tuple[str, list[Any]], ...] = (
            ("tenant names", names),
            # One organisation has one set of ELAN slots: two tenants of it would each
            # take 5 and together break the limit; make it one tenant with two inboxes.
            ("tenant organisations", orgs),
            # The inbox name keys journal rows, work folders, health and metrics labels.
            ("inbox names (across tenants)", inboxes),
            ("tenant outboxes", outboxes),
        )
        for what, values in groups:
            doubles = sorted({str(v) for v in values if values.count(v) > 1})
            if doubles:
                raise ValueError(f"{what} must be unique; repeated: {', '.join(doubles)}")
        return self

    def tenant_settings(self) -> tuple[Settings, ...]:
        """Every tenant's settings; a plain configuration is its own one tenant."""
        return self.tenants or (self,)

    @property
    def acting_organisation(self) -> str | None:
        """The organisation a token of these settings represents (the innsender ELAN
        accepts): the system user's owner, the delegating consumer, or our own."""
        mp = self.maskinporten
        return (mp.systembruker.org if mp.systembruker else None) or (
            mp.consumer_org or self.organisation
        )


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw else raw
    return data


# What a tenant's entry may set; the rest (journal, runner, cluster, health, elan, environment)
# belongs to the process and is shared.
TENANT_KEYS = frozenset(
    {
        "name",
        "organisation",
        "maskinporten",
        "inboxes",
        "folders",
        "mapping_dirs",
        "followup",
        "dialogporten",
        "corrections",
        "routing",
        "model_version",
    }
)
_FOLDER_KEYS = ("work", "outbox", "archive", "failed")


def _merged(base: Any, over: Any) -> Any:
    """`over` on top of `base`: mappings merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merged(base.get(key), value) if key in base else value
        return out
    return over


def _tenant_data(base: dict[str, Any], entry: Any, index: int, base_dir: Path) -> dict[str, Any]:
    """One tenant's whole settings data: the top level with the tenant's entry on top;
    its folders default to the top level's, each with the tenant's name appended."""
    where = f"tenants.{index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping (name, organisation, inboxes …)")
    unknown = sorted(set(entry) - TENANT_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: {', '.join(unknown)} cannot be set per tenant; a tenant may set "
            + ", ".join(sorted(TENANT_KEYS)),
            field=f"{where}.{unknown[0]}",
        )
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(_TENANT_NAME, name):
        raise ConfigError(
            f"{where}.name must be given: lower-case letters, digits, '-' or '_' (it names "
            "the tenant's folders, journal rows and metrics)",
            field=f"{where}.name",
        )
    if not entry.get("organisation"):
        raise ConfigError(f"{where} ({name}): organisation must be given", field=f"{where}")
    try:
        shared = FolderSettings.model_validate(
            base.get("folders") or {}, context={"base_dir": base_dir}
        )
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, "folders")) from exc
    folders = {k: str(getattr(shared, k) / name) for k in _FOLDER_KEYS}
    data = {k: v for k, v in base.items() if k != "tenants"}
    data["folders"] = {**(base.get("folders") or {}), **folders}
    tenant = {k: v for k, v in entry.items() if k not in ("name", "mapping_dirs")}
    data = dict(_merged(data, tenant))
    data["tenant"] = name
    if "mapping_dirs" in entry:
        data["runner"] = {**(base.get("runner") or {}), "mapping_dirs": entry["mapping_dirs"]}
    return data


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from a YAML file, the environment and CLI overrides, in that order."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration {path} must be a mapping at the top level")
        data = loaded or {}
        base_dir = path.resolve().parent
    data = _apply_env_overrides(data, environ)
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    data["base_dir"] = base_dir
    if data.get("tenants"):
        if not isinstance(data["tenants"], list):
            raise ConfigError("tenants must be a list of tenants", field="tenants")
        data["tenants"] = [
            _tenant_data(data, entry, i, base_dir) for i, entry in enumerate(data["tenants"])
        ]
    try:
        settings = Settings.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from exc
    return settings
