"""`mapping check`: every problem of a mapping file in one run, optionally against samples.

    check_mapping(path, version, samples=()) -> CheckReport

The file is compiled (every mistake, not the first: `spec.compile_mapping`) and its
template checked against the target model of `version` (`target.check_template`). With
sample exports it is also run over them: a sample it cannot read is an error, an XML
record path that matches nothing in a sample, and an XPath that matches nothing in any
of its records, are warnings (an XPath may be for data the sample lacks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping.engine import Cond, Expr, ForEach, Node, Obj, Repeat, Scope, StaticList
from utlegg_gateway.mapping.results import CaseResult, MappingProblem
from utlegg_gateway.mapping.spec import MappingSpec, compile_mapping

__all__ = ["CheckReport", "SampleRun", "check_mapping"]


@dataclass(frozen=True, slots=True)
class SampleRun:
    """What the mapping made of one sample export."""

    path: Path
    cases: int
    failed: int


@dataclass
class CheckReport:
    """The problems of one mapping file (sorted by position) and the samples it ran over."""

    path: Path
    version: str
    problems: list[MappingProblem]
    samples: list[SampleRun] = field(default_factory=list)

    @property
    def errors(self) -> list[MappingProblem]:
        """The problems that stop the mapping from loading."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[MappingProblem]:
        """The problems that do not."""
        return [p for p in self.problems if p.severity == "warning"]


def check_mapping(path: Path, version: str, samples: Sequence[Path] = ()) -> CheckReport:
    """Compile, check against model `version`, run over `samples`; never raises for mistakes."""
    spec, problems = compile_mapping(path, version=version)
    report = CheckReport(path, version, list(problems))
    if spec is None:
        return report
    for sample in samples:
        report.problems.extend(_run_sample(spec, sample, report))
    report.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return report


def _run_sample(spec: MappingSpec, sample: Path, report: CheckReport) -> list[MappingProblem]:
    from utlegg_gateway.mapping import build_file

    out: list[MappingProblem] = []
    file = str(spec.path)
    results: list[CaseResult] = []
    try:
        readable = True
        if spec.kind == "xml":
            misses, readable = _xpath_misses(spec, sample)
            out.extend(misses)
        # Only foreign-namespace records: `map` refuses such a file; here it is the warning below.
        results = list(build_file(sample, spec)) if readable else []
    except SourceError as exc:
        out.append(MappingProblem("error", f"sample {sample}: {exc}", file))
        return out
    report.samples.append(SampleRun(sample, len(results), sum(not r.ok for r in results)))
    if not results:
        line, col = spec.marks.get("record", (None, None))
        what = (
            f"the record path {spec.source.record!r}"  # type: ignore[union-attr]
            if spec.kind == "xml"
            else "the mapping"
        )
        out.append(
            MappingProblem(
                "warning",
                f"{what} matches nothing in sample {sample}: check the namespace, the "
                "delimiter, the header or the record types",
                file,
                line,
                col,
            )
        )
    return out


def _xpath_misses(spec: MappingSpec, sample: Path) -> tuple[list[MappingProblem], bool]:
    """Warnings for the XPaths that match nothing in any record of `sample`; any record read?"""
    from utlegg_gateway.mapping.sources import iter_xml_records

    hits: dict[int, bool] = {}
    exprs: dict[int, Expr] = {}

    def visit(expr: Expr | None, contexts: list[object]) -> None:
        if expr is None or not contexts:
            return
        for part in expr.parts:
            visit(part, contexts)
        if expr.when is not None:
            visit_cond(expr.when, contexts)
        if expr.kind != "xpath":
            return
        exprs[id(expr)] = expr
        found = any(expr.read_all(Scope(file, node=c, record=c)) for c in contexts)
        hits[id(expr)] = hits.get(id(expr), False) or found

    def visit_cond(cond: Cond | None, contexts: list[object]) -> None:
        if cond is None:
            return
        visit(cond.expr, contexts)
        for part in cond.parts:
            visit_cond(part, contexts)

    def walk(node: Node, contexts: list[object]) -> None:
        if not contexts:
            return
        if isinstance(node, Obj):
            visit_cond(node.when, contexts)
            for _, _, child in node.fields:
                walk(child, contexts)
        elif isinstance(node, StaticList):
            for item in node.items:
                walk(item, contexts)
        elif isinstance(node, Repeat):
            visit_cond(node.when, contexts)
            for item, _ in node.groups:
                walk(item, contexts)
        elif isinstance(node, ForEach):
            visit_cond(node.when, contexts)
            inner = contexts
            if node.source is not None and node.source.kind == "xpath":
                visit(node.source, contexts)
                found = [
                    e
                    for c in contexts
                    for e in node.source.read_all(Scope(file, node=c, record=c))
                    if not isinstance(e, str)
                ]
                if found:
                    inner = found
            walk(node.item, inner)
        elif isinstance(node, Expr):
            visit(node, contexts)

    file = str(sample)
    readable = False
    for record in iter_xml_records(sample, spec):
        if record.foreign is None:
            readable = True
            walk(spec.template, [record.element])
    out = []
    for key, hit in hits.items():
        if hit:
            continue
        expr = exprs[key]
        line, col = expr.mark or (None, None)
        out.append(
            MappingProblem(
                "warning",
                f"XPath {expr.label!r} matches nothing in any record of sample {sample}",
                str(spec.path),
                line,
                col,
            )
        )
    return out, readable
