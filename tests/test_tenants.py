"""Vendor mode end to end: tenants in one gateway, against the real sandbox.

A system vendor's client (our test credentials, organisation SANDBOX_ORGNR) files for
two customers: `alfa` through the Altinn system user of SANDBOX_SYSTEMUSER_ORG, `beta`
as the vendor's own organisation. Each tenant's export carries its own organisation as
innsender, as a customer's system would write it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import SANDBOX_ORGNR, SANDBOX_SYSTEMUSER_ORG
from tests.e2e._support import (
    FORMATS,
    MAPPINGS,
    SAMPLE_CASES,
    drop_attachments,
    drop_renamed,
    make_batch,
    receipt,
)
from utlegg_gateway.cli import main
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.errors import ConfigError
from utlegg_gateway.gateway.runner import run_once

ALFA, BETA = SANDBOX_SYSTEMUSER_ORG, SANDBOX_ORGNR


def _vendor_config(tmp_path: Path, sandbox: Any, credentials: Any) -> Path:
    """The test gateway's configuration with its one inbox moved into two tenants."""
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
    )
    data = yaml.safe_load(config.read_text("utf-8"))
    (template,) = data.pop("inboxes")
    data["tenants"] = [
        {
            "name": "alfa",
            "organisation": ALFA,
            "maskinporten": {"systembruker": {"org": ALFA}},
            "inboxes": [{**template, "name": "alfa-csv", "path": "inbox/alfa"}],
        },
        {
            "name": "beta",
            "organisation": BETA,
            "inboxes": [{**template, "name": "beta-csv", "path": "inbox/beta"}],
        },
    ]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return config


def _inbox(tmp_path: Path, tenant: str) -> Path:
    inbox = tmp_path / "inbox" / tenant
    inbox.mkdir(parents=True, exist_ok=True)
    drop_attachments("csv-krav", inbox)
    return inbox


def _as_of(src: Path, dst: Path, orgnr: str) -> Path:
    """The export as the customer `orgnr` writes it: its own organisation as innsender."""
    staged = dst.with_name(dst.name + ".tmp")
    staged.write_bytes(src.read_bytes().replace(BETA.encode(), orgnr.encode()))
    staged.replace(dst)
    return dst


def _rows(config: Path, sql: str) -> list[tuple[Any, ...]]:
    path = load_settings(config, environ={}).journal.path
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def test_each_tenant_files_with_its_own_token_folders_and_journal_rows(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """The same export name and case numbers at two customers: each is mapped, sent with
    its own token (one grant per tenant, cached), answered in its own outbox, archived in
    its own archive, and journalled under its tenant."""
    config = _vendor_config(tmp_path, sandbox, credentials)
    name = FORMATS["csv-krav"].name
    _as_of(FORMATS["csv-krav"], _inbox(tmp_path, "alfa") / name, ALFA)
    drop_renamed(FORMATS["csv-krav"], _inbox(tmp_path, "beta"))

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 0, [o.file.error for o in report.outcomes]
    for tenant, org in (("alfa", ALFA), ("beta", BETA)):
        got = receipt(tmp_path / "outbox" / tenant, name)
        assert {c["innsenderReferanse"] for c in got["cases"]} == SAMPLE_CASES
        assert {c["status"] for c in got["cases"]} == {"accepted"}
        held = {c["eksternSaksreferanse"] for c in sandbox.admin.cases() if c["org"] == org}
        assert {c["eksternSaksreferanse"] for c in got["cases"]} == held
        assert [p.parent.parent.name for p in (tmp_path / "archive").rglob(name)].count(tenant) == 1
    assert not (tmp_path / "outbox" / name).exists()
    # Every begjæring went out under the token of its tenant's organisation.
    submits = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    assert sorted((s["org"], s["status"]) for s in submits) == sorted(
        [(ALFA, 201)] * 2 + [(BETA, 201)] * 2
    )
    stats = sandbox.admin.stats()
    assert stats["grants_issued"] == 2  # one token per tenant identity, reused for each call
    assert stats["max_concurrency_seen"] <= 5
    assert stats["rejected_concurrency"] == 0
    assert sorted(_rows(config, "SELECT tenant, inbox FROM files")) == [
        ("alfa", "alfa-csv"),
        ("beta", "beta-csv"),
    ]
    assert sorted(_rows(config, "SELECT tenant, COUNT(*) FROM cases GROUP BY tenant")) == [
        ("alfa", 2),
        ("beta", 2),
    ]

    # status: every tenant with a breakdown, or one tenant.
    runner = CliRunner()
    both = runner.invoke(main, ["status", "--config", str(config), "--json"])
    assert both.exit_code == 0, both.output
    summary = json.loads(both.output)
    assert summary["cases"]["accepted"] == 4
    assert summary["tenants"]["alfa"]["cases"]["accepted"] == 2
    assert summary["tenants"]["beta"]["files"]["done"] == 1
    one = runner.invoke(main, ["status", "--config", str(config), "--json", "--tenant", "beta"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.output)["cases"]["accepted"] == 2
    unknown = runner.invoke(main, ["status", "--config", str(config), "--tenant", "gamma"])
    assert unknown.exit_code == 2
    assert "no tenant 'gamma'" in unknown.output
    assert "alfa, beta" in unknown.output


def test_a_tenant_cannot_send_as_another(tmp_path: Path, sandbox: Any, credentials: Any) -> None:
    """beta's export dropped in alfa's inbox (or alfa mis-configured): its innsender is not
    the organisation alfa's token represents, so no case of it is sent; beta's own file
    in the same run goes through."""
    config = _vendor_config(tmp_path, sandbox, credentials)
    name = FORMATS["csv-krav"].name
    drop_renamed(FORMATS["csv-krav"], _inbox(tmp_path, "alfa"))  # innsender BETA
    drop_renamed(FORMATS["csv-krav"], _inbox(tmp_path, "beta"))

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 1
    wrong = receipt(tmp_path / "outbox" / "alfa", name)
    for case in wrong["cases"]:
        assert case["status"] == "rejected"
        rules = {(e["rule"], e["origin"]) for e in case["errors"]}
        assert ("INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING", "local") in rules
    right = receipt(tmp_path / "outbox" / "beta", name)
    assert {c["status"] for c in right["cases"]} == {"accepted"}
    # Nothing reached ELAN under alfa's token, not even an upload.
    assert {s["org"] for s in sandbox.admin.submissions()} == {BETA}
    assert {u["org"] for u in sandbox.admin.uploads()} == {BETA}


def test_a_small_file_is_not_held_up_by_another_tenant_s_big_one(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """alfa's 300-case export is claimed first; beta's 2-case export, dropped with it, is
    answered before alfa is half done: each tenant maps in its own thread and sends
    through its own 5 slots."""
    config = _vendor_config(tmp_path, sandbox, credentials)
    big = _inbox(tmp_path, "alfa") / "utlegg_20260101_020000.csv"
    make_batch(300, big)
    _as_of(big, big, ALFA)
    drop_renamed(FORMATS["csv-krav"], _inbox(tmp_path, "beta"))
    delay = {"probability": 1.0, "actions": ["delay:0.02"]}
    sandbox.admin.set_faults({"upload": delay, "submit": delay})

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 0
    beta_done = _rows(
        config,
        "SELECT t.at FROM transitions t JOIN files f ON f.id = t.entity_id"
        " WHERE t.entity = 'file' AND f.tenant = 'beta' AND t.to_state = 'done'",
    )
    alfa_ended = sorted(
        at
        for (at,) in _rows(
            config,
            "SELECT t.at FROM transitions t JOIN cases c ON c.id = t.entity_id"
            " WHERE t.entity = 'case' AND c.tenant = 'alfa' AND t.to_state = 'accepted'",
        )
    )
    assert len(alfa_ended) == 300
    assert len(beta_done) == 1
    assert beta_done[0][0] < alfa_ended[150], (beta_done, alfa_ended[0], alfa_ended[150])
    stats = sandbox.admin.stats()
    assert stats["max_concurrency_seen"] <= 5  # per organisation and API
    assert stats["rejected_concurrency"] == 0


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


TENANT = {"name": "alfa", "organisation": ALFA, "inboxes": [{"name": "a", "path": "in/a"}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tenants": [{**TENANT, "journal": {"path": "x"}}]}, "journal cannot be set per tenant"),
        ({"tenants": [{**TENANT, "name": "Alfa Inkasso"}]}, "tenants.0.name must be given"),
        ({"tenants": [{k: v for k, v in TENANT.items() if k != "organisation"}]}, "organisation"),
        (
            {"tenants": [TENANT, {**TENANT, "name": "beta", "inboxes": []}]},
            "tenant organisations must be unique; repeated: " + ALFA,
        ),
        (
            {"tenants": [TENANT, {**TENANT, "name": "beta", "organisation": BETA}]},
            "inbox names (across tenants) must be unique; repeated: a",
        ),
        (
            {"inboxes": [{"name": "b", "path": "in/b"}], "tenants": [TENANT]},
            "with tenants, each inbox belongs to a tenant",
        ),
    ],
)
def test_a_tenant_configuration_that_cannot_be_right_is_refused(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, data), environ={})
    assert message in caught.value.message


def test_a_tenant_inherits_the_vendor_s_settings_and_gets_its_own_folders(
    tmp_path: Path,
) -> None:
    data = {
        "organisation": BETA,
        "maskinporten": {"client_id": "vendor", "kid": "k1", "private_key": {"env": "KEY"}},
        "folders": {"outbox": "/srv/out", "archive_retention_days": 30},
        "tenants": [
            {**TENANT, "maskinporten": {"systembruker": {"org": ALFA}}},
            {
                "name": "beta",
                "organisation": BETA,
                "folders": {"outbox": "beta-out"},
                "inboxes": [{"name": "b", "path": "in/b"}],
            },
        ],
    }
    settings = load_settings(_write(tmp_path, data), environ={})
    alfa, beta = settings.tenant_settings()
    assert (alfa.tenant, alfa.acting_organisation, beta.acting_organisation) == ("alfa", ALFA, BETA)
    assert (alfa.maskinporten.client_id, alfa.maskinporten.kid) == ("vendor", "k1")
    assert beta.maskinporten.systembruker is None
    assert alfa.folders.outbox == Path("/srv/out/alfa")
    assert alfa.folders.work == tmp_path / "work" / "alfa"
    assert beta.folders.outbox == tmp_path / "beta-out"
    assert beta.folders.archive == tmp_path / "archive" / "beta"
    assert alfa.folders.archive_retention_days == 30
    assert alfa.inboxes[0].path == tmp_path / "in" / "a"
    # A plain configuration is its own one tenant.
    plain = load_settings(_write(tmp_path, {"organisation": BETA}), environ={})
    assert plain.tenant_settings() == (plain,)
    assert plain.tenant == ""
