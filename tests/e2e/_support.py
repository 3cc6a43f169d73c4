"""Shared helpers of the end-to-end tests: samples, drops, configs, the gateway as a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests._data import SAMPLES

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
FORMATS = {
    "csv-krav": SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv",
    "xml-sak": SAMPLES / "xml-sak" / "inkassonett_20251001.xml",
}
SAMPLE_CASES = {"IB-2025-000127", "IB-2025-000311"}


def drop_attachments(fmt: str, inbox: Path) -> None:
    """Copy the sample's PDFs into the inbox (they arrive before the data file)."""
    for pdf in sorted(FORMATS[fmt].parent.glob("*.pdf")):
        shutil.copy2(pdf, inbox / pdf.name)


def drop_renamed(src: Path, inbox: Path, name: str | None = None) -> Path:
    """Drop like SFTP clients do: write under a temp name, then rename."""
    target = inbox / (name or src.name)
    tmp = target.with_name(target.name + ".filepart")
    shutil.copyfile(src, tmp)
    tmp.replace(target)
    return target


def drop_slowly(src: Path, inbox: Path, *, chunks: int = 4, between: Callable[[], None]) -> Path:
    """Write the file in place, chunk by chunk, calling `between` after each chunk."""
    data = src.read_bytes()
    target = inbox / src.name
    step = max(1, len(data) // chunks + 1)
    with target.open("wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i : i + step])
            fh.flush()
            os.fsync(fh.fileno())
            between()
    return target


def receipt(outbox: Path, name: str) -> dict[str, Any]:
    """The parsed JSON receipt of input file `name`."""
    data: dict[str, Any] = json.loads((outbox / f"{name}.kvittering.json").read_text("utf-8"))
    return data


def receipt_csv(outbox: Path, name: str) -> list[dict[str, str]]:
    """The rows of the CSV receipt of input file `name` (default encoding and delimiter)."""
    text = (outbox / f"{name}.kvittering.csv").read_text("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def archived(root: Path) -> list[str]:
    """Names of every file under archive/ (any day folder)."""
    return sorted(p.name for p in (root / "archive").rglob("*") if p.is_file())


def gateway_cmd(*args: str) -> list[str]:
    """The gateway CLI as users run it (`python -m utlegg_gateway ...`)."""
    return [sys.executable, "-m", "utlegg_gateway", *args]


def run_gateway(config: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run one gateway command to completion in a subprocess."""
    return subprocess.run(
        gateway_cmd(*args, "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=config.parent,
        check=False,
    )


def wait_for(condition: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy (bounded); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def held_cases(sandbox: Any) -> list[str]:
    """innsenderReferanse of every case the sandbox holds."""
    return sorted(c["innsenderReferanse"] for c in sandbox.admin.cases())


def names(paths: Iterable[Path]) -> list[str]:
    """Sorted file names."""
    return sorted(p.name for p in paths)


def make_batch(count: int, dst: Path, *, prefix: str = "IB-2026-9") -> list[str]:
    """A CSV export of `count` cases, each a renumbered copy of the sample's IB-2025-000311.

    Written under a temp name and renamed into place; returns the case numbers.
    """
    src = FORMATS["csv-krav"]
    text = src.read_bytes().decode("cp1252")
    lines = text.split("\r\n")
    head, rows = lines[0], [line for line in lines[1:] if line.startswith("IB-2025-000311;")]
    refs = [f"{prefix}{n:05d}" for n in range(1, count + 1)]
    out = [head] + [row.replace("IB-2025-000311", ref, 1) for ref in refs for row in rows]
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(("\r\n".join(out) + "\r\n").encode("cp1252"))
    tmp.replace(dst)
    return refs


def journal_rows(journal: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the gateway's journal from the outside (read-only), as an operator's tool would."""
    import sqlite3

    if not journal.exists():
        return []
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    try:
        return list(conn.execute(sql, args).fetchall())
    except sqlite3.OperationalError:
        return []  # schema not created yet
    finally:
        conn.close()


MAPPING_WORKER = "utlegg_gateway.mapping._worker"


def mapping_workers(pid: int) -> list[int]:
    """The mapping worker processes (`python -m utlegg_gateway.mapping._worker`) `pid` started."""
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    except FileNotFoundError:
        return []  # it has ended
    found = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if MAPPING_WORKER.encode() in cmdline:
            found.append(child)
    return found


def running(pid: int) -> bool:
    """True while `pid` runs; a zombie has ended (only its parent's wait is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
