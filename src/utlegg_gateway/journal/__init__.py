"""Durable state: the journal of files and cases, and their state machines.

`open_journal(settings.journal, clock=...)` opens the backend the configuration names:
the embedded SQLite file (`journal.path`, the default) or a shared PostgreSQL database
(`journal.url`). Both are a `JournalStore`; the gateway is written against that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from utlegg_gateway.errors import ConfigError
from utlegg_gateway.journal._store import JournalStore
from utlegg_gateway.journal.sqlite import Journal

if TYPE_CHECKING:
    from utlegg_gateway.config import JournalSettings

__all__ = ["Journal", "JournalStore", "open_journal"]


def open_journal(
    settings: JournalSettings, *, clock: Callable[[], datetime], read_only: bool = False
) -> JournalStore:
    """Open the configured journal (creating and migrating it), or with `read_only`
    (`status`) an existing one as it is: JournalError "no journal at ..." if there is none.

    A PostgreSQL journal's password is read here, from `journal.password`."""
    if settings.url is None:
        opener = Journal.open_read_only if read_only else Journal.open
        return opener(settings.path, clock=clock, busy_timeout_ms=settings.busy_timeout_ms)
    try:
        from utlegg_gateway.journal.postgres import PostgresJournal
    except ImportError as exc:
        raise ConfigError(
            "journal.url needs the PostgreSQL driver, which is not installed",
            field="journal.url",
            hint="pip install 'utlegg-gateway[postgres]' (psycopg and psycopg-pool)",
        ) from exc
    password = None if settings.password is None else settings.password.read()
    return PostgresJournal.open(
        settings.url,
        password=password,
        clock=clock,
        busy_timeout_ms=settings.busy_timeout_ms,
        read_only=read_only,
    )
