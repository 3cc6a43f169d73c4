"""Shared fixtures: a real sandbox on 127.0.0.1 (random port) and credentials it trusts.

def test_x(sandbox, sandbox_credentials): ...        # default options, client registered
def test_y(make_sandbox): with make_sandbox(SandboxOptions(model_version="1.1")) as sb: ...
def test_z(strict_or_lenient_sandbox): ...          # runs twice: lenient and strict mode
def test_j(journal_store): ...                      # runs twice: SQLite and PostgreSQL

Every test using the `sandbox` fixture runs in both modes (ids `[lenient]`, `[strict]`):
the gateway must behave in the published world as in the richer one. `--sandbox-mode
strict` (or lenient) runs only that mode.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import _postgres
from tests._outbox_contract import check_tree

SANDBOX_ORGNR = "312597772"  # the innsender of the official reference begjæring
SANDBOX_SYSTEMUSER_ORG = "313367002"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sandbox-mode",
        choices=("both", "lenient", "strict"),
        default="both",
        help="Mode(s) of the `sandbox` fixture (strict: only what Skatteetaten publishes).",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only the root `sandbox` fixture asks for `sandbox_mode` (tests/elan has its own).
    if "sandbox_mode" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--sandbox-mode")
        modes = ["lenient", "strict"] if chosen == "both" else [chosen]
        metafunc.parametrize("sandbox_mode", modes)


@pytest.fixture(scope="session")
def sandbox_credentials(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One client (certificate, kid key, one system user) per session: RSA keys are slow."""
    from utlegg_gateway.sandbox import write_credentials

    directory: Path = tmp_path_factory.mktemp("sandbox-creds")
    return write_credentials(
        directory, orgnr=SANDBOX_ORGNR, systemuser_orgs=(SANDBOX_SYSTEMUSER_ORG,)
    )


@pytest.fixture
def credentials(sandbox_credentials: Any) -> Any:
    """The same client, under the short name the gateway tests use."""
    return sandbox_credentials


@pytest.fixture
def make_sandbox(
    sandbox_credentials: Any,
) -> Callable[..., AbstractContextManager[Any]]:
    """Start a sandbox with given options (our client registered); use as a context manager."""
    from utlegg_gateway.sandbox import running_sandbox

    def start(options: Any = None, **kw: Any) -> AbstractContextManager[Any]:
        return running_sandbox(options, credentials=[sandbox_credentials], **kw)

    return start


@pytest.fixture
def sandbox(
    make_sandbox: Callable[..., AbstractContextManager[Any]], sandbox_mode: str
) -> Iterator[Any]:
    """A fresh sandbox (default model, attachments ready at once) with our client registered."""
    from utlegg_gateway.sandbox import SandboxOptions

    options = SandboxOptions(scanning_seconds=0.0, strict=sandbox_mode == "strict")
    with make_sandbox(options) as running:
        yield running


@pytest.fixture(params=["lenient", "strict"])
def strict_or_lenient_sandbox(
    make_sandbox: Callable[..., AbstractContextManager[Any]], request: pytest.FixtureRequest
) -> Iterator[Any]:
    """The `sandbox`, once in each mode: for tests whose gateway behaviour must hold in both."""
    from utlegg_gateway.sandbox import SandboxOptions

    options = SandboxOptions(scanning_seconds=0.0, strict=request.param == "strict")
    with make_sandbox(options) as running:
        yield running


@pytest.fixture(autouse=True)
def _outbox_files_follow_their_schemas(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that used tmp_path: each outbox file it wrote fits its published
    schema (docs/outbox.md), so no test can write an outbox file no schema describes."""
    if "tmp_path" not in request.fixturenames:
        yield
        return
    root: Path = request.getfixturevalue("tmp_path")  # before yield: torn down after us
    yield
    broken = check_tree(root)
    assert not broken, f"outbox files that break their schema: {broken}"


@pytest.fixture(autouse=True)
def _sandbox_answers_follow_published_contracts() -> Iterator[None]:
    """Every exchange any sandbox in this process serves during the test (and the request
    our client sent) holds to the contract its counterpart publishes (tests/contract/,
    docs/elan-contract.md "Contract tests"); checked once the test and its fixtures end."""
    from tests.contract.exchanges import check_exchanges
    from utlegg_gateway.sandbox.recorder import Exchange, recording

    exchanges: list[Exchange] = []
    with recording(exchanges.append):
        yield
    findings = check_exchanges(exchanges)
    assert not findings, "sandbox exchanges that break a published contract:\n" + "\n".join(
        findings[:20]
    )


# --- journal backends (tests/_postgres.py) ---------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_postgres.PostgresServer]:
    """One throwaway PostgreSQL server per test process; skipped (locally) or failed (CI,
    UTLEGG_REQUIRE_POSTGRES=1) when it cannot start."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(_postgres.running_server())
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            _postgres.unavailable(str(exc))
        yield server


@pytest.fixture
def postgres_journal_settings(
    postgres_server: _postgres.PostgresServer, tmp_path: Path
) -> Iterator[Any]:
    """JournalSettings for a fresh database of its own, the password in a secret file."""
    from utlegg_gateway.config import JournalSettings

    name = postgres_server.create_database()
    secret = tmp_path / "journal-password"
    secret.write_text(_postgres.PASSWORD + "\n")
    yield JournalSettings.model_validate(
        {"url": postgres_server.url(name), "password": {"file": str(secret)}}
    )
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def journal_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """JournalSettings of each backend in turn: an SQLite file, a PostgreSQL database."""
    from utlegg_gateway.config import JournalSettings

    if request.param == "postgres":
        return request.getfixturevalue("postgres_journal_settings")
    return JournalSettings.model_validate({"path": str(tmp_path / "state" / "journal.sqlite3")})


def _journal_clock() -> datetime:
    return datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
def journal_store(journal_settings: Any) -> Iterator[Any]:
    """An open journal of each backend in turn (ids `[sqlite]`, `[postgres]`)."""
    from utlegg_gateway.journal import open_journal

    with open_journal(journal_settings, clock=_journal_clock) as store:
        yield store
