"""The tutorial in docs/mapping.md, run as written: its files written, its commands run in
order in an empty folder, each exiting 0 (or 1 where it shows an error) with the lines it
shows in its output (`…` elides)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from utlegg_gateway.cli import main

from .conftest import REPO

DOC = REPO / "docs" / "mapping.md"
# What the tutorial shows for a command that exits 1: errors found, tests not passing.
_FAILS = re.compile(r": [1-9]\d* error\(s\)|^(NEW|FAIL|GONE) ")
_BLOCK = re.compile(r"^```(\w+)(?: file=(\S+))?\n(.*?)^```\n", re.M | re.S)


def _tutorial() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Tutorial")
    return text[start : text.index("\n## ", start + 1)]


def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From mapping init to mapping test passing, in the order the tutorial gives."""
    monkeypatch.chdir(tmp_path)
    for var in [k for k in os.environ if k.startswith("UTLEGG_GATEWAY__")]:
        monkeypatch.delenv(var)
    commands = 0
    kunde_written = False
    for kind, file, body in _BLOCK.findall(_tutorial()):
        if file:
            path = tmp_path / file
            path.parent.mkdir(parents=True, exist_ok=True)
            if file.endswith("kunde.yaml"):
                # Step 1 made this file with `mapping init`; step 2 replaces it.
                assert path.is_file(), "mapping init did not write it"
                kunde_written = True
            path.write_text(body, encoding="utf-8")
            continue
        if kind != "console":
            continue
        for command, shown in _commands(body):
            args = shlex.split(command)
            assert args[0] == "utlegg-gateway"
            result = CliRunner().invoke(main, args[1:])
            commands += 1
            expected = 1 if any(_FAILS.search(s) for s in shown) else 0
            assert result.exit_code == expected, (command, result.output)
            for line in shown:
                if line != "…":
                    assert line in result.output.splitlines(), (command, line, result.output)
    assert kunde_written
    assert commands == 7
    assert (tmp_path / "kunde" / "expected" / "krav_20251201.csv" / "K-1.json").is_file()


def _commands(body: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out
