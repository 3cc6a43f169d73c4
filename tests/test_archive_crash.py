"""A process killed in the middle of archiving leaves nothing stranded (a real subprocess)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.e2e._support import FORMATS, archived, drop_attachments, drop_renamed, receipt
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.gateway.runner import run_once

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def test_kill_between_archive_moves_then_the_next_run_moves_every_pdf(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Killed after the first move out of work/: the next start archives the rest."""
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
    )
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    pdfs = sorted(p.name for p in inbox.glob("*.pdf"))
    assert len(pdfs) >= 2  # the point: more than one move after the first
    name = drop_renamed(FORMATS["csv-krav"], inbox).name
    # The child dies (os._exit, no clean-up) right after the first file moved to archive/.
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        import utlegg_gateway.folders.archive as archive
        from utlegg_gateway.config import load_settings
        from utlegg_gateway.gateway.runner import run_once

        real_move = archive.move_file
        def move_then_die(source, folder):
            moved = real_move(source, folder)
            os._exit(9)
        archive.move_file = move_then_die
        run_once(load_settings(Path({str(config)!r}), environ={{}}))
        """
    )
    child = subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert child.returncode == 9
    assert len(archived(tmp_path)) == 1  # one file moved, then the kill
    assert {c["status"] for c in receipt(tmp_path / "outbox", name)["cases"]} == {"accepted"}

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 0
    assert archived(tmp_path) == sorted([*pdfs, name])
    assert not any(inbox.iterdir())
    assert not (tmp_path / "work" / "csv-krav" / name).exists()
    assert not list((tmp_path / "work" / "csv-krav").glob("*.pdf"))
    assert len(sandbox.admin.cases()) == 2  # nothing was sent twice
