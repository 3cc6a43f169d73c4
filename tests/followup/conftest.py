"""Fixtures for the follow-up tests: a real sandbox on loopback, a real journal, real folders.

Cases are submitted to the sandbox through the real `ElanClient` (the official model 1.1
example with its attachments uploaded) and recorded as accepted in the journal the way
the pipeline does, so the pollers see exactly what they see in production.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._data import REFERENCE
from utlegg_gateway.config import Settings
from utlegg_gateway.elan import Accepted, ElanClient, build_client
from utlegg_gateway.journal.sqlite import CaseRecord, CaseState, Journal

ORGNR = "312597772"  # the innsender of the reference begjæring; also our system user's org
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Clock:
    """The gateway's clock in tests: real time plus an offset moved with the sandbox's."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)


@dataclass
class Env:
    """Everything one follow-up test works with."""

    sandbox: Any
    settings: Settings
    journal: Journal
    clock: Clock
    root: Path
    credentials: Any

    @property
    def outbox(self) -> Path:
        return self.settings.folders.outbox

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock and the gateway clock together."""
        self.sandbox.admin.advance_clock(seconds)
        self.clock.offset += seconds


def settings_for(sandbox: Any, root: Path, credentials: Any, **extra: Any) -> Settings:
    """Settings pointing at `sandbox`, as a system user of ORGNR, with folders under `root`."""
    data = settings_data(sandbox, root, credentials, **extra)
    return Settings.model_validate(data | {"base_dir": root}, context={"base_dir": root})


def settings_data(sandbox: Any, root: Path, credentials: Any, **extra: Any) -> dict[str, Any]:
    """The configuration as plain data (what a YAML config file for it would hold)."""
    data: dict[str, Any] = {
        "environment": "test",
        "organisation": ORGNR,
        "maskinporten": {
            "client_id": credentials.client_id,
            "issuer": sandbox.issuer,
            "token_endpoint": sandbox.token_endpoint,
            "pkcs12_file": str(credentials.pkcs12_file),
            "pkcs12_password": {"file": str(credentials.password_file)},
            "systembruker": {"org": ORGNR},
        },
        "elan": {
            "base_url": sandbox.elan_base_url,
            "retry": {"attempts": 4, "initial_wait_seconds": 0.005, "max_wait_seconds": 0.05},
        },
        "journal": {"path": str(root / "state" / "journal.sqlite3")},
        "folders": {
            "outbox": str(root / "outbox"),
            "work": str(root / "work"),
            "archive": str(root / "archive"),
            "failed": str(root / "failed"),
        },
        "dialogporten": {
            "enabled": True,
            "base_url": sandbox.url + "/dialogporten",
            "page_limit": 2,
        },
    }
    for key, value in extra.items():
        data[key] = (data.get(key) or {}) | value if isinstance(value, dict) else value
    return data


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One client whose system user is ORGNR, for the whole session (keys are slow)."""
    from utlegg_gateway.sandbox.certs import write_credentials

    return write_credentials(
        tmp_path_factory.mktemp("creds"), orgnr=ORGNR, systemuser_orgs=(ORGNR,)
    )


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """SandboxOptions fields for this test (a test module may override this fixture)."""
    return {}


@pytest.fixture
def sandbox(credentials: Any, sandbox_options: dict[str, Any]) -> Iterator[Any]:
    """A fresh sandbox serving model 1.1; attachments ready at once; our client registered."""
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    defaults: dict[str, Any] = {"model_version": "1.1", "scanning_seconds": 0.0}
    options = SandboxOptions(**(defaults | sandbox_options))
    with running_sandbox(options, credentials=[credentials]) as running:
        yield running


@pytest.fixture
def env(sandbox: Any, credentials: Any, tmp_path: Path) -> Iterator[Env]:
    """Settings, an open journal and a clock for one test."""
    clock = Clock()
    settings = settings_for(sandbox, tmp_path, credentials)
    journal = Journal.open(settings.journal.path, clock=clock)
    try:
        yield Env(sandbox, settings, journal, clock, tmp_path, credentials)
    finally:
        journal.close()


def begjaering(innsender_referanse: str) -> dict[str, Any]:
    """The official example under a new innsenderReferanse."""
    data: dict[str, Any] = copy.deepcopy(json.loads(REFERENCE.read_text(encoding="utf-8")))
    data["innsenderReferanse"] = innsender_referanse
    return data


def _attachment_refs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "uuid" in node and "filnavn" in node:
            yield node
        for value in node.values():
            yield from _attachment_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _attachment_refs(value)


async def submit_case(
    elan: ElanClient, journal: Journal, innsender_referanse: str, *, inbox: str = "test"
) -> CaseRecord:
    """Submit one case to the sandbox and record it as accepted, as the pipeline would."""
    payload = begjaering(innsender_referanse)
    for ref in _attachment_refs(payload):
        name = f"{ref['filnavn']}.pdf"
        upload = await elan.upload_attachment(PDF, name, innsender_referanse)
        ref["uuid"] = upload.uuid
        await elan.wait_until_ready([upload], payload)
    result = await elan.submit(payload)
    assert isinstance(result, Accepted), result
    file = journal.register_file(
        inbox=inbox, name=f"{innsender_referanse}.json", sha256=innsender_referanse, size=1
    )
    case = journal.add_case(
        file.id,
        key="1",
        innsender_referanse=innsender_referanse,
        begjaeringsdato=str(payload["begjaeringsdato"]),
        payload=payload,
        source={"element": "/"},
    )
    journal.set_case_state(case.id, CaseState.UPLOADING)
    journal.set_case_state(case.id, CaseState.SUBMITTING, meldingsid="m-" + innsender_referanse)
    return journal.set_case_state(
        case.id, CaseState.ACCEPTED, ekstern_saksreferanse=result.ekstern_saksreferanse
    )


def elan_client(env: Env) -> ElanClient:
    """The real ELAN client for the test's settings."""
    return build_client(env.settings)


class StallFirstWrite:
    """An `after_write` hook: the first write waits until `count` writes have happened.

    Called on the event loop, that wait would hold the loop, so no other write could
    come: the hook's assertion fails with only the first one listed. Called from a worker
    thread, the other writes go on and release it.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.written: list[str] = []
        self._all = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> None:
        with self._lock:
            self.written.append(path.name)
            first = len(self.written) == 1
            if len(self.written) == self.count:
                self._all.set()
        if first:
            assert self._all.wait(timeout=20), f"the others waited for this write: {self.written}"
