"""Peak memory of `map` over generated ~1 GB CSV and XML exports, beside the raw parse.

    .venv/bin/python benchmarks/bench_big_files.py [--size-mb 1024] [--workdir DIR]
        [--kinds csv xml] [--once] [--workers N]

Generates (never commits) a CSV export with the rows of neighbouring cases interleaved (so
a case's rows are not adjacent and grouping must see the whole file) and an XML export,
each about `--size-mb` MB, with `bench_mapping.make_csv` / `make_xml`. Then, each in its
own subprocess so the peak RSS is its own (`ru_maxrss`):

- raw: `csv.reader` / hardened `iterparse` over the same bytes (the limit: a parse that
  keeps nothing);
- map: mapping + model + local prøving over every case (`map_file`, what `map` and the
  gateway run);
- with `--workers N`: map again with N worker processes (what `map` does by default for a
  big file): the caller's peak, the largest worker's, and the most RSS all of them held
  at one time (their sum, sampled from `/proc` every second);
- with `--once`: `utlegg-gateway once` over the same file in an inbox, against the
  sandbox (its own process, no injected latency), every case submitted; its RSS is also
  sampled from `/proc` every 5 s, printed at a quarter, half and three quarters of its
  wall time. About 400,000 cases per GB: an hour or more per file on 2 cores.

Peak RSS is each child's `ru_maxrss`, taken through `_peak_rss`'s launcher.

The generated files take 2 × size on disk in the work folder (default: a temporary one,
removed at the end); the CSV's grouping runs take about the file's size again in TMPDIR
while it is mapped.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_mapping import make_csv, make_xml, run  # noqa: E402


def _cases_for(size_mb: float, make: object, probe: Path) -> int:
    """Cases that make a file of about `size_mb` MB, from a 200-case probe file."""
    assert callable(make)
    make(probe, 200)
    per_case = probe.stat().st_size / 200
    probe.unlink()
    return max(1, int(size_mb * 1e6 / per_case))


def run_once(path: Path, kind: str, root: Path) -> str:
    """`once` over `path` (moved into an inbox under `root`): its figures as table cells."""
    from bench_gateway import _start_sandbox
    from bench_memory import measured_once
    from tests.e2e._support import MAPPINGS, drop_attachments

    from utlegg_gateway.demo import write_gateway_config

    fmt = "csv-krav" if kind == "csv" else "xml-sak"
    proc, sandbox, creds = _start_sandbox(root, {})
    try:
        config = write_gateway_config(
            root / "gw",
            sandbox=sandbox,
            credentials=creds,
            inboxes={fmt: [fmt]},
            mapping_dirs=[MAPPINGS],
            stable_seconds=0.0,
            extra={"runner": {"max_cases_in_flight": 50}},
        )
        inbox = root / "gw" / "inbox" / fmt
        drop_attachments(fmt, inbox)
        path.replace(inbox / path.name)
        measured = measured_once(config, sample_seconds=5.0)
        journal = root / "gw" / "state" / "journal.sqlite3"
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            states = Counter(dict(conn.execute("SELECT state, count(*) FROM cases GROUP BY state")))
        finally:
            conn.close()
        (archived,) = (root / "gw" / "archive").rglob(path.name)
        archived.replace(path)  # back, to be removed by the caller
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    quarters = " / ".join(f"{measured.rss_at(f):.0f}" for f in (0.25, 0.5, 0.75))
    cases = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return (
        f"{measured.peak_mb:.0f} | {quarters} | {measured.seconds:.0f} | {measured.code} | {cases}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--kinds", nargs="+", choices=["csv", "xml"], default=["csv", "xml"])
    parser.add_argument("--once", action="store_true", help="also run `once` over each file")
    parser.add_argument(
        "--workers", type=int, default=0, help="also `map` with N worker processes (0: none)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        head = "| file | cases | MB | raw parse peak RSS MB | map peak RSS MB | map wall s |"
        rule = "|---|---:|---:|---:|---:|---:|"
        if args.workers > 1:
            head += f" map@{args.workers} peak RSS MB: caller / largest worker / all at once "
            head += f"| map@{args.workers} wall s |"
            rule += "---:|---:|"
        if args.once:
            head += " once peak RSS MB | once RSS at 1/4, 1/2, 3/4 MB | once wall s | exit "
            head += "| cases |"
            rule += "---:|---:|---:|---:|---|"
        print(head)
        print(rule, flush=True)
        for kind in args.kinds:
            make = make_csv if kind == "csv" else make_xml
            path = work / ("utlegg_big.csv" if kind == "csv" else "inkassonett_big.xml")
            cases = _cases_for(args.size_mb, make, work / f"probe.{kind}")
            make(path, cases)
            size = path.stat().st_size / 1e6
            raw = run(f"{kind}-raw", path)
            mapped = run(f"{kind}-map", path)
            row = (
                f"| {kind.upper()} | {int(mapped['cases'])} | {size:.0f} | {raw['rss_mb']:.0f} "
                f"| {mapped['rss_mb']:.0f} | {mapped['seconds']:.0f} |"
            )
            if args.workers > 1:
                many = run(f"{kind}-map@{args.workers}", path)
                row += (
                    f" {many['rss_mb']:.0f} / {many['worker_rss_mb']:.0f} / "
                    f"{many['tree_mb']:.0f} | {many['seconds']:.0f} |"
                )
            if args.once:
                row += f" {run_once(path, kind, work / f'once-{kind}')} |"
            print(row, flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
