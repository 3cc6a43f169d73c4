"""Peak memory of `once` against the number of cases in one file.

    .venv/bin/python benchmarks/bench_memory.py [--cases 300 3000]

Each run is a fresh `utlegg-gateway once` subprocess over one generated CSV export of N
cases (the sample's IB-2025-000311 renumbered) against the sandbox (its own process, no
injected latency). Peak RSS is the child's `ru_maxrss`, taken through `_peak_rss`'s
launcher (so this process's own peak, which grows with the file it generates, is not
inherited), and its RSS sampled from `/proc` at half time. The limit it is measured
against is the same command with an empty inbox (interpreter, imports, client): what
grows above that grows with the cases.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _peak_rss import Measured, run_measured  # noqa: E402
from bench_gateway import _start_sandbox  # noqa: E402
from tests.e2e._support import MAPPINGS, drop_attachments, make_batch  # noqa: E402

from utlegg_gateway.demo import write_gateway_config  # noqa: E402


def measured_once(config: Path, *, sample_seconds: float = 1.0) -> Measured:
    """Peak RSS, exit code, wall time and RSS samples of one `once` subprocess."""
    return run_measured(
        [sys.executable, "-m", "utlegg_gateway", "once", "--config", str(config)],
        cwd=config.parent,
        sample_seconds=sample_seconds,
    )


def run_once(root: Path, sandbox: object, creds: object, cases: int) -> Measured:
    """`once` over one file of `cases` cases (0: an empty inbox)."""
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=creds,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.0,
        extra={"runner": {"max_cases_in_flight": 50}},
    )
    inbox = root / "inbox" / "csv-krav"
    if cases:
        drop_attachments("csv-krav", inbox)
        make_batch(cases, inbox / "utlegg_20260301_020000.csv", prefix=f"IB-M{cases}-")
    run = measured_once(config)
    if run.code not in (0, 1):
        raise RuntimeError(f"once exited {run.code}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[300, 3000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, sandbox, creds = _start_sandbox(Path(tmp), {})
        try:
            base = run_once(Path(tmp) / "empty", sandbox, creds, 0).peak_mb
            print(f"empty inbox (the limit): peak RSS {base:.0f} MB")
            print(
                "| cases | peak RSS MB | above empty MB | KB per case | RSS at half time MB "
                "| wall s |"
            )
            print("|---:|---:|---:|---:|---:|---:|")
            for n in args.cases:
                run = run_once(Path(tmp) / f"n{n}", sandbox, creds, n)
                rss = run.peak_mb
                print(
                    f"| {n} | {rss:.0f} | {rss - base:.0f} | {(rss - base) * 1024 / n:.1f} "
                    f"| {run.rss_at(0.5):.0f} | {run.seconds:.1f} |",
                    flush=True,
                )
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
