"""Time from a big file's claim to its first submit, cases sent as read vs held until read.

    .venv/bin/python benchmarks/bench_first_submit.py [--cases 100000] [--held-cases 10000]
    .venv/bin/python benchmarks/bench_first_submit.py --csv [--cases 100000] [--any-cases 10000]

One generated XML export (bench_mapping.make_xml: the sample's DOM Sak renumbered) is
dropped into an inbox and `utlegg-gateway once` (a subprocess) started against the
sandbox (its own process, no injected latency). As soon as the sandbox has received the
first submit, `once` is stopped with SIGTERM (sending all of a 100,000-case file would
take an hour). The figure: the sandbox's receipt time of that first submit minus the
file's `claimed` time in the journal (both wall clock on this machine).

- streamed: `runner.submit_while_mapping: true` (the default), `--cases` cases;
- held: `submit_while_mapping: false` on `--held-cases` cases: the first submit waits
  for the whole file to be mapped, the limit the streaming removes (it grows with the
  file; the 100,000-case figure is the mapping time of the whole file); run with
  `runner.mapping_workers: auto` (worker processes on every core for a file of 8 MB or
  more) and again with `1` (one process), side by side.

With `--csv` the file is a CSV export instead (tests/e2e/_support.make_batch: a case's
rows adjacent), read with mappings/csv-krav.yaml copied into a temporary folder:

- adjacent: the copy says `grouping: adjacent`, `--cases` cases;
- any: the mapping as shipped (`grouping: any`, every row read before the first case),
  `--any-cases` cases.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import REPO, _admin, _start_sandbox
from bench_mapping import make_xml

sys.path.insert(0, str(REPO))
from tests.e2e._support import MAPPINGS, drop_attachments, make_batch

from utlegg_gateway.demo import write_gateway_config


def first_submit(
    root: Path,
    sandbox: object,
    creds: object,
    cases: int,
    stream: bool,
    *,
    csv_grouping: str | None = None,
    workers: int | str = "auto",
) -> float:
    """Seconds from the file's claim to the sandbox's first submit."""
    kind, mapping_dir = "xml-sak", MAPPINGS
    if csv_grouping is not None:
        kind, mapping_dir = "csv-krav", root / "mappings"
        mapping_dir.mkdir(parents=True)
        text = (MAPPINGS / "csv-krav.yaml").read_text(encoding="utf-8")
        if csv_grouping != "any":
            text = text.replace("  header: true\n", f"  header: true\n  grouping: {csv_grouping}\n")
        (mapping_dir / "csv-krav.yaml").write_text(text, encoding="utf-8")
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=creds,
        inboxes={kind: [kind]},
        mapping_dirs=[mapping_dir],
        stable_seconds=0.0,
        extra={
            "runner": {
                "submit_while_mapping": stream,
                "shutdown_grace_seconds": 1,
                "mapping_workers": workers,
            }
        },
    )
    inbox = root / "inbox" / kind
    drop_attachments(kind, inbox)
    if csv_grouping is None:
        staged = root / "inkassonett_20260301.xml"
        make_xml(staged, cases)
    else:
        staged = root / "utlegg_20260301_020000.csv"
        make_batch(cases, staged)
    staged.replace(inbox / staged.name)
    admin = _admin(sandbox.url)  # type: ignore[attr-defined]  # _Obj from bench_gateway
    before = len(admin.submissions())
    proc = subprocess.Popen(
        [sys.executable, "-m", "utlegg_gateway", "once", "--config", str(config)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            submits = [s for s in admin.submissions()[before:] if s["operation"] == "submit"]
            if submits:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"once ended ({proc.returncode}) before any submit")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    conn = sqlite3.connect(root / "state" / "journal.sqlite3")
    (claimed,) = conn.execute(
        "SELECT MIN(at) FROM transitions WHERE entity = 'file' AND to_state = 'claimed'"
    ).fetchone()
    conn.close()
    return float(submits[0]["received_at"]) - datetime.fromisoformat(claimed).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--held-cases", type=int, default=10_000)
    parser.add_argument("--csv", action="store_true", help="a CSV export instead of XML")
    parser.add_argument("--any-cases", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, sandbox, creds = _start_sandbox(Path(tmp), {})
        try:
            if args.csv:
                first = first_submit(
                    Path(tmp) / "adjacent",
                    sandbox,
                    creds,
                    args.cases,
                    True,
                    csv_grouping="adjacent",
                )
                second = first_submit(
                    Path(tmp) / "any", sandbox, creds, args.any_cases, True, csv_grouping="any"
                )
            else:
                first = first_submit(Path(tmp) / "streamed", sandbox, creds, args.cases, True)
                second = first_submit(Path(tmp) / "held", sandbox, creds, args.held_cases, False)
                # The same held file mapped in one process: what the workers saved.
                alone = first_submit(
                    Path(tmp) / "held-1", sandbox, creds, args.held_cases, False, workers=1
                )
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    print("| mode | cases in the file | claim → first submit s |")
    print("|---|---:|---:|")
    if args.csv:
        print(f"| CSV, grouping: adjacent (streamed) | {args.cases} | {first:.2f} |")
        print(f"| CSV, grouping: any (streamed) | {args.any_cases} | {second:.2f} |")
    else:
        print(f"| streamed (submit_while_mapping: true) | {args.cases} | {first:.2f} |")
        print(f"| held (submit_while_mapping: false), mapping_workers: auto | {args.held_cases} "
              f"| {second:.2f} |")  # fmt: skip
        print(f"| held, mapping_workers: 1 | {args.held_cases} | {alone:.2f} |")


if __name__ == "__main__":
    main()
