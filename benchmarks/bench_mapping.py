"""Mapping throughput: map+validate vs the raw parse rate of the same bytes, and peak memory.

    .venv/bin/python benchmarks/bench_mapping.py [--cases 25000] [--workdir DIR]

Generates a CSV export (4 claim rows per case: 100,000 rows for 25,000 cases, rows of
neighbouring cases interleaved) and an XML export (4 claims per Sak) from the shared
samples, then runs each measurement in its own subprocess so peak RSS is its own:

- raw CSV: `csv.reader` over the decoded file (the ceiling for CSV)
- raw XML: hardened `lxml.etree.iterparse` over the records, clearing as it goes
- build:   mapping only (`build_file`)
- map:     mapping + model + local prøving (`map_file`), what the gateway runs
- XML map again on a file 5 times smaller, to show memory does not grow with the file
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "mapping" / "data" / "samples"


def make_csv(path: Path, cases: int) -> int:
    """Write `cases` cases of 4 rows (the sample's DOM case, renumbered); return rows."""
    src = SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv"
    header, *rows = list(csv.reader(src.open(encoding="cp1252", newline=""), delimiter=";"))
    template = [r for r in rows if r[0] == "IB-2025-000311"]
    col = {name: i for i, name in enumerate(header)}
    written = 0
    with path.open("w", encoding="cp1252", newline="") as fh:
        out = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        out.writerow(header)
        pending: list[list[str]] = []
        for n in range(cases):
            block = []
            for row in template:
                new = list(row)
                new[col["SAKSNR"]] = f"BM-{n:08d}"
                new[col["KRAV_REF"]] = row[col["KRAV_REF"]].replace("55120001", f"K{n:08d}")
                if new[col["GJELDER_KRAV"]]:
                    new[col["GJELDER_KRAV"]] = f"K{n:08d}"
                block.append(new)
            # Interleave pairs of cases: rows of one case are not adjacent.
            pending.extend(block)
            if n % 2 == 1:
                out.writerows(pending[0::2] + pending[1::2])
                written += len(pending)
                pending = []
        out.writerows(pending)
        written += len(pending)
    return written


def make_xml(path: Path, cases: int) -> int:
    """Write `cases` Sak elements (the sample's DOM Sak, renumbered); return claims."""
    text = (SAMPLES / "xml-sak" / "inkassonett_20251001.xml").read_text(encoding="iso-8859-1")
    head, _, rest = text.partition("  <in:Sak ")
    saks = re.findall(r"  <in:Sak .*?</in:Sak>\n", "  <in:Sak " + rest, re.DOTALL)
    sak, tail = saks[1], "</in:Utleggsbatch>\n"
    with path.open("w", encoding="iso-8859-1") as fh:
        fh.write(head)
        for n in range(cases):
            fh.write(sak.replace("IB-2025-000311", f"BM-{n:08d}").replace(
                "55120001", f"K{n:08d}"))  # fmt: skip
        fh.write(tail)
    return cases * sak.count("<in:Krav ")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def phase(name: str, path: Path) -> dict[str, float]:
    """Run one measurement in this process; return counts, seconds and peak RSS."""
    sys.path.insert(0, str(ROOT / "src"))
    from utlegg_gateway.mapping import build_file, load_mapping, map_file
    from utlegg_gateway.provning import ProvingContext

    start, cpu_start = time.perf_counter(), time.process_time()
    cases = rows = 0
    if name == "csv-raw":
        with path.open(encoding="cp1252", newline="") as fh:
            for _ in csv.reader(fh, delimiter=";"):
                rows += 1
        rows -= 1
    elif name == "xml-raw":
        from lxml import etree

        with path.open("rb") as fh:
            for _event, element in etree.iterparse(
                fh, events=("end",), tag="{urn:no:inkassonett:eksport:3}Sak",
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
            ):  # fmt: skip
                cases += 1
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del element.getparent()[0]
    else:
        kind, mode = name.split("-")
        spec = load_mapping(ROOT / "mappings" / ("csv-krav.yaml" if kind == "csv" else
                                                 "xml-sak.yaml"))  # fmt: skip
        ctx = ProvingContext(today=date(2026, 1, 1))
        results = map_file(path, spec, ctx) if mode == "map" else build_file(path, spec)
        for result in results:
            if not result.ok:
                raise SystemExit(f"benchmark case failed: {result.errors[:2]}")
            cases += 1
            rows += len(result.source.rows or ()) or len(
                (result.begjaering or {}).get("kravTilInnkreving", ()))  # fmt: skip
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {"cases": cases, "rows": rows, "seconds": seconds, "cpu": cpu, "rss_mb": peak_rss_mb()}


def run(name: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--phase", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase[0], Path(args.phase[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        csv_path, xml_path = work / "utlegg_bench.csv", work / "inkassonett_bench.xml"
        small_xml = work / "inkassonett_bench_small.xml"
        csv_rows = make_csv(csv_path, args.cases)
        xml_claims = make_xml(xml_path, args.cases)
        make_xml(small_xml, max(1, args.cases // 5))
        print(f"CSV: {args.cases} cases, {csv_rows} claim rows, "
              f"{csv_path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        print(f"XML: {args.cases} cases, {xml_claims} claims, "
              f"{xml_path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        results = {
            "csv-raw": run("csv-raw", csv_path),
            "csv-build": run("csv-build", csv_path),
            "csv-map": run("csv-map", csv_path),
            "xml-raw": run("xml-raw", xml_path),
            "xml-build": run("xml-build", xml_path),
            "xml-map": run("xml-map", xml_path),
            "xml-map-small": run("xml-map", small_xml),
        }
        # Rates use CPU seconds of the measuring process: on a shared machine wall time
        # mostly measures the neighbours.
        print("| run | cases | rows/claims | CPU s | wall s | cases/s | rows/s | peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in results.items():
            rows = r["rows"] or (xml_claims if name.startswith("xml") else 0)
            cps = f"{r['cases'] / r['cpu']:,.0f}" if r["cases"] else "-"
            rps = f"{rows / r['cpu']:,.0f}" if rows else "-"
            print(f"| {name} | {r['cases']:,.0f} | {rows:,.0f} | {r['cpu']:.2f} | "
                  f"{r['seconds']:.2f} | {cps} | {rps} | {r['rss_mb']:.0f} |")  # fmt: skip
        for kind in ("csv", "xml"):
            raw, full = results[f"{kind}-raw"], results[f"{kind}-map"]
            share = raw["cpu"] / full["cpu"] * 100
            build = raw["cpu"] / results[f"{kind}-build"]["cpu"] * 100
            print(f"{kind}: map+validate runs at {share:.1f}% of the raw parse rate "
                  f"(mapping alone: {build:.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
