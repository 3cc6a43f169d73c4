"""Letters from the sandbox's Dialogporten: written once, linked to our case, never lost."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.followup.conftest import Env, StallFirstWrite, elan_client, submit_case
from utlegg_gateway.errors import GatewayError
from utlegg_gateway.followup import build_followup


def _letters(folder: Path) -> dict[str, dict[str, object]]:
    """meldingId -> the letter JSON, for every letter in `folder`."""
    out = {}
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_bytes())
        assert doc["meldingId"] not in out, f"letter {doc['meldingId']} written twice"
        out[str(doc["meldingId"])] = doc | {"_file": path.name}
    return out


async def _submit(env: Env, refs: list[str]) -> None:
    async with elan_client(env) as elan:
        await asyncio.gather(*(submit_case(elan, env.journal, ref) for ref in refs))


async def _poll(env: Env) -> list[str]:
    async with (
        elan_client(env) as elan,
        build_followup(env.settings, env.journal, elan, clock=env.clock) as followup,
    ):
        assert followup.letters is not None
        return [f.json_file.name for f in await followup.letters.poll_once()]


def test_rettebrev_appears_with_its_pdf_and_our_reference(env: Env) -> None:
    """A case ending in 7 gets a rettebrev after the clock moves; others get none."""
    asyncio.run(_submit(env, ["IB-LETTER-17", "IB-LETTER-18"]))
    assert asyncio.run(_poll(env)) == []  # not due yet on the sandbox clock
    env.advance(3601)
    written = asyncio.run(_poll(env))
    assert len(written) == 1
    folder = env.outbox / "meldinger"
    (letter,) = _letters(folder).values()
    assert letter["art"] == "rettebrev"
    assert letter["innsenderReferanse"] == "IB-LETTER-17"
    case = env.journal.accepted_case("IB-LETTER-17", str(letter["begjaeringsdato"]))
    assert case is not None and letter["eksternSaksreferanse"] == case.ekstern_saksreferanse
    assert "MANGLER_OPPLYSNINGER_OM_SAKSOEKT" in str(letter["sammendrag"])
    attachments: Any = letter["vedlegg"]
    (attachment,) = attachments
    pdf = (folder / attachment["fil"]).read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) == attachment["bytes"]
    assert str(letter["_file"]).startswith("IB-LETTER-17.rettebrev.")
    # Polled again: nothing new, nothing rewritten; and the dialog was never marked seen.
    assert asyncio.run(_poll(env)) == []
    assert httpx.get(env.sandbox.url + "/_sandbox/dialogporten/seenlog").json() == {}


def test_poller_restarted_mid_page_neither_misses_nor_duplicates(env: Env) -> None:
    """A connection dropped on page 2 of 3, then a fresh poller: 5 letters, each once."""
    refs = [f"IB-PAGE-{n}7" for n in range(5)]
    asyncio.run(_submit(env, refs))
    env.advance(3601)
    httpx.put(
        env.sandbox.url + "/_sandbox/dialogporten/faults", json={"search": ["ok", "drop"]}
    ).raise_for_status()
    with pytest.raises(GatewayError):
        asyncio.run(_poll(env))  # page 1 (2 letters) written, then the drop
    first = _letters(env.outbox / "meldinger")
    assert len(first) == 2
    assert (
        env.journal.get_cursor(
            "dialogporten.cursor.urn_altinn_organization_identifier-no_312597772."
            "urn_altinn_resource_ske-utleggsbegjaering"
        )
        is None
    ), "the cursor must not move past a failed cycle"
    rest = asyncio.run(_poll(env))  # the "restarted" poller: new client, same journal
    assert len(rest) == 3
    letters = _letters(env.outbox / "meldinger")
    assert sorted(str(x["innsenderReferanse"]) for x in letters.values()) == sorted(refs)
    assert len(list((env.outbox / "meldinger").glob("*.pdf"))) == 5


def test_backdated_letter_is_found_by_the_wide_sweep(env: Env) -> None:
    """A letter dated before the cursor's overlap is missed by the normal poll, not the sweep."""
    asyncio.run(_poll(env))  # first run: sets cursor and sweep time
    env.advance(2 * 86400)
    asyncio.run(_poll(env))  # the sweep is due: this one is the daily sweep
    backdated = (env.clock() - timedelta(days=2)).isoformat()
    httpx.post(
        env.sandbox.url + "/_sandbox/dialogporten/letters",
        json={"orgnr": "312597772", "kind": "varsel", "visibleAt": backdated, "title": "Varsel"},
    ).raise_for_status()
    assert asyncio.run(_poll(env)) == []  # within the day: cursor - overlap misses it
    env.advance(86400)
    (name,) = asyncio.run(_poll(env))  # the next daily sweep reaches a week back
    assert name.startswith("ukjent-sak.varsel.")


def test_one_dialog_per_letter_mode_reads_the_dialog_and_its_attachments(
    env: Env, credentials: object
) -> None:
    """letters_as=dialogs: each dialog is a letter (GET dialog, which marks it seen)."""
    from tests.followup.conftest import settings_for

    httpx.put(
        env.sandbox.url + "/_sandbox/dialogporten/options", json={"dialog_per": "letter"}
    ).raise_for_status()
    asyncio.run(_submit(env, ["IB-DIALOG-7"]))
    env.advance(3601)
    env.settings = settings_for(
        env.sandbox, env.root, credentials, dialogporten={"letters_as": "dialogs"}
    )
    (name,) = asyncio.run(_poll(env))
    assert name.startswith("IB-DIALOG-7.rettebrev.")  # the kind from extendedStatus
    (letter,) = _letters(env.outbox / "meldinger").values()
    assert letter["innsenderReferanse"] == "IB-DIALOG-7"
    attachments: Any = letter["vedlegg"]
    (attachment,) = attachments
    assert (env.outbox / "meldinger" / attachment["fil"]).read_bytes().startswith(b"%PDF-")
    seen = httpx.get(env.sandbox.url + "/_sandbox/dialogporten/seenlog").json()
    assert list(seen.values()) == [1]
    assert asyncio.run(_poll(env)) == []  # the dialog id is recorded: not again


def test_dialogporten_without_a_system_user_is_a_configuration_error(
    env: Env, credentials: object
) -> None:
    """The end-user API takes Maskinporten tokens only for system users: refuse at build."""
    from tests.followup.conftest import settings_for
    from utlegg_gateway.errors import ConfigError

    settings = settings_for(env.sandbox, env.root, credentials)
    mp = settings.maskinporten.model_copy(update={"systembruker": None})
    settings = settings.model_copy(update={"maskinporten": mp})

    async def build() -> None:
        async with elan_client(env) as elan:
            build_followup(settings, env.journal, elan, clock=env.clock)

    with pytest.raises(ConfigError, match="systembruker"):
        asyncio.run(build())


def test_restarted_sandbox_shows_the_same_letters(credentials: Any, tmp_path: Path) -> None:
    """Letters derive from the stored cases: after a restart on the state file, same ids."""
    from tests.followup.conftest import Clock, settings_for
    from utlegg_gateway.journal.sqlite import Journal
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    options = SandboxOptions(
        model_version="1.1", scanning_seconds=0.0, state_file=tmp_path / "sandbox.sqlite3"
    )
    ids = []
    for run in (1, 2):
        with running_sandbox(options, credentials=[credentials]) as sandbox:
            root = tmp_path / f"gw{run}"
            clock = Clock()
            settings = settings_for(sandbox, root, credentials)
            journal = Journal.open(settings.journal.path, clock=clock)
            env = Env(sandbox, settings, journal, clock, root, credentials)
            try:
                if run == 1:
                    asyncio.run(_submit(env, ["IB-RESTART-7"]))
                    env.advance(3601)
                asyncio.run(_poll(env))
                ids.append(sorted(_letters(root / "outbox" / "meldinger")))
            finally:
                journal.close()
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_a_failing_dialog_ends_the_cycle_after_the_others_and_is_retried(env: Env) -> None:
    """One transmissions call answers 503: its sibling is still written; next cycle the rest."""
    asyncio.run(_submit(env, ["IB-FAIL-17", "IB-FAIL-27"]))
    env.advance(3601)
    httpx.put(
        env.sandbox.url + "/_sandbox/dialogporten/faults", json={"transmissions": ["503"]}
    ).raise_for_status()
    with pytest.raises(GatewayError):
        asyncio.run(_poll(env))
    assert len(_letters(env.outbox / "meldinger")) == 1
    assert len(asyncio.run(_poll(env))) == 1
    letters = _letters(env.outbox / "meldinger")
    assert sorted(str(x["innsenderReferanse"]) for x in letters.values()) == [
        "IB-FAIL-17",
        "IB-FAIL-27",
    ]


def test_a_slow_letter_write_does_not_hold_the_other_dialogs(env: Env) -> None:
    """One letter's outbox write stalls (a slow disk): the other dialog is read and written."""
    # Two dialogs: the tests' page holds two, and a page's dialogs are read together.
    stall = StallFirstWrite(2)
    refs = ["IB-LSLOW-17", "IB-LSLOW-27"]
    asyncio.run(_submit(env, refs))
    env.advance(3601)

    async def poll() -> list[str]:
        async with (
            elan_client(env) as elan,
            build_followup(
                env.settings, env.journal, elan, clock=env.clock, after_write=stall
            ) as followup,
        ):
            assert followup.letters is not None
            return sorted(str(f.innsender_referanse) for f in await followup.letters.poll_once())

    assert asyncio.run(poll()) == refs
    assert len(stall.written) == 2
    letters = _letters(env.outbox / "meldinger")
    assert sorted(str(d["innsenderReferanse"]) for d in letters.values()) == refs
    # Recorded: the next cycle writes nothing again.
    assert asyncio.run(_poll(env)) == []
