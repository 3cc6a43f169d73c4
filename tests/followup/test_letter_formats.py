"""Letters for legacy readers (issue 13, item 7): CSV and XML as the inbox's receipt_formats."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests._outbox_contract import check_file
from tests.followup.conftest import Clock, Env, elan_client, settings_for, submit_case
from utlegg_gateway.followup import build_followup
from utlegg_gateway.followup.letters import letter_rules
from utlegg_gateway.journal.sqlite import Journal


def _inbox(name: str, root: Path, formats: list[str], **extra: Any) -> dict[str, Any]:
    (root / "inbox" / name).mkdir(parents=True, exist_ok=True)
    return {
        "name": name,
        "path": str(root / "inbox" / name),
        "mappings": ["csv-krav"],
        "receipt_formats": formats,
        **extra,
    }


@pytest.fixture
def env2(sandbox: Any, credentials: Any, tmp_path: Path) -> Iterator[Env]:
    """Two inboxes: `legacy` asks for CSV (cp1252, `,`) and XML, `modern` for JSON only."""
    clock = Clock()
    inboxes = [
        _inbox(
            "legacy",
            tmp_path,
            ["json", "csv", "xml"],
            receipt_csv_encoding="cp1252",
            receipt_csv_delimiter=",",
        ),
        _inbox("modern", tmp_path, ["json"]),
    ]
    settings = settings_for(sandbox, tmp_path, credentials, inboxes=inboxes)
    journal = Journal.open(settings.journal.path, clock=clock)
    try:
        yield Env(sandbox, settings, journal, clock, tmp_path, credentials)
    finally:
        journal.close()


async def _submit(env: Env, refs: dict[str, str]) -> None:
    async with elan_client(env) as elan:
        for ref, inbox in refs.items():
            await submit_case(elan, env.journal, ref, inbox=inbox)


async def _poll(env: Env) -> list[Any]:
    async with (
        elan_client(env) as elan,
        build_followup(env.settings, env.journal, elan, clock=env.clock) as followup,
    ):
        assert followup.letters is not None
        return list(await followup.letters.poll_once())


def test_a_rettebrev_is_written_as_csv_and_xml_for_the_inbox_that_asks(env2: Env) -> None:
    asyncio.run(_submit(env2, {"IB-LEGACY-17": "legacy", "IB-MODERN-27": "modern"}))
    env2.advance(3601)
    written = {w.innsender_referanse: w for w in asyncio.run(_poll(env2))}
    assert set(written) == {"IB-LEGACY-17", "IB-MODERN-27"}

    legacy = written["IB-LEGACY-17"]
    doc = json.loads(legacy.json_file.read_bytes())
    assert doc["regler"] == ["MANGLER_OPPLYSNINGER_OM_SAKSOEKT"]
    [pdf] = legacy.attachments
    assert [p.suffix for p in legacy.copies] == [".csv", ".xml"]
    csv_file, xml_file = legacy.copies
    assert csv_file.name == legacy.json_file.with_suffix(".csv").name

    raw = csv_file.read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")  # cp1252, no BOM
    header, *rows = list(csv.reader(io.StringIO(raw.decode("cp1252"), newline=""), delimiter=","))
    assert header[:3] == ["art", "meldingId", "innsenderReferanse"]
    [row] = [dict(zip(header, r, strict=True)) for r in rows]
    assert row["art"] == "rettebrev"
    assert row["meldingId"] == doc["meldingId"]
    assert row["innsenderReferanse"] == "IB-LEGACY-17"
    assert row["begjaeringsdato"] == doc["begjaeringsdato"]
    assert row["eksternSaksreferanse"] == doc["eksternSaksreferanse"]
    assert row["opprettet"] == doc["opprettet"]
    assert row["tittel"] == doc["tittel"] == "Rettebrev: utleggsbegjæring IB-LEGACY-17 må rettes"
    assert row["regel"] == "MANGLER_OPPLYSNINGER_OM_SAKSOEKT"
    assert row["fil"] == pdf.name and pdf.is_file()

    root = etree.fromstring(xml_file.read_bytes())
    assert root.tag == "melding"
    assert root.findtext("innsenderReferanse") == "IB-LEGACY-17"
    assert [r.text for r in root.iterfind("regler/regel")] == doc["regler"]
    assert [f.text for f in root.iterfind("vedlegg/fil")] == [pdf.name]
    for path in (legacy.json_file, csv_file, xml_file):
        assert check_file(path) == [], path

    modern = written["IB-MODERN-27"]
    assert modern.copies == ()
    stem = modern.json_file.name.removesuffix(".json")
    assert sorted(p.name for p in modern.json_file.parent.glob(stem + "*")) == sorted(
        [modern.json_file.name, *(p.name for p in modern.attachments)]
    )
    # No temp files left behind: every write was atomic.
    assert not [p for p in legacy.json_file.parent.iterdir() if p.name.startswith(".")]


def test_a_letter_naming_several_rules_gets_a_row_each(env2: Env) -> None:
    """The sandbox's rule list is configurable; two rules → two CSV rows, two <regel>."""
    import httpx

    rules = ["MANGLER_OPPLYSNINGER_OM_SAKSOEKT", "UGYLDIG_KRAVGRUNNLAG"]
    httpx.put(
        env2.sandbox.url + "/_sandbox/dialogporten/options", json={"rettebrev_rules": rules}
    ).raise_for_status()
    asyncio.run(_submit(env2, {"IB-LEGACY-37": "legacy"}))
    env2.advance(3601)
    [letter] = asyncio.run(_poll(env2))
    csv_file, xml_file = letter.copies
    text = csv_file.read_bytes().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=","))[1:]
    assert [r[8] for r in rows] == rules
    assert [r.text for r in etree.fromstring(xml_file.read_bytes()).iterfind("regler/regel")] == (
        rules
    )


def test_rule_codes_are_read_from_the_letter_text() -> None:
    assert letter_rules("Vilkår som må rettes: A_B, C_D_E. Sak X-1.", "Rettebrev A_B") == [
        "A_B",
        "C_D_E",
    ]
    assert letter_rules(None, "Vedtak om utlegg") == []
