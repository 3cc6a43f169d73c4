"""Cases/s of `once` when every fsync takes 7 ms longer, beside the same run on this disk.

    .venv/bin/python benchmarks/bench_slow_disk.py [--cases 1000] [--latency 0.05] [--fsync-ms 7]

Issue 15 goal 5. The shim (`slow_fsync/slow_fsync.c`, compiled here with `cc` into a
temporary folder) is LD_PRELOADed into the `once` subprocess only (not the sandbox), and
adds `--fsync-ms` to every fsync/fdatasync, i.e. to every journal commit (SQLite
synchronous=FULL) and every atomic receipt write. Both runs use `bench_gateway`'s
throughput measurement (one file of N cases, `--latency` s on upload, attachment status
and submit, then the ideal client over the same cases, which keeps no journal) against
one sandbox (attachment state in the upload reply), one after the other. The ceiling is
bench_gateway's: 5 / (the ideal client's delayed calls per case × latency).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import _start_sandbox, bench_throughput

SHIM = Path(__file__).resolve().parent / "slow_fsync" / "slow_fsync.c"


def build_shim(folder: Path) -> Path:
    out = folder / "slow_fsync.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM), "-ldl"], check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--fsync-ms", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shim = build_shim(root)
        proc, sandbox, creds = _start_sandbox(root, {"upload_reply_status": True})
        try:
            plain = bench_throughput(root / "plain", sandbox, creds, args.cases, args.latency)
            os.environ["LD_PRELOAD"] = str(shim)
            os.environ["SLOW_FSYNC_MS"] = str(args.fsync_ms)
            try:
                slow = bench_throughput(root / "slow", sandbox, creds, args.cases, args.latency)
            finally:
                del os.environ["LD_PRELOAD"]
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    print(
        "| disk | gateway cases/s | gateway delayed calls/case | ideal client cases/s "
        "| ceiling cases/s | gateway share of ceiling | gateway / ideal |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in (("this disk", plain), (f"+{args.fsync_ms} ms per fsync", slow)):
        gw, ideal = r["gateway"], r["ideal"]
        ceiling = r["ceiling_cases_per_second"]
        print(
            f"| {label} | {gw['cases_per_second']:.1f} | {gw['delayed_per_case']:.2f} "
            f"| {ideal['cases_per_second']:.1f} | {ceiling:.1f} "
            f"| {gw['cases_per_second'] / ceiling * 100:.0f} % "
            f"| {r['gateway_over_ideal'] * 100:.0f} % |"
        )


if __name__ == "__main__":
    main()
