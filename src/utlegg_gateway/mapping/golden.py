"""`mapping test DIR`: a customer's golden tests of a mapping, for their CI.

    run_golden(folder, search_dirs, version, today, mapping=None, update=False) -> GoldenReport

Layout of DIR: the sample exports, the attachments they name, and `expected/EXPORT/KEY.json`
per case: the begjæring the case must map to (or `{"errors": [...]}` for a case that must
fail, with the codes and places it must fail with). Each export is mapped (with prøving,
on the day `today`) by the mapping named, else by the first mapping in `DIR`, its parent
or `search_dirs` whose file-name patterns match it; files no mapping claims are skipped.

Every case is compared field by field (JSON pointers); an attachment a case names that is
not in DIR is a difference too. `update=True` writes the expected files as the mapping
now makes them (after review) and removes those of cases that are gone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from utlegg_gateway.errors import MappingSpecError, UsageError
from utlegg_gateway.mapping.results import CaseResult
from utlegg_gateway.mapping.spec import MappingSpec

__all__ = ["CaseOutcome", "GoldenReport", "run_golden"]

EXPECTED = "expected"
# Not exports: mappings, lookup tables, expected files, attachments, notes.
_NOT_EXPORTS = frozenset({".yaml", ".yml", ".json", ".pdf", ".md", ".py", ".png", ".jpg"})

Status = Literal["pass", "fail", "new", "gone", "updated"]


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """One case of one export: how it compared, and the differences field by field."""

    export: str
    case: str
    status: Status
    diffs: tuple[str, ...] = ()


@dataclass
class GoldenReport:
    """The outcome of every case of every export in DIR."""

    folder: Path
    cases: list[CaseOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files no mapping claims

    @property
    def failed(self) -> list[CaseOutcome]:
        """Cases that differ, have no expected file, or are expected but gone."""
        return [c for c in self.cases if c.status in {"fail", "new", "gone"}]


def run_golden(
    folder: Path,
    search_dirs: Sequence[Path],
    version: str,
    today: date,
    *,
    mapping: str | None = None,
    update: bool = False,
) -> GoldenReport:
    """Map every export in `folder` and compare (or, with `update`, write) its cases."""
    from utlegg_gateway.mapping import map_file, resolve_mapping
    from utlegg_gateway.provning import ProvingContext

    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder", file=str(folder))
    dirs = [folder, folder.parent, *search_dirs]
    ctx = ProvingContext(today=today, version=version)
    report = GoldenReport(folder)
    fixed = resolve_mapping(mapping, folder / "_", dirs, version=version) if mapping else None
    exports = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in _NOT_EXPORTS
    )
    for export in exports:
        spec = fixed or _claiming(export, dirs, version)
        if spec is None:
            report.skipped.append(export.name)
            continue
        results = list(map_file(export, spec, ctx))
        report.cases.extend(_compare(folder, export, results, update))
    return report


def _claiming(export: Path, dirs: Sequence[Path], version: str) -> MappingSpec | None:
    from utlegg_gateway.mapping import resolve_mapping

    try:
        return resolve_mapping(None, export, dirs, version=version)
    except MappingSpecError as exc:
        if exc.problems:  # a mapping that claims it but is broken: say so
            raise
        return None


def _actual(result: CaseResult) -> dict[str, Any]:
    if result.ok and result.begjaering is not None:
        return result.begjaering
    return {"errors": [issue.to_json() for issue in result.errors]}


def _file_name(key: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    return f"{safe}.json"


def _compare(
    folder: Path, export: Path, results: list[CaseResult], update: bool
) -> list[CaseOutcome]:
    expected_dir = folder / EXPECTED / export.name
    out: list[CaseOutcome] = []
    produced: set[str] = set()
    for result in results:
        name = _file_name(result.key)
        produced.add(name)
        path = expected_dir / name
        actual = _actual(result)
        missing = [
            f"attachment {ref.filnavn} ({ref.type}) is not in {folder}"
            for ref in result.attachments
            if not (folder / ref.filnavn).is_file()
        ]
        if update:
            expected_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            out.append(CaseOutcome(export.name, result.key, "updated", tuple(missing)))
            continue
        if not path.is_file():
            note = f"no expected file {path.relative_to(folder)} (review, then --update)"
            out.append(CaseOutcome(export.name, result.key, "new", (note, *missing)))
            continue
        expected = json.loads(path.read_text(encoding="utf-8"))
        diffs = (*field_diffs(expected, actual), *missing)
        out.append(CaseOutcome(export.name, result.key, "fail" if diffs else "pass", diffs))
    if expected_dir.is_dir():
        for stale in sorted(expected_dir.glob("*.json")):
            if stale.name in produced:
                continue
            if update:
                stale.unlink()
                continue
            out.append(
                CaseOutcome(
                    export.name,
                    stale.stem,
                    "gone",
                    (f"expected by {stale.relative_to(folder)} but not in the export",),
                )
            )
    return out


def _leaves(value: Any, pointer: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            out.update(_leaves(item, f"{pointer}/{escaped}"))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(_leaves(item, f"{pointer}/{index}"))
        return out
    return {pointer or "/": value}


def field_diffs(expected: Any, actual: Any) -> list[str]:
    """`/pointer: expected X, got Y` for each leaf that differs, in the expected order."""
    want, got = _leaves(expected), _leaves(actual)
    out = []
    for pointer, value in want.items():
        if pointer not in got:
            out.append(f"{pointer}: expected {_show(value)}, got nothing")
        elif got[pointer] != value or type(got[pointer]) is not type(value):
            out.append(f"{pointer}: expected {_show(value)}, got {_show(got[pointer])}")
    out.extend(
        f"{pointer}: not expected, got {_show(value)}"
        for pointer, value in got.items()
        if pointer not in want
    )
    return out


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
