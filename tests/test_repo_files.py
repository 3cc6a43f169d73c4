"""The checkout stays clean when the README is followed (issue 13, item 9)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What the README's commands create, relative to the checkout.
CREATED = [
    "demo-output/20261204-210000/outbox/x.kvittering.json",
    "creds/client.p12",
    "creds/gateway.yaml",
    "config.yaml",
    "state/journal.sqlite3",
    "state/gateway.lock",
    "inbox/csv-krav/utlegg_20251001_020000.csv",
    "outbox/utlegg_20251001_020000.csv.kvittering.json",
    "archive/2026-12-04/utlegg_20251001_020000.csv",
    "failed/x.csv",
    "work/csv-krav/x.csv",
    "vedlegg/vedlegg.pdf",
]


@pytest.mark.parametrize("path", CREATED)
def test_what_the_readme_creates_is_ignored(path: str) -> None:
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO, check=False)
    assert done.returncode == 0, f"{path} is not in .gitignore"


def test_shipped_files_are_not_ignored() -> None:
    for path in ("config.example.yaml", "mappings/csv-krav.yaml", "src/utlegg_gateway/cli/_run.py"):
        done = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], check=False, cwd=REPO
        )
        assert done.returncode == 1, f"{path} is ignored"


def test_every_file_the_readme_names_is_in_the_repository() -> None:
    """`submit tests/model/data/begjaering-2.1.json` and the like: the paths exist."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/.-])((?:tests|docs|mappings|scripts)/[\w./-]+\.\w+)", text))
    assert "tests/model/data/begjaering-2.1.json" in named
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert missing == []
