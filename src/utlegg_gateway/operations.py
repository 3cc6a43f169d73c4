"""Operator commands on the journal: `status` (the journal's view) and `replay NAME`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import Settings
from utlegg_gateway.errors import UsageError
from utlegg_gateway.journal import JournalStore, open_journal
from utlegg_gateway.journal.sqlite import FILE_RESUMABLE, FileState

__all__ = ["journal_status", "render_status", "replay_file"]

log = get_logger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _tenant_view(settings: Settings, journal: JournalStore, tenant: str | None) -> JournalStore:
    """The journal as `status` shows it: one tenant, or (vendor mode) every tenant."""
    names = [t.tenant for t in settings.tenants]
    if tenant is None:
        return journal.for_tenant(None) if names else journal
    if tenant not in names:
        raise UsageError(
            f"no tenant {tenant!r} in the configuration",
            field="--tenant",
            hint="configured tenants: " + (", ".join(names) or "none (not in vendor mode)"),
        )
    return journal.for_tenant(tenant)


def journal_status(
    settings: Settings, *, tenant: str | None = None, clock: Clock = _utcnow
) -> dict[str, Any]:
    """The journal's summary plus the failed files (for `status`); read-only, no lock.

    Never creates a journal: JournalError "no journal at PATH" (exit 2) when there is none.
    Cases of duplicate files (answered from their original, no case rows of their own)
    are counted under `cases.duplicate`, as their receipts count them. In vendor mode it
    covers every tenant (with a `tenants` breakdown), or only `tenant`.
    """
    with open_journal(settings.journal, clock=clock, read_only=True) as opened:
        journal = _tenant_view(settings, opened, tenant)
        summary = journal.summary()
        if settings.tenants and tenant is None:
            summary["tenants"] = {
                t.tenant: {
                    k: v
                    for k, v in journal.for_tenant(t.tenant).summary().items()
                    if k in ("files", "cases", "oldest_open_file_age_seconds")
                }
                for t in settings.tenants
            }
        duplicates = journal.files_in_states(FileState.DUPLICATE)
        in_duplicates = sum(
            len(journal.cases_for_file(r.duplicate_of, payloads=False))
            for r in duplicates
            if r.duplicate_of is not None
        )
        summary["cases"]["duplicate"] = summary["cases"].get("duplicate", 0) + in_duplicates
        summary["cases_in_duplicate_files"] = in_duplicates
        summary["failed_files"] = [
            {
                "name": r.name,
                "inbox": r.inbox,
                "tenant": r.tenant,
                "path": r.path,
                "error": r.error.message if r.error else None,
            }
            for r in journal.files_in_states(FileState.FAILED)
        ]
        summary["open_files"] = [
            {
                "name": r.name,
                "inbox": r.inbox,
                "tenant": r.tenant,
                "state": r.state.value,
                "since": r.registered_at.isoformat(),
            }
            for r in journal.files_in_states(*FILE_RESUMABLE)
        ]
    return summary


def render_status(summary: dict[str, Any]) -> Any:
    """A rich renderable of `journal_status` for a terminal."""
    from rich.console import Group
    from rich.table import Table

    counts = Table(title="utlegg-gateway status")
    counts.add_column("kind")
    counts.add_column("state")
    counts.add_column("count", justify="right")
    for kind in ("files", "cases"):
        for state, n in summary[kind].items():
            if n:
                counts.add_row(kind, state, str(n))
    age = summary.get("oldest_open_file_age_seconds")
    parts: list[Any] = [counts, f"oldest waiting file: {'none' if age is None else f'{age:.0f} s'}"]
    if summary.get("tenants"):
        tenants = Table(title="by tenant")
        for col in ("tenant", "files", "cases", "oldest waiting"):
            tenants.add_column(col)
        for name, part in summary["tenants"].items():
            waited = part.get("oldest_open_file_age_seconds")
            tenants.add_row(
                name,
                ", ".join(f"{s} {n}" for s, n in part["files"].items() if n) or "-",
                ", ".join(f"{s} {n}" for s, n in part["cases"].items() if n) or "-",
                "none" if waited is None else f"{waited:.0f} s",
            )
        parts.append(tenants)
    if summary.get("failed_files"):
        failed = Table(title="failed files (fix the cause, then `utlegg-gateway replay NAME`)")
        for col in ("name", "inbox", "path", "error"):
            failed.add_column(col)
        for f in summary["failed_files"]:
            failed.add_row(f["name"], f["inbox"], str(f["path"]), str(f["error"]))
        parts.append(failed)
    return Group(*parts)


def replay_file(settings: Settings, name: str, *, clock: Clock = _utcnow) -> Path:
    """Put the failed file NAME back into its inbox; the next scan takes it as new.

    Its earlier journal row stays `failed` (the history); a file that failed is not a
    duplicate by content, so the new claim is processed. Cases of it that were already
    accepted are answered "already submitted", never sent twice.
    """
    with open_journal(settings.journal, clock=clock) as journal:
        # Every tenant's failed files (inbox names are unique across tenants).
        every = journal.for_tenant(None) if settings.tenants else journal
        matches = [r for r in every.files_in_states(FileState.FAILED) if r.name == name]
    if not matches:
        raise UsageError(
            f"no failed file named {name!r} in the journal",
            file=name,
            hint="`utlegg-gateway status` lists the failed files",
        )
    record = matches[-1]
    source = Path(record.path) if record.path else None
    if source is None or not source.is_file():
        raise UsageError(f"the failed file is no longer at {record.path}", file=name)
    inboxes = [
        i for t in settings.tenant_settings() if t.tenant == record.tenant for i in t.inboxes
    ]
    inbox = next((i for i in inboxes if i.name == record.inbox), None)
    if inbox is None:
        raise UsageError(f"inbox {record.inbox!r} is not configured", file=name)
    target = inbox.path / record.name
    if target.exists():
        raise UsageError(f"{target} already exists; not overwritten", file=name)
    # Copy under a dot-name (ignored by every scanner), then rename: the inbox never
    # shows a half-copied file, even when failed/ is on another file system.
    staging = inbox.path / f".replay-{record.name}"
    shutil.copy2(source, staging)
    staging.replace(target)
    source.unlink()
    log.info("file re-queued", extra=fields(file=name, inbox=inbox.name))
    return target
