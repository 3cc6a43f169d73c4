"""`utlegg-gateway demo`: the whole gateway against the built-in sandbox, offline, in seconds.

1. a sandbox (Maskinporten + ELAN emulator) on a free loopback port;
2. throwaway credentials it trusts (test CA, PKCS#12 business certificate);
3. a demo folder with inboxes, outbox, archive, journal and a `config.yaml`;
4. the shipped example exports (CSV and XML, with their PDFs) dropped into the inboxes,
   plus one deliberately broken case, made from an example by a small edit of a copy;
5. the gateway's `once` run until every case has ended;
6. a summary table (file, case, status, eksternSaksreferanse or the broken rule) and the
   receipt paths. Everything stays in the printed folder to look at afterwards.

`write_gateway_config` is also what the end-to-end tests use to point a gateway at a
sandbox, so the demo and the tests run the same configuration.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from utlegg_gateway._shipped import shipped_examples_dir
from utlegg_gateway.errors import ConfigError

if TYPE_CHECKING:
    from rich.table import Table

    from utlegg_gateway.gateway.pipeline import FileOutcome
    from utlegg_gateway.journal.states import CaseRecord

__all__ = ["find_mapping_dir", "run_demo", "write_gateway_config"]

# The receipt's words for the journal's states (what a legacy system reads back).
_STATUS_SHOWN = {
    "rejected_local": "rejected (local prøving)",
    "waiting_attachments": "waiting for PDFs",
}

# Matches the shipped examples: the innsender organisation of the sample exports.
DEMO_ORGNR = "312597772"


def find_mapping_dir() -> Path:
    """The shipped `mappings/` folder (package data of a wheel, or a checkout's own)."""
    return shipped_examples_dir().parent


def write_gateway_config(
    root: Path,
    *,
    sandbox: Any,
    credentials: Any,
    inboxes: Mapping[str, Sequence[str]],
    mapping_dirs: Iterable[Path] = (),
    stable_seconds: float = 0.2,
    observer: str = "none",
    receipt_formats: Sequence[str] = ("json",),
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `root/config.yaml` for a gateway talking to `sandbox`; returns its path.

    `inboxes` maps an inbox name to its mapping names; each inbox folder is
    `root/inbox/<name>`. Folders are relative to `root` (the config's folder).
    """
    root.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "environment": "test",
        "organisation": credentials.orgnr,
        "maskinporten": {
            "client_id": credentials.client_id,
            "issuer": sandbox.issuer,
            "token_endpoint": sandbox.token_endpoint,
            "pkcs12_file": str(credentials.pkcs12_file),
            "pkcs12_password": {"file": str(credentials.password_file)},
        },
        "elan": {
            "base_url": sandbox.elan_base_url,
            "retry": {"initial_wait_seconds": 0.05, "max_wait_seconds": 0.5},
        },
        "journal": {"path": "state/journal.sqlite3"},
        "folders": {
            "work": "work",
            "outbox": "outbox",
            "archive": "archive",
            "failed": "failed",
        },
        "runner": {
            "lock_file": "state/gateway.lock",
            "mapping_dirs": [str(p) for p in mapping_dirs] or [str(find_mapping_dir())],
            "case_retries": 1,
            "case_retry_delay_seconds": 0.5,
            "shutdown_grace_seconds": 10,
        },
        "health": {"enabled": True, "port": 0},
        "inboxes": [
            {
                "name": name,
                "path": f"inbox/{name}",
                "mappings": list(mappings),
                "observer": observer,
                "scan_interval_seconds": 0.5,
                "attachments_wait_seconds": 5,
                "readiness": {"stable_seconds": stable_seconds},
                "receipt_formats": list(receipt_formats),
            }
            for name, mappings in inboxes.items()
        ],
    }
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    for name in inboxes:
        (root / "inbox" / name).mkdir(parents=True, exist_ok=True)
    path = root / "config.yaml"
    path.write_text(
        "# Written by `utlegg-gateway demo`: a gateway pointed at a local sandbox.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


# The exports the demo's two inboxes read: the `patterns` of the shipped csv-krav and
# xml-sak mappings. The other examples (wide, record-type, fixed-width and the wide one's
# lookup table) have mappings of their own and are not the demo's.
_DEMO_EXPORTS = {".csv": "utlegg_*.csv", ".xml": "inkassonett_*.xml"}


def _drop_examples(examples: Path, inbox_csv: Path, inbox_xml: Path) -> list[str]:
    """Copy the shipped examples into the inboxes; returns the data file names dropped.

    Attachments (PDFs) go next to every data file that may name them: both inboxes.
    One CSV copy gets a broken amount (three decimals) in one case, so the demo shows a
    rejected case among accepted ones.
    """
    dropped: list[str] = []
    files = sorted(p for p in examples.rglob("*") if p.is_file() and p.parent == examples)
    for path in files:
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            shutil.copy2(path, inbox_csv / path.name)
            shutil.copy2(path, inbox_xml / path.name)
    exports = [p for p in files if fnmatch(p.name, _DEMO_EXPORTS.get(p.suffix.lower(), "-"))]
    for path in exports:
        _atomic_copy(path, (inbox_csv if path.suffix.lower() == ".csv" else inbox_xml) / path.name)
        dropped.append(path.name)
    broken = _broken_copy(exports)
    if broken is not None:
        name, data = broken
        target = inbox_csv / name
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        dropped.append(name)
    return dropped


def _atomic_copy(src: Path, dst: Path) -> None:
    # Temp name + rename, the way a well-behaved producer drops a file.
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def _broken_copy(files: Sequence[Path]) -> tuple[str, bytes] | None:
    """A copy of the first CSV example whose first claim amount has three decimals."""
    import csv
    import io

    for path in files:
        if path.suffix.lower() != ".csv":
            continue
        raw = path.read_bytes()
        encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp1252"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        if len(rows) < 2 or "OPPR_BELOP" not in rows[0] or "SAKSNR" not in rows[0]:
            continue
        head = rows[0]
        amount, saksnr = head.index("OPPR_BELOP"), head.index("SAKSNR")
        first = rows[1][saksnr]
        for row in rows[1:]:
            # Renumber every row of the case so it does not collide with the original.
            if row[saksnr] == first:
                row[saksnr] = first + "-DEMO"
        victim = next(r for r in rows[1:] if r[saksnr] == first + "-DEMO")
        victim[amount] = victim[amount] + "5" if "," in victim[amount] else "100,125"
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerows([head] + [r for r in rows[1:] if r[saksnr] == first + "-DEMO"])
        return f"utlegg_99991231_000000_demo-feil{path.suffix}", out.getvalue().encode(encoding)
    return None


def _customer_orgnr(n: int) -> str:
    """The n-th synthetic customer organisation number of vendor mode (valid mod 11)."""
    from stdnum.no import orgnr

    for body in range(31990000 + 10 * n, 31990000 + 10 * n + 10):
        for digit in "0123456789":
            candidate = f"{body}{digit}"
            if orgnr.is_valid(candidate):
                return candidate
    raise AssertionError("no valid organisation number in the range")  # pragma: no cover


def _vendor_config(config: Path, tenants: Sequence[tuple[str, str]]) -> None:
    """Move the demo config's inboxes into one tenant per (name, organisation)."""
    data = yaml.safe_load(config.read_text("utf-8"))
    inboxes = data.pop("inboxes")
    data["tenants"] = [
        {
            "name": name,
            "organisation": org,
            "maskinporten": {"systembruker": {"org": org}},
            "inboxes": [
                {**i, "name": f"{name}-{i['name']}", "path": f"inbox/{name}/{i['name']}"}
                for i in inboxes
            ],
        }
        for name, org in tenants
    ]
    config.write_text(
        "# Written by `utlegg-gateway demo --tenants`: a vendor's gateway for its customers.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


def _as_customer(inboxes: Iterable[Path], orgnr: str) -> None:
    """Each export as the customer writes it: its own organisation as innsender."""
    for inbox in inboxes:
        for path in inbox.iterdir():
            if path.suffix.lower() in (".csv", ".xml"):
                staged = path.with_name(f".{path.name}.tmp")  # a dot-name: never scanned
                staged.write_bytes(path.read_bytes().replace(DEMO_ORGNR.encode(), orgnr.encode()))
                staged.replace(path)


def run_demo(directory: Path | None = None, *, tenants: int = 0) -> int:
    """Run the demo (see the module docstring); returns the process exit code (0).

    With `tenants`, the demo client is a system vendor filing for that many customer
    organisations (vendor mode: one tenant each, through its Altinn system user), each
    with the example exports as its own.
    """
    from rich.console import Console
    from rich.table import Table

    from utlegg_gateway._logging import configure_logging
    from utlegg_gateway.config import load_settings
    from utlegg_gateway.followup.demo import collect_followup, print_followup
    from utlegg_gateway.gateway.progress import TerminalProgress
    from utlegg_gateway.gateway.runner import run_once
    from utlegg_gateway.journal import open_journal
    from utlegg_gateway.sandbox import SandboxOptions, running_sandbox, write_credentials

    console = Console()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    root = (directory or Path("demo-output") / stamp).resolve()
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} is not empty; give another --dir", file=str(root))
    # Before anything is created: an install without its examples leaves no empty folder.
    mapping_dir = find_mapping_dir()
    root.mkdir(parents=True, exist_ok=True)
    configure_logging(json_lines=False, level="WARNING")
    console.print(f"[bold]utlegg-gateway demo[/bold] in {root}")
    customers = [(f"kunde-{n}", _customer_orgnr(n)) for n in range(1, tenants + 1)]
    creds = write_credentials(
        root / "credentials", systemuser_orgs=tuple(org for _, org in customers)
    )
    options = SandboxOptions(scanning_seconds=0.2)
    with running_sandbox(options, credentials=[creds]) as sandbox:
        console.print(f"sandbox (Maskinporten + ELAN) at {sandbox.url}")
        config = write_gateway_config(
            root,
            sandbox=sandbox,
            credentials=creds,
            inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
            mapping_dirs=[mapping_dir],
            receipt_formats=("json", "csv"),
        )
        if customers:
            _vendor_config(config, customers)
        for name, org in customers or [("", DEMO_ORGNR)]:
            folders = [root / "inbox" / name / "csv-krav", root / "inbox" / name / "xml-sak"]
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
            dropped = _drop_examples(mapping_dir / "examples", *folders)
            if name:
                _as_customer(folders, org)
            whose = f" for {name} ({org})" if name else ""
            console.print(f"dropped {len(dropped)} export file(s){whose}: {', '.join(dropped)}")
        settings = load_settings(config)
        if sys.stderr.isatty():
            progress = TerminalProgress()
            # Warnings go through the live display's console: printed above its lines.
            configure_logging(json_lines=False, level="WARNING", console=progress)
            with progress:
                report = run_once(settings, progress=progress)
        else:
            report = run_once(settings)
        held = len(sandbox.admin.submissions())
        # The follow-up act (statuses, a rettebrev) is the single-organisation demo's.
        followup = None if customers else collect_followup(settings, sandbox)
    table = Table(title="What the gateway did")
    columns = ("file", "case", "status", "eksternSaksreferanse / rule")
    for column in ("tenant", *columns) if customers else columns:
        table.add_column(column)
    # The run's outcomes hold counts; the cases themselves are read back from the journal.
    journal = open_journal(settings.journal, clock=lambda: datetime.now(UTC), read_only=True)
    with journal:
        for outcome in sorted(report.outcomes, key=lambda o: (o.file.tenant, o.file.name)):
            lead = (outcome.file.tenant,) if customers else ()
            _case_rows(table, lead, outcome, journal.cases_for_file(outcome.file.id))
    console.print(table)
    console.print(f"the sandbox holds {held} submitted begjæring(er)")
    if followup is not None:
        print_followup(console, followup)
    console.print("[bold]receipts[/bold]:")
    for outcome in report.outcomes:
        for path in outcome.receipts:
            console.print(f"  {path}")
    console.print(
        f"everything is left in {root}: inbox/, outbox/, archive/, state/journal.sqlite3, "
        "config.yaml.\nAgain with the same config: "
        f"utlegg-gateway once --config {root / 'config.yaml'}  (a sandbox must be running)"
    )
    return 0


def _case_rows(
    table: Table, lead: tuple[str, ...], outcome: FileOutcome, cases: Sequence[CaseRecord]
) -> None:
    """One row per case of a file (one row with the file's error when it has none)."""
    if not cases:
        error = outcome.file.error.message if outcome.file.error else ""
        table.add_row(*lead, outcome.file.name, "-", outcome.file.state.value, str(error))
    for case in cases:
        detail = case.ekstern_saksreferanse or "; ".join(
            f"{e.rule}: {e.message}" + (f" (line {e.place.row})" if e.place and e.place.row else "")
            for e in case.errors
        )
        shown = _STATUS_SHOWN.get(case.state.value, case.state.value)
        table.add_row(*lead, outcome.file.name, case.innsender_referanse, shown, detail)
