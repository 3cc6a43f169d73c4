"""Peak memory of `once` when a hostile drop is big: a 500 MB attachment, a 200 MB XML.

    .venv/bin/python benchmarks/bench_hostile_memory.py [--attachment-mb 500] [--xml-mb 200]

Each run is a fresh `utlegg-gateway once` subprocess against the sandbox (its own
process); peak RSS is the child's `ru_maxrss`, through `_peak_rss`'s launcher. The limit
each is measured against is the same command over the plain sample (small PDFs, small XML)
in the same run.

- attachment: the CSV sample with one PDF replaced by an N MB file (`%PDF-` then zeros,
  written sparse), the inbox's `attachments_max_bytes` raised above it so it is sent.
- xml: the XML sample with one element given an attribute of N MB (libxml2's limit for a
  single value is 10 MB without `huge_tree`); the file must end in failed/ with an error
  report, the companion CSV in the same run accepted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _peak_rss import Measured  # noqa: E402
from bench_gateway import _start_sandbox  # noqa: E402
from bench_memory import measured_once  # noqa: E402
from tests.e2e._support import FORMATS, MAPPINGS, drop_attachments  # noqa: E402

from utlegg_gateway.demo import write_gateway_config  # noqa: E402

_MB = 1024 * 1024


def _once(root: Path, sandbox: object, creds: object, max_bytes: int) -> Measured:
    """Peak RSS, exit code and wall time of one `once` over what is in root/inbox."""
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=creds,
        inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.0,
        extra={"elan": {"timeout_seconds": 300}},
    )
    text = config.read_text("utf-8").replace(
        "attachments_wait_seconds: 5",
        f"attachments_wait_seconds: 5\n  attachments_max_bytes: {max_bytes}",
    )
    config.write_text(text, "utf-8")
    return measured_once(config)


def _prepare(root: Path, *, attachment_mb: int = 0, xml_mb: int = 0) -> None:
    """The two samples in their inboxes, one of them made big."""
    for fmt, src in FORMATS.items():
        inbox = root / "inbox" / fmt
        inbox.mkdir(parents=True, exist_ok=True)
        drop_attachments(fmt, inbox)
        if fmt == "csv-krav" and attachment_mb:
            big = inbox / "TR-2024-4411_dom.pdf"
            with big.open("wb") as fh:
                fh.write(b"%PDF-1.4\n")
                fh.truncate(attachment_mb * _MB)  # sparse: zeros, no disk written
        if fmt == "xml-sak" and xml_mb:
            text = src.read_bytes()
            marker = b"<in:Underskrift>"
            head, _, tail = text.partition(marker)
            with (inbox / src.name).open("wb") as fh:
                fh.write(head + b'<in:Underskrift notat="')
                block = b"A" * _MB
                for _ in range(xml_mb):
                    fh.write(block)
                fh.write(b'">' + tail)
        else:
            shutil.copyfile(src, inbox / src.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attachment-mb", type=int, default=500)
    parser.add_argument("--xml-mb", type=int, default=200)
    args = parser.parse_args()
    limit = (args.attachment_mb + 10) * _MB
    with tempfile.TemporaryDirectory() as tmp:
        proc, sandbox, creds = _start_sandbox(Path(tmp), {})
        try:
            runs = [
                ("plain samples (the limit)", {}),
                (f"{args.attachment_mb} MB attachment", {"attachment_mb": args.attachment_mb}),
                (f"{args.xml_mb} MB XML attribute", {"xml_mb": args.xml_mb}),
            ]
            print("| drop | peak RSS MB | wall s | exit | failed/ |")
            print("|---|---:|---:|---:|---|")
            for i, (label, kw) in enumerate(runs):
                root = Path(tmp) / f"run{i}"
                _prepare(root, **kw)
                run = _once(root, sandbox, creds, limit)
                rss, wall, code = run.peak_mb, run.seconds, run.code
                failed = (
                    sorted(p.name for p in (root / "failed").glob("*"))
                    if (root / "failed").exists()
                    else []
                )
                print(f"| {label} | {rss:.0f} | {wall:.1f} | {code} | {', '.join(failed) or '-'} |")
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
