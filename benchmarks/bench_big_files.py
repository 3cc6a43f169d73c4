"""Peak memory of `map` over generated ~1 GB CSV and XML exports, beside the raw parse.

    .venv/bin/python benchmarks/bench_big_files.py [--size-mb 1024] [--workdir DIR]
        [--kinds csv xml]

Generates (never commits) a CSV export with the rows of neighbouring cases interleaved (so
a case's rows are not adjacent and grouping must see the whole file) and an XML export,
each about `--size-mb` MB, with `bench_mapping.make_csv` / `make_xml`. Then, each in its
own subprocess so the peak RSS is its own (`ru_maxrss`):

- raw: `csv.reader` / hardened `iterparse` over the same bytes (the limit: a parse that
  keeps nothing);
- map: mapping + model + local prøving over every case (`map_file`, what `map` and the
  gateway run).

The generated files take 2 × size on disk in the work folder (default: a temporary one,
removed at the end); the CSV's grouping runs take about the file's size again in TMPDIR
while it is mapped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mapping import make_csv, make_xml, run


def _cases_for(size_mb: float, make: object, probe: Path) -> int:
    """Cases that make a file of about `size_mb` MB, from a 200-case probe file."""
    assert callable(make)
    make(probe, 200)
    per_case = probe.stat().st_size / 200
    probe.unlink()
    return max(1, int(size_mb * 1e6 / per_case))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--kinds", nargs="+", choices=["csv", "xml"], default=["csv", "xml"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print("| file | cases | MB | raw parse peak RSS MB | map peak RSS MB | map wall s |")
        print("|---|---:|---:|---:|---:|---:|", flush=True)
        for kind in args.kinds:
            make = make_csv if kind == "csv" else make_xml
            path = work / ("utlegg_big.csv" if kind == "csv" else "inkassonett_big.xml")
            cases = _cases_for(args.size_mb, make, work / f"probe.{kind}")
            make(path, cases)
            size = path.stat().st_size / 1e6
            raw = run(f"{kind}-raw", path)
            mapped = run(f"{kind}-map", path)
            print(
                f"| {kind.upper()} | {int(mapped['cases'])} | {size:.0f} | {raw['rss_mb']:.0f} "
                f"| {mapped['rss_mb']:.0f} | {mapped['seconds']:.0f} |",
                flush=True,
            )
            path.unlink()


if __name__ == "__main__":
    main()
