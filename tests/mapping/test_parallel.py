"""Mapping on several cores: the same results in the same order as one process, whatever happens.

Real worker processes throughout (`python -m utlegg_gateway.mapping._worker`); a crash is a
real SIGKILL of one of them, a vanished caller a real subprocess that exits mid-file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.e2e._support import mapping_workers, running
from utlegg_gateway.cli import main
from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping import (
    CaseResult,
    MappingSpec,
    build_file,
    load_mapping,
    map_file,
    workers_for,
)
from utlegg_gateway.mapping._parallel import PARALLEL_MIN_BYTES, parallel_results
from utlegg_gateway.provning import ProvingContext

from .conftest import REPO, SAMPLES

CTX = ProvingContext(today=date(2026, 1, 1))
CSV_SAMPLE = SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv"
XML_SAMPLE = SAMPLES / "xml-sak" / "inkassonett_20251001.xml"


def _csv_copies(path: Path, copies: int) -> Path:
    """The sample's two cases `copies` times over, every third copy with a bad orgnr."""
    header, *rows = CSV_SAMPLE.read_bytes().decode("cp1252").splitlines()
    out = [header]
    for k in range(copies):
        for line in rows:
            row = line.replace("IB-2025-000127", f"IB-2025-1{k:05d}")
            row = row.replace("IB-2025-000311", f"IB-2025-2{k:05d}")
            if k % 3 == 1:
                row = row.replace("312597772", "312597773")  # the checksum breaks
            out.append(row)
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("cp1252"))
    return path


def _xml_copies(path: Path, copies: int, *, cut: bool = False) -> Path:
    """The sample's `Sak`s `copies` times over (bad orgnr in every third); `cut`: no end."""
    text = XML_SAMPLE.read_text(encoding="iso-8859-1")
    head, _, rest = text.partition("  <in:Sak ")
    body, _, tail = ("  <in:Sak " + rest).rpartition("</in:Sak>")
    body += "</in:Sak>"
    parts = [head]
    for k in range(copies):
        sak = body.replace("IB-2025-000127", f"IB-2025-1{k:05d}")
        sak = sak.replace("IB-2025-000311", f"IB-2025-2{k:05d}")
        if k % 3 == 1:
            sak = sak.replace("312597772", "312597773")
        parts.append(sak + "\n")
    if cut:
        parts.append("  <in:Sak nr='x'><in:Krav")  # the file ends inside a record
    else:
        parts.append(tail.lstrip("\n"))
    path.write_text("".join(parts), encoding="iso-8859-1")
    return path


def _spec(kind: str) -> MappingSpec:
    return load_mapping(REPO / "mappings" / f"{kind}.yaml", version="2.1")


@pytest.mark.parametrize("kind", ["csv-krav", "xml-sak"])
@pytest.mark.parametrize(("workers", "chunk"), [(2, 1), (3, 4)])
def test_workers_give_the_results_of_one_process_in_its_order(
    tmp_path: Path, kind: str, workers: int, chunk: int
) -> None:
    make = _csv_copies if kind == "csv-krav" else _xml_copies
    path = make(tmp_path / f"in.{kind[:3]}", 13)
    spec = _spec(kind)
    alone = list(map_file(path, spec, CTX))
    shared = list(parallel_results(path, spec, CTX, workers, chunk=chunk))
    assert len(alone) == 26
    assert [r.key for r in shared] == [r.key for r in alone]
    assert shared == alone
    # Prøving ran in the workers: the copies with a broken orgnr are refused there too.
    refused = [r.key for r in shared if not r.ok]
    assert {int(key[-5:]) for key in refused} == set(range(1, 13, 3))
    assert all(any(i.code == "UGYLDIG_ORGANISASJONSNUMMER" for i in r.errors) for r in
               shared if not r.ok)  # fmt: skip
    # Build only (no ctx): the same as build_file.
    assert list(build_file(path, spec, workers=2)) == list(build_file(path, spec))


def test_a_file_broken_near_its_end_gives_every_case_before_then_the_same_error(
    tmp_path: Path,
) -> None:
    path = _xml_copies(tmp_path / "in.xml", 9, cut=True)
    spec = _spec("xml-sak")

    def run(results: object) -> tuple[list[CaseResult], SourceError]:
        got: list[CaseResult] = []
        with pytest.raises(SourceError) as caught:
            for result in results:  # type: ignore[attr-defined]
                got.append(result)
        return got, caught.value

    alone, alone_error = run(map_file(path, spec, CTX))
    shared, shared_error = run(parallel_results(path, spec, CTX, 2, chunk=2))
    assert len(alone) == 18
    assert shared == alone
    assert str(shared_error) == str(alone_error)
    assert shared_error.row == alone_error.row and shared_error.file == str(path)


def test_a_killed_worker_loses_no_case(tmp_path: Path) -> None:
    path = _csv_copies(tmp_path / "in.csv", 40)
    spec = _spec("csv-krav")
    alone = list(map_file(path, spec, CTX))
    results = parallel_results(path, spec, CTX, 2, chunk=2)
    got = [next(results)]
    victims = mapping_workers(os.getpid())
    assert len(victims) == 2
    os.kill(victims[1], signal.SIGKILL)
    got.extend(results)
    assert got == alone
    assert not any(running(pid) for pid in victims)


def test_stopping_early_ends_the_workers(tmp_path: Path) -> None:
    path = _xml_copies(tmp_path / "in.xml", 40)
    results = parallel_results(path, _spec("xml-sak"), CTX, 2, chunk=2)
    first = next(results)
    workers = mapping_workers(os.getpid())
    assert first.key == "IB-2025-100000" and len(workers) == 2
    results.close()
    assert not any(running(pid) for pid in workers)
    assert mapping_workers(os.getpid()) == []


def test_a_row_file_is_grouped_once_and_its_sorted_runs_go_when_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SPILL_ROWS the rows are sorted in TMPDIR: by the caller alone (the workers get
    the rows), and a run stopped early removes those runs."""
    import tempfile

    from utlegg_gateway.mapping.sources._csv import SPILL_ROWS

    copies = SPILL_ROWS // 7 + 50  # the sample's two cases are 7 rows
    path = _csv_copies(tmp_path / "in.csv", copies)
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    monkeypatch.setenv("TMPDIR", str(spill))  # and the workers', were they to sort
    results = parallel_results(path, _spec("csv-krav"), CTX, 2, chunk=2)
    first = next(results)
    assert first.key == "IB-2025-100000"
    assert [p.name.startswith("utlegg-csv-") for p in spill.iterdir()] == [True]
    results.close()
    assert list(spill.iterdir()) == []


@pytest.mark.parametrize("kind", ["xml-sak", "csv-krav"])
def test_workers_end_when_their_caller_is_gone(tmp_path: Path, kind: str) -> None:
    """XML: 2 × 15,000 cases, each worker's share well over the 5 s allowed below, so only
    a worker that notices its caller is gone passes. CSV: the workers get their rows from
    the caller, and the pipe it leaves must end them too, not hold them waiting."""
    if kind == "xml-sak":
        path = _xml_copies(tmp_path / "in.xml", 15_000)
    else:
        path = _csv_copies(tmp_path / "in.csv", 2_000)
    script = textwrap.dedent(
        f"""
        import os, sys
        from datetime import date
        from pathlib import Path
        from utlegg_gateway.mapping import load_mapping
        from utlegg_gateway.mapping._parallel import parallel_results
        from utlegg_gateway.provning import ProvingContext
        spec = load_mapping(Path({str(REPO / "mappings" / f"{kind}.yaml")!r}))
        results = parallel_results(Path({str(path)!r}), spec,
                                   ProvingContext(today=date(2026, 1, 1)), 2, chunk=2)
        next(results)
        children = []
        for task in Path("/proc/self/task").iterdir():
            children += (task / "children").read_text().split()
        print(" ".join(children), flush=True)
        os._exit(0)  # gone without stopping anything
        """
    )
    caller = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert caller.returncode == 0, caller.stderr
    workers = [int(pid) for pid in caller.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in workers), "a worker outlived its caller"


def test_a_worker_compiles_the_mapping_it_was_given_not_the_file_as_it_is_now(
    tmp_path: Path,
) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text((REPO / "mappings" / "csv-krav.yaml").read_text(encoding="utf-8"))
    spec = load_mapping(mapping, version="2.1")
    mapping.write_text("this: [is not a mapping\n", encoding="utf-8")
    path = _csv_copies(tmp_path / "in.csv", 5)
    assert list(parallel_results(path, spec, CTX, 2, chunk=1)) == list(map_file(path, spec, CTX))


def test_auto_uses_every_core_only_for_a_big_file(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_bytes(b"x" * (PARALLEL_MIN_BYTES - 1))
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(PARALLEL_MIN_BYTES)
    cores = len(os.sched_getaffinity(0))
    assert workers_for(small, "auto") == 1
    assert workers_for(big, "auto") == cores
    assert workers_for(small, 3) == 3
    assert workers_for(tmp_path / "gone.csv", "auto") == 1


def test_cli_map_with_workers_prints_the_same_lines(tmp_path: Path) -> None:
    path = _csv_copies(tmp_path / "utlegg_in.csv", 7)
    runner = CliRunner()
    args = ["map", str(path), "--mapping", str(REPO / "mappings" / "csv-krav.yaml")]
    alone = runner.invoke(main, [*args, "--workers", "1"])
    shared = runner.invoke(main, [*args, "--workers", "2"])
    assert alone.exit_code == shared.exit_code == 1  # the copies with a bad orgnr
    lines = [json.loads(line) for line in shared.stdout.splitlines()]
    assert len(lines) == 14
    assert shared.stdout == alone.stdout
    bad = runner.invoke(main, [*args, "--workers", "0"])
    assert bad.exit_code == 2
    assert "--workers" in bad.output and "from 1 to 64, or auto" in bad.output


def test_runner_mapping_workers_is_auto_or_a_count() -> None:
    from utlegg_gateway.config import load_settings
    from utlegg_gateway.errors import ConfigError

    assert load_settings(None, environ={}).runner.mapping_workers == "auto"
    chosen = load_settings(None, environ={}, overrides={"runner": {"mapping_workers": 3}})
    assert chosen.runner.mapping_workers == 3
    for wrong in (0, "all"):
        with pytest.raises(ConfigError) as err:
            load_settings(None, environ={}, overrides={"runner": {"mapping_workers": wrong}})
        assert "mapping_workers" in err.value.message
