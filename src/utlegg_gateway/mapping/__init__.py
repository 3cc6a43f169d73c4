"""The mapping language: legacy CSV/XML exports → ELAN begjæringer, one case at a time.

Public surface (the pipeline and the CLI code against exactly this):

    load_mapping(path) -> MappingSpec            validated; MappingSpecError(row, column, file)
    resolve_mapping(name_or_path, file, search_dirs) -> MappingSpec
    map_file(path, spec, ctx, workers=1) -> Iterator[CaseResult]
    build_file(path, spec, workers=1) -> Iterator[CaseResult]   the same without prøving
    workers_for(path, "auto" | N) -> int          every core for a big file
    CaseResult, CaseIssue, SourceLocation, AttachmentRef

`map_file` streams: cases come out as they are built. It raises `SourceError` /
`UnsafeSourceError` when the file as a whole cannot be read, which for XML may happen
after some cases were already yielded (a syntax error near the end of a large file).
A caller that must act on all of a file or none of it consumes the iterator fully first.
With `workers` > 1 the cases are built by that many processes (`_parallel`): the same
results in the same order, errors included.
The language itself is documented in `docs/mapping.md`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

from utlegg_gateway.errors import MappingSpecError, SourceError
from utlegg_gateway.mapping._parallel import Workers, parallel_results, workers_for
from utlegg_gateway.mapping.engine import BuildState, Scope, attachment_refs
from utlegg_gateway.mapping.results import (
    AttachmentRef,
    CaseIssue,
    CaseResult,
    MappingProblem,
    SourceLocation,
)
from utlegg_gateway.mapping.sources import iter_xml_records, read_csv_cases, read_record_file
from utlegg_gateway.mapping.spec import MappingSpec, load_mapping
from utlegg_gateway.provning import Finding, ProvingContext, validate

__all__ = [
    "AttachmentRef",
    "CaseIssue",
    "CaseResult",
    "MappingProblem",
    "MappingSpec",
    "SourceLocation",
    "Workers",
    "build_file",
    "load_mapping",
    "map_file",
    "resolve_mapping",
    "workers_for",
]


def resolve_mapping(
    name_or_path: str | None,
    file: Path,
    search_dirs: Sequence[Path],
    *,
    version: str | None = None,
) -> MappingSpec:
    """A path is loaded as is; NAME is `<dir>/NAME.yaml`; None picks by file-name pattern.

    With a model `version` the mapping is checked against that target model as it loads
    (the check of `mapping check`): a mapping with errors is not used.
    """
    if name_or_path is not None:
        candidate = Path(name_or_path)
        if candidate.suffix in {".yaml", ".yml"} or "/" in name_or_path or candidate.is_file():
            return load_mapping(candidate, version=version)
        for folder in search_dirs:
            for suffix in (".yaml", ".yml"):
                path = folder / f"{name_or_path}{suffix}"
                if path.is_file():
                    return load_mapping(path, version=version)
        looked = ", ".join(str(d) for d in search_dirs) or "(no folders)"
        raise MappingSpecError(f"no mapping named {name_or_path!r} in {looked}", file=name_or_path)
    for folder in search_dirs:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            spec = load_mapping(path)
            if any(fnmatch.fnmatch(file.name, pattern) for pattern in spec.patterns):
                return load_mapping(path, version=version) if version is not None else spec
    looked = ", ".join(str(d) for d in search_dirs) or "(no folders)"
    raise MappingSpecError(
        f"no mapping declares a file-name pattern matching {file.name!r} (looked in {looked})",
        file=str(file),
        hint="name the mapping with --mapping, or add the pattern to the mapping's `patterns`",
    )


def map_file(
    path: Path, spec: MappingSpec, ctx: ProvingContext, *, workers: int = 1
) -> Iterator[CaseResult]:
    """Map every case of a source file and validate it on its own; bad cases never stop others."""
    if workers > 1:
        return _unique_keys(parallel_results(path, spec, ctx, workers))
    return _unique_keys(_results_from(path, spec, ctx, 0))


def build_file(path: Path, spec: MappingSpec, *, workers: int = 1) -> Iterator[CaseResult]:
    """Like `map_file` without prøving: `ok` means the mapping itself found no problem."""
    if workers > 1:
        return _unique_keys(parallel_results(path, spec, None, workers))
    return _unique_keys(_results_from(path, spec, None, 0))


def _unique_keys(results: Generator[CaseResult, None, None]) -> Generator[CaseResult, None, None]:
    """Each key once per file: a later case with a key already used fails, under a name of
    its own, as `duplicate-case-key`.

    The key names a case in the journal and the outbox: two XML records (or fixed-width
    case records) with one key would otherwise be one case there, the second lost. The
    first is kept, as it may already be on its way to ELAN while this one is read. Only
    the first line of each key is held (about 130 bytes a case), not its location.
    """
    first: dict[str, int] = {}
    try:
        for result in results:
            source = result.source
            line = source.rows[0] if source.rows else source.line or 0
            earlier = first.get(result.key)
            if earlier is None:
                first[result.key] = line
                yield result
                continue
            name = f"{result.key} (again, {source.describe()})"
            while name in first:
                name += "'"
            first[name] = line
            issue = CaseIssue(
                "duplicate-case-key",
                f"the case key {result.key!r} is used by an earlier case of this file "
                f"(line {earlier}): this case was not sent",
                None,
                None,
                source,
            )
            yield dataclasses.replace(
                result,
                key=name,
                ok=False,
                begjaering=None,
                errors=(issue, *result.errors),
                refused_begjaeringsdato=result.begjaeringsdato,
            )
    finally:
        results.close()  # in this thread: a worker pool or parser ends with its reader


def _results_from(
    path: Path, spec: MappingSpec, ctx: ProvingContext | None, skip: int
) -> Generator[CaseResult, None, None]:
    """The file's results from its case number `skip` on; the cases before are only read."""
    for position, (scope, key, source, pre) in enumerate(_cases(path, spec)):
        if position >= skip:
            yield _build(spec, scope, key, source, ctx=ctx, pre=pre)


def _cases(
    path: Path, spec: MappingSpec
) -> Generator[tuple[Scope, str, SourceLocation, list[CaseIssue]], None, None]:
    """(scope, key, location, issues found before building) per case of the file."""
    file = str(path)
    if spec.kind == "csv":
        for case in read_csv_cases(path, spec):
            source = SourceLocation(file, rows=tuple(r.line for r in case.rows))
            pre: list[CaseIssue] = [
                CaseIssue("row-malformed", problem, None, None, SourceLocation(file, rows=(line,)))
                for line, problem in case.problems
            ]
            if case.key_missing:
                pre.append(_missing_key(spec, source))
            yield Scope(file, rows=case.rows), case.key, source, pre
        return
    if spec.kind in {"records", "fixed"}:
        whole = read_record_file(path, spec)
        header = tuple(whole.header)
        for rcase in whole.cases:
            source = SourceLocation(file, rows=tuple(r.line for r in rcase.rows))
            pre = [
                CaseIssue("row-malformed", problem, None, None, SourceLocation(file, rows=(line,)))
                for line, problem in rcase.problems
            ]
            if rcase.key_missing:
                pre.append(_missing_key(spec, source))
            scope = Scope(file, rows=rcase.rows, case_rows=rcase.rows, file_rows=header)
            yield scope, rcase.key, source, pre
        return
    yield from _xml_cases(path, spec)


def _xml_cases(
    path: Path, spec: MappingSpec
) -> Iterator[tuple[Scope, str, SourceLocation, list[CaseIssue]]]:
    """Cases of an XML export; records in a foreign namespace are cases that were not read.

    Until the first readable record, foreign ones are only noted (path, line): a file with
    nothing but foreign records is the wrong kind of export, a file error naming the
    namespace; among readable records each is a refused case, so none vanishes unnoticed.
    """
    file = str(path)
    tag = spec.record_tag
    expected = tag[1:].partition("}")[0] if tag.startswith("{") else ""
    local = tag.rpartition("}")[2]
    pending: list[tuple[str, int, str]] = []
    readable = False

    def foreign_case(
        where: str, line: int, ns: str
    ) -> tuple[Scope, str, SourceLocation, list[CaseIssue]]:
        source = SourceLocation(file, element=where, line=line)
        problem = (
            f"the <{local}> element at line {line} is in namespace {ns or '(none)'!r}, the "
            f"mapping reads records in "
            f"{expected or '(none)'!r}: this case was not read"
        )
        return (
            Scope(file),
            where,
            source,
            [CaseIssue("foreign-record", problem, None, None, source)],
        )

    for record in iter_xml_records(path, spec):
        if record.foreign is not None:
            if readable:
                yield foreign_case(record.path, record.line, record.foreign)
            else:
                pending.append((record.path, record.line, record.foreign))
            continue
        if not readable:
            readable = True
            for item in pending:
                yield foreign_case(*item)
            pending.clear()
        scope = Scope(file, node=record.element, record=record.element, record_path=record.path)
        source = SourceLocation(file, element=record.path, line=record.line)
        state = BuildState()
        key_value = spec.key.value(scope, state, "")
        pre = list(state.issues)
        key = str(key_value) if key_value not in (None, "") else ""
        if not key:
            key = record.path
            if not pre:
                pre.append(_missing_key(spec, source))
        yield scope, key, source, pre
    if pending:
        _, line, ns = pending[0]
        raise SourceError(
            f"the mapping {spec.name!r} found no case in the file: its {len(pending)} "
            f"<{local}> element(s) are in namespace "
            f"{ns or '(none)'!r}, the mapping reads {expected or '(none)'!r}",
            file=file,
            row=line,
            hint="check that the export is the kind this inbox's mapping reads (record "
            "element and namespace); a new export version may need its own mapping",
        )


def _missing_key(spec: MappingSpec, source: SourceLocation) -> CaseIssue:
    return CaseIssue(
        "missing-case-key", "the record has no case key", None, None, source, spec.key.label
    )


def _build(
    spec: MappingSpec,
    scope: Scope,
    key: str,
    source: SourceLocation,
    *,
    ctx: ProvingContext | None,
    pre: list[CaseIssue],
) -> CaseResult:
    if pre:
        return CaseResult(key, False, None, tuple(pre), (), source)
    state = BuildState()
    built = spec.template.build(scope, state, "")
    if state.issues:
        return CaseResult(key, False, None, tuple(state.issues), (), source, _date_of(built))
    # Every text is in NFC already: each leaf normalises its own (`Expr.build`).
    payload: dict[str, Any] = built or {}
    refs = attachment_refs(state)
    if ctx is None:
        return CaseResult(key, True, payload, (), refs, source)
    with _placeholders(payload, refs):
        findings = validate(payload, _placeholder_ctx(ctx))
    if findings:
        issues = _locate_findings(spec, scope, findings, source)
        return CaseResult(key, False, None, issues, refs, source, _date_of(payload))
    return CaseResult(key, True, payload, (), refs, source)


def _date_of(built: Any) -> str | None:
    """The begjaeringsdato a (partly) built begjæring has, for a refused case's receipt."""
    date = built.get("begjaeringsdato") if isinstance(built, dict) else None
    return date if isinstance(date, str) else None


@contextlib.contextmanager
def _placeholders(payload: dict[str, Any], refs: tuple[AttachmentRef, ...]) -> Iterator[None]:
    """While prøving runs, each uuid is `<upload:FILE>`: the uploads have not run yet."""
    targets = []
    for ref in refs:
        for pointer in ref.pointers:
            target: Any = payload
            for part in pointer.split("/")[1:]:
                target = target[int(part)] if isinstance(target, list) else target[part]
            target["uuid"] = f"<upload:{ref.filnavn}>"
            targets.append(target)
    try:
        yield
    finally:
        for target in targets:
            target.pop("uuid", None)


def _placeholder_ctx(ctx: ProvingContext) -> ProvingContext:
    # The placeholder uuids stand for uploads still to come; prøving accepts them only so.
    if getattr(ctx, "allow_upload_placeholders", True):
        return ctx
    return dataclasses.replace(ctx, allow_upload_placeholders=True)


def _locate_findings(
    spec: MappingSpec, scope: Scope, findings: list[Finding], source: SourceLocation
) -> tuple[CaseIssue, ...]:
    """Point each rule finding back at the source: rebuild once, tracking what fed where."""
    state = BuildState(track={})
    spec.template.build(scope, state, "")
    track = state.track or {}
    out = []
    for finding in findings:
        pointer = finding.location
        hit = track.get(pointer)
        if hit is None:
            hit = next((v for k, v in track.items() if k.startswith(pointer + "/")), None)
        probe = pointer
        while hit is None and "/" in probe:
            probe = probe.rpartition("/")[0]
            hit = track.get(probe)
        where, column = (hit[0].location(), hit[1]) if hit else (source, None)
        field = next((p for p in reversed(pointer.split("/")) if p and not p.isdigit()), None)
        out.append(
            CaseIssue(
                finding.rule,
                finding.message,
                pointer,
                field,
                where,
                column,
                server_message=finding.serverMessage,
            )
        )
    return tuple(out)
