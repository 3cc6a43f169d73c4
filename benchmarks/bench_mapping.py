"""Mapping throughput: map+validate vs the raw parse rate of the same bytes, and peak memory.

    .venv/bin/python benchmarks/bench_mapping.py [--cases 25000] [--workdir DIR] [--workers N]
    .venv/bin/python benchmarks/bench_mapping.py --kinds [--cases 5000]
    .venv/bin/python benchmarks/bench_mapping.py --floor [--cases 5000]

`--kinds` compares the source kinds of issue 14 with CSV instead: the header/detail
(`records`), fixed-width (`fixed`) and wide (one row per case) examples of
mappings/examples/, each replicated to `--cases` cases, built and mapped by their example
mappings, against the csv-krav CSV of the same number of cases.

`--floor` splits one case's CPU time in one process (µs per case, best of 3 passes),
CSV and XML: the raw parse, the mapping alone, pydantic's model check alone on the mapped
begjæring (`Begjaering.model_validate`, nothing else of local prøving; and
`model_validate_json` on its JSON bytes), the whole local
prøving (`validate`), and `map_file`. Goal 4 asks for map+validate at 25 % of the raw
parse: this shows how much of that budget the model check alone takes.

Generates a CSV export (4 claim rows per case: 100,000 rows for 25,000 cases, rows of
neighbouring cases interleaved) and an XML export (4 claims per Sak) from the shared
samples, then runs each measurement in its own subprocess so peak RSS is its own:

- raw CSV: `csv.reader` over the decoded file (the ceiling for CSV)
- raw XML: hardened `lxml.etree.iterparse` over the records, clearing as it goes
- build:   mapping only (`build_file`)
- map:     mapping + model + local prøving (`map_file`), what the gateway runs
- XML map again on a file 5 times smaller, to show memory does not grow with the file
- with `--workers N`: map again with N worker processes (wall time, CPU of all processes)
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from utlegg_gateway.provning import ProvingContext

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


EXAMPLES = ROOT / "mappings" / "examples"


def _case_blocks(lines: list[str], starts: str) -> tuple[list[str], list[list[str]], list[str]]:
    """(header lines, case blocks, trailer lines) of a record file; a case starts at `starts`."""
    head, blocks, tail = [], [], []
    for line in lines:
        if line.startswith(starts):
            blocks.append([line])
        elif line[:2] in {"T;", "99"}:
            tail.append(line)
        elif blocks:
            blocks[-1].append(line)
        else:
            head.append(line)
    return head, blocks, tail


def make_records(path: Path, cases: int) -> int:
    """The header/detail example, its two cases repeated and renumbered; return records."""
    text = (EXAMPLES / "hd_20251105.txt").read_bytes().decode("cp1252")
    head, blocks, _ = _case_blocks(text.splitlines(), "S;")
    out = list(head)
    for n in range(cases):
        for line in blocks[n % len(blocks)]:
            renumbered = line.replace("HD-2025-01", f"HD-{n:08d}").replace(
                "HD-2025-02", f"HD-{n:08d}"
            )
            out.append(renumbered.replace("HD1-", f"H{n}-").replace("HD2-", f"H{n}-"))
    out.append(f"T;{cases}")
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("cp1252"))
    return len(out) - len(head) - 1


def make_fixed(path: Path, cases: int) -> int:
    """The fixed-width example, its two cases repeated and renumbered; return records."""
    text = (EXAMPLES / "fw_20251105.dat").read_bytes().decode("cp865")
    head, blocks, _ = _case_blocks(text.splitlines(), "10")
    out = list(head)
    for n in range(cases):
        for line in blocks[n % len(blocks)]:
            record = line
            if line.startswith("10"):
                record = line[:2] + f"F{n:07d}" + line[10:]
            elif line.startswith("30"):
                suffix = line[2:12].strip().rpartition("-")[2]
                record = line[:2] + f"R{n:07d}-{suffix}".ljust(10) + line[12:]
            out.append(record)
    out.append(("99" + f"{cases:06d}").ljust(120))
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("cp865"))
    return len(out) - len(head) - 1


def make_wide(path: Path, cases: int) -> int:
    """The wide example, its two rows repeated with new case numbers; return rows."""
    lines = (EXAMPLES / "wide_20251105.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        for n in range(cases):
            row = rows[n % len(rows)]
            fh.write(f"W-{n:08d}" + row[row.index(",") :] + "\n")
    return cases


_MAPPINGS = {
    "csv": ROOT / "mappings" / "csv-krav.yaml",
    "xml": ROOT / "mappings" / "xml-sak.yaml",
    "records": EXAMPLES / "hd-records.yaml",
    "fixed": EXAMPLES / "fw-fixed.yaml",
    "wide": EXAMPLES / "wide-krav.yaml",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def phase(name: str, path: Path) -> dict[str, float]:
    """Run one measurement in this process; return counts, seconds and peak RSS."""
    sys.path.insert(0, str(ROOT / "src"))
    from utlegg_gateway.mapping import build_file, load_mapping, map_file
    from utlegg_gateway.provning import ProvingContext

    start, cpu_start = time.perf_counter(), time.process_time()
    cases = rows = claims = 0
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
        mode, _, count = mode.partition("@")  # `map@2`: map with 2 worker processes
        workers = int(count or 1)
        spec = load_mapping(_MAPPINGS[kind])
        ctx = ProvingContext(today=date(2026, 1, 1))
        results = (
            map_file(path, spec, ctx, workers=workers)
            if mode == "map"
            else build_file(path, spec, workers=workers)
        )
        for result in results:
            if not result.ok:
                raise SystemExit(f"benchmark case failed: {result.errors[:2]}")
            cases += 1
            claims += len((result.begjaering or {}).get("kravTilInnkreving", ()))
            rows += len(result.source.rows or ()) or len(
                (result.begjaering or {}).get("kravTilInnkreving", ()))  # fmt: skip
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    # Worker processes have been waited for by now: their CPU is the children's.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cases": cases,
        "rows": rows,
        "claims": claims,
        "seconds": seconds,
        "cpu": cpu,
        "children_cpu": children.ru_utime + children.ru_stime,
        "worker_rss_mb": children.ru_maxrss / 1024,  # the largest worker's peak
        "rss_mb": peak_rss_mb(),
    }


def run(name: str, path: Path) -> dict[str, float]:
    """One phase in its own subprocess; its peak RSS through `_peak_rss`'s launcher."""
    from _peak_rss import run_measured

    with tempfile.TemporaryFile() as out:
        measured = run_measured(
            [sys.executable, __file__, "--phase", name, str(path)], stdout=out, stderr=None
        )
        if measured.code != 0:
            raise SystemExit(f"phase {name} exited {measured.code}")
        out.seek(0)
        result: dict[str, float] = json.loads(out.read())
    # The phase's own getrusage inherits this process's peak across exec; this does not.
    result["rss_mb"] = measured.peak_mb
    result["tree_mb"] = measured.tree_peak_mb  # with workers: all processes at once
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--kinds", action="store_true", help="records/fixed/wide vs CSV")
    parser.add_argument(
        "--workers", type=int, default=0, help="also map with N worker processes (0: none)"
    )
    parser.add_argument("--floor", action="store_true", help="split one case's CPU time")
    parser.add_argument("--phase", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase[0], Path(args.phase[1]))))
        return
    if args.kinds:
        kinds(args.cases, args.workdir)
        return
    if args.floor:
        floor(args.cases, args.workdir)
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
        if args.workers > 1:
            results[f"csv-map@{args.workers}"] = run(f"csv-map@{args.workers}", csv_path)
            results[f"xml-map@{args.workers}"] = run(f"xml-map@{args.workers}", xml_path)
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
        if args.workers > 1:
            # Workers are about wall time: the same cases sooner, on more cores.
            for kind in ("csv", "xml"):
                one, many = results[f"{kind}-map"], results[f"{kind}-map@{args.workers}"]
                cpu = many["cpu"] + many["children_cpu"]
                print(f"{kind}: map+validate with {args.workers} workers: "
                      f"{many['cases'] / many['seconds']:,.0f} cases/s wall "
                      f"(one process: {one['cases'] / one['seconds']:,.0f}), "
                      f"{one['seconds'] / many['seconds']:.2f}x; CPU of all processes "
                      f"{cpu:.2f} s (one process: {one['cpu']:.2f} s), caller "
                      f"{many['cpu']:.2f} s; peak RSS: caller {many['rss_mb']:.0f} MB, "
                      f"largest worker {many['worker_rss_mb']:.0f} MB")  # fmt: skip
        for kind in ("csv", "xml"):
            raw, full = results[f"{kind}-raw"], results[f"{kind}-map"]
            share = raw["cpu"] / full["cpu"] * 100
            build = raw["cpu"] / results[f"{kind}-build"]["cpu"] * 100
            print(f"{kind}: map+validate runs at {share:.1f}% of the raw parse rate "
                  f"(mapping alone: {build:.1f}%)")  # fmt: skip


def _cpu_per_case(run: Callable[[], object], cases: int, passes: int = 3) -> float:
    """CPU µs per case of `run`, the best of `passes` (the VM's noise only adds)."""
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best * 1e6 / cases


def floor(cases: int, workdir: Path | None) -> None:
    """One case's CPU time split into its parts, in this process (see the docstring)."""
    sys.path.insert(0, str(ROOT / "src"))
    from utlegg_gateway.provning import ProvingContext

    ctx = ProvingContext(today=date(2026, 1, 1))
    with tempfile.TemporaryDirectory() as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        files = {"csv": work / "utlegg_bench.csv", "xml": work / "inkassonett_bench.xml"}
        make_csv(files["csv"], cases)
        make_xml(files["xml"], cases)
        print(f"{cases} cases per file; CPU µs per case, best of 3 passes")
        print(
            "| file | raw parse | mapping alone | model check alone | the same from JSON "
            "bytes | local prøving (`validate`) | map_file | 25 % of the raw parse |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for kind, path in files.items():
            us = _floor_of(kind, path, cases, ctx)
            cells = ("raw", "build", "model", "model_json", "validate", "map")
            row = " | ".join(f"{us[c]:.0f}" for c in cells)
            print(f"| {kind} | {row} | {us['raw'] * 4:.0f} |")


def _floor_of(kind: str, path: Path, cases: int, ctx: ProvingContext) -> dict[str, float]:
    from utlegg_gateway.mapping import build_file, load_mapping, map_file
    from utlegg_gateway.model import Begjaering, normalise
    from utlegg_gateway.provning import validate

    spec = load_mapping(_MAPPINGS[kind])
    built = [r.begjaering for r in build_file(path, spec) if r.begjaering is not None]
    docs = [normalise(b) for b in built]
    encoded = [json.dumps(d).encode() for d in docs]
    context = {"version": ctx.version}
    steps: dict[str, Callable[[], object]] = {
        "raw": lambda: phase(f"{kind}-raw", path),
        "build": lambda: [r.ok for r in build_file(path, spec)],
        # Only whether it passed is kept: holding 5,000 model trees made the GC's passes
        # over them part of the figure.
        "model": lambda: [bool(Begjaering.model_validate(d, context=context)) for d in docs],
        "model_json": lambda: [
            bool(Begjaering.model_validate_json(b, context=context)) for b in encoded
        ],
        "validate": lambda: [validate(b, ctx) for b in built],
        "map": lambda: [r.ok for r in map_file(path, spec, ctx)],
    }
    return {name: _cpu_per_case(step, cases) for name, step in steps.items()}


def kinds(cases: int, workdir: Path | None) -> None:
    """The new source kinds against CSV, per case, per record (row) and per claim."""
    with tempfile.TemporaryDirectory() as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        files = {
            "csv": (work / "utlegg_bench.csv", make_csv),
            "records": (work / "hd_bench.txt", make_records),
            "fixed": (work / "fw_bench.dat", make_fixed),
            "wide": (work / "wide_bench.csv", make_wide),
        }
        counts = {}
        for kind, (path, make) in files.items():
            counts[kind] = make(path, cases)
            print(f"{kind}: {cases} cases, {counts[kind]} records/rows, "
                  f"{path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        print("| run | cases | records (rows) | claims | CPU s | cases/s | rows/s | claims/s "
              "| peak RSS MB |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for kind, (path, _) in files.items():
            for mode in ("build", "map"):
                r = run(f"{kind}-{mode}", path)
                claims = r["claims"]
                print(f"| {kind}-{mode} | {r['cases']:,.0f} | {counts[kind]:,} | {claims:,.0f} | "
                      f"{r['cpu']:.2f} | {r['cases'] / r['cpu']:,.0f} | "
                      f"{counts[kind] / r['cpu']:,.0f} | {claims / r['cpu']:,.0f} | "
                      f"{r['rss_mb']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
