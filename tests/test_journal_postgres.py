"""The PostgreSQL journal's own concerns: configuration, the password kept out of every
message, read-only opening, threads, and a whole `once` run with `journal.url`.

(The journal's behaviour itself is tested on both backends in test_journal*.py.)
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import _postgres
from tests.e2e._support import (
    FORMATS,
    MAPPINGS,
    SAMPLE_CASES,
    drop_attachments,
    drop_renamed,
    receipt,
)
from utlegg_gateway.config import JournalSettings, load_settings
from utlegg_gateway.errors import ConfigError, JournalError
from utlegg_gateway.journal import open_journal
from utlegg_gateway.journal.postgres import PostgresJournal, mask_url
from utlegg_gateway.journal.states import CaseState, FileState


def _clock() -> datetime:
    return datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


# --- configuration (no server needed) ----------------------------------------------------


def _settings(**journal: Any) -> JournalSettings:
    return load_settings(None, environ={}, overrides={"journal": journal}).journal


def test_url_and_password_secret_are_accepted() -> None:
    """A PostgreSQL URL with its password as a secret reference; the default path stays."""
    settings = _settings(url="postgresql://gw@db:5432/journal", password={"env": "PGPASS"})
    assert settings.url == "postgresql://gw@db:5432/journal"
    assert settings.password is not None and settings.password.env == "PGPASS"


@pytest.mark.parametrize(
    ("journal", "message"),
    [
        ({"url": "postgresql://gw@db/j", "path": "/var/j.sqlite3"}, "not both"),
        ({"password": {"env": "PGPASS"}}, "give url too"),
        ({"url": "mysql://gw@db/j"}, "must be a PostgreSQL URL"),
        ({"url": "postgresql://gw:hunter2@db/j"}, "must not hold the password"),
        ({"url": "postgresql://gw@db:port/j"}, "invalid port"),
    ],
)
def test_bad_journal_settings_are_refused_without_echoing_the_url(
    journal: dict[str, Any], message: str
) -> None:
    """Each mistake names the key; a password written into the URL is never repeated."""
    with pytest.raises(ConfigError, match=message) as err:
        _settings(**journal)
    assert "journal" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql://gw:s3cr%40t@db:5432/j?sslmode=require") == (
        "postgresql://gw:***@db:5432/j?sslmode=require"
    )
    assert mask_url("postgresql://gw@db/j") == "postgresql://gw@db/j"


def test_a_missing_driver_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the [postgres] extra, journal.url says what to install."""
    monkeypatch.setitem(sys.modules, "utlegg_gateway.journal.postgres", None)
    with pytest.raises(ConfigError, match=r"utlegg-gateway\[postgres\]"):
        open_journal(_settings(url="postgresql://gw@db/j"), clock=_clock)


def test_the_postgres_fixture_skips_or_fails_as_ci_wants(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a server: skipped on a workstation, a failure under CI."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("UTLEGG_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server"):
        _postgres.unavailable("initdb not found")
    monkeypatch.setenv("UTLEGG_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception, match="must run here"):
        _postgres.unavailable("initdb not found")


# --- against the server -------------------------------------------------------------------


@pytest.mark.postgres
def test_wrong_password_is_a_journal_error_that_never_shows_it(
    postgres_journal_settings: JournalSettings, tmp_path: Path
) -> None:
    """Refused credentials give JournalError (exit 2) naming the masked URL, not the secret."""
    secret = tmp_path / "wrong"
    secret.write_text("not-the-Password-42")
    settings = postgres_journal_settings.model_copy(
        update={"password": postgres_journal_settings.password.model_copy(update={"file": secret})}  # type: ignore[union-attr]
    )
    with pytest.raises(JournalError, match="password authentication failed") as err:
        open_journal(settings, clock=_clock)
    assert err.value.exit_code == 2
    assert err.value.value == settings.url
    assert "not-the-Password-42" not in str(err.value)
    # A password given in the URL itself (the Python API allows it) is masked and scrubbed.
    assert settings.url is not None
    inline = settings.url.replace(f"{_postgres.USER}@", f"{_postgres.USER}:wrong-Inline-7@")
    with pytest.raises(JournalError) as err:
        PostgresJournal.open(inline, clock=_clock)
    assert "wrong-Inline-7" not in str(err.value) + str(err.value.value)
    assert err.value.value == mask_url(inline)


@pytest.mark.postgres
def test_read_only_open_never_creates_and_never_writes(
    postgres_journal_settings: JournalSettings,
) -> None:
    """`status` on an empty database: "no journal"; on a journal: reads, refuses writes."""
    with pytest.raises(JournalError, match="no journal at"):
        open_journal(postgres_journal_settings, clock=_clock, read_only=True)
    with open_journal(postgres_journal_settings, clock=_clock) as j:
        j.register_file(inbox="csv", name="a.csv", sha256="a" * 64, size=1)
    with open_journal(postgres_journal_settings, clock=_clock, read_only=True) as j:
        assert j.summary()["files"]["claimed"] == 1
        with pytest.raises(JournalError, match="read-only"):
            j.register_file(inbox="csv", name="b.csv", sha256="b" * 64, size=1)


@pytest.mark.postgres
def test_threads_share_the_journal_and_duplicates_stay_exact(
    postgres_journal_settings: JournalSettings,
) -> None:
    """The gateway calls the journal from worker threads: the same content registered from
    eight threads at once is new exactly once, and every case gets its own row."""
    with open_journal(postgres_journal_settings, clock=_clock) as j:

        def claim(n: int) -> tuple[int | None, int]:
            record = j.register_file(inbox="csv", name=f"{n}.csv", sha256="e" * 64, size=1)
            case = j.add_case(
                record.id,
                key=f"S{n}",
                innsender_referanse=f"S{n}",
                begjaeringsdato="2026-12-01",
                payload={},
                source={},
            )
            j.set_case_state(case.id, CaseState.UPLOADING)
            return record.duplicate_of, case.id

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(claim, range(16)))
        assert sum(1 for dup, _ in results if dup is None) == 1
        assert len({case for _, case in results}) == 16
        assert j.summary()["cases"]["uploading"] == 16
        assert [f.state for f in j.files_in_states(FileState.CLAIMED)] == [FileState.CLAIMED] * 16


def _drop_connections(server: _postgres.PostgresServer, settings: JournalSettings) -> int:
    """End every server process of the journal's database, as a restart does; how many."""
    import psycopg

    assert settings.url is not None
    database = settings.url.rsplit("/", 1)[1]
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))"
            " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
def test_connections_the_server_dropped_are_replaced_not_fatal(
    postgres_server: _postgres.PostgresServer, postgres_journal_settings: JournalSettings
) -> None:
    """A restarted server (or a firewall) ends every pooled connection unseen: the next
    read and the next write each find a live connection, and nothing is lost or doubled.
    (A journal error here would stop the daemon.)"""
    with open_journal(postgres_journal_settings, clock=_clock) as j:
        first = j.register_file(inbox="csv", name="a.csv", sha256="a" * 64, size=1)
        # Readers at once leave more than one connection in the pool, all to be ended.
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert {f.name for f in pool.map(lambda _: j.file(first.id), range(16))} == {"a.csv"}

        assert _drop_connections(postgres_server, postgres_journal_settings) >= 1
        assert j.file(first.id).name == "a.csv"

        assert _drop_connections(postgres_server, postgres_journal_settings) >= 1
        j.register_file(inbox="csv", name="b.csv", sha256="b" * 64, size=1)

        files = j.files_in_states(FileState.CLAIMED)
        assert sorted(f.name for f in files) == ["a.csv", "b.csv"]


@pytest.mark.postgres
def test_once_runs_end_to_end_on_a_postgresql_journal(
    tmp_path: Path,
    make_sandbox: Any,
    credentials: Any,
    postgres_journal_settings: JournalSettings,
) -> None:
    """A whole `once` with journal.url: cases accepted, receipt written, rows in PostgreSQL,
    and `status` reads them from there (no SQLite file appears)."""
    from utlegg_gateway.demo import write_gateway_config
    from utlegg_gateway.gateway.runner import run_once
    from utlegg_gateway.operations import journal_status
    from utlegg_gateway.sandbox import SandboxOptions

    assert postgres_journal_settings.password is not None
    journal = {
        "url": postgres_journal_settings.url,
        "password": {"file": str(postgres_journal_settings.password.file)},
    }
    with make_sandbox(SandboxOptions(scanning_seconds=0.0)) as sandbox:
        config = write_gateway_config(
            tmp_path,
            sandbox=sandbox,
            credentials=credentials,
            inboxes={"csv-krav": ["csv-krav"]},
            mapping_dirs=[MAPPINGS],
            stable_seconds=0.05,
            receipt_formats=("json",),
            extra={"journal": journal},
        )
        inbox = tmp_path / "inbox" / "csv-krav"
        drop_attachments("csv-krav", inbox)
        drop_renamed(FORMATS["csv-krav"], inbox)
        settings = load_settings(config, environ={})
        assert settings.journal.url == postgres_journal_settings.url

        report = run_once(settings)

        assert report.exit_code == 0
        got = receipt(tmp_path / "outbox", FORMATS["csv-krav"].name)
        assert sorted(c["innsenderReferanse"] for c in got["cases"]) == sorted(SAMPLE_CASES)
        assert {c["status"] for c in got["cases"]} == {"accepted"}
    status = journal_status(settings)
    assert status["files"]["done"] == 1
    assert status["cases"]["accepted"] == len(SAMPLE_CASES)
    assert not list(tmp_path.rglob("*.sqlite3"))
