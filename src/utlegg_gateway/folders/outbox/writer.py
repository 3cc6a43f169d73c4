"""Writing outbox files: atomically, never overwriting, idempotent for the same bytes."""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from utlegg_gateway.errors import GatewayError, OutboxError
from utlegg_gateway.folders._fs import fit_name, fsync_dir, shown_name
from utlegg_gateway.folders.outbox.formats import (
    error_report_json,
    error_report_text,
    receipt_csv_chunks,
    receipt_json_chunks,
    receipt_xml_chunks,
)
from utlegg_gateway.folders.outbox.receipts import (
    ErrorReport,
    Receipt,
    error_from_gateway_error,
)

__all__ = [
    "safe_name",
    "sweep_temp_files",
    "write_atomic",
    "write_error_report",
    "write_receipt",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file-name-safe form of a reference: no separators, no leading dots, never empty."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or "_"
    return cleaned[:120]


def write_atomic(path: Path, data: bytes) -> None:
    """Make `path` hold exactly `data`, all or nothing: temp name in the same folder,
    fsync, `os.replace`, fsync of the folder. Raises OutboxError; never leaves a partial
    file or a temp file behind.
    """
    tmp = _write_temp(path, (data,))
    _replace(tmp, path)
    _fsync_folder(path.parent)


def _write_temp(path: Path, chunks: Iterable[bytes]) -> Path:
    """`chunks` in a fsynced temp file beside `path` (its name); OutboxError on failure."""
    folder = path.parent
    # Hidden and *.tmp: readers that ignore temp names (ours included) never pick it up.
    token = secrets.token_hex(6)
    prefix = path.name
    # The temp name must fit in a file name too (a long final name is already fitted).
    while len(os.fsencode(f".{prefix}.{token}.tmp")) > 255:
        prefix = prefix[:-1]
    tmp = folder / f".{prefix}.{token}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _discard(tmp)
        raise _cannot_write(path, exc) from exc
    except BaseException:
        _discard(tmp)  # a failing chunk source (the journal) leaves no temp file either
        raise
    return tmp


def _replace(tmp: Path, path: Path) -> None:
    try:
        tmp.replace(path)
    except OSError as exc:
        _discard(tmp)
        raise _cannot_write(path, exc) from exc


def _fsync_folder(folder: Path) -> None:
    try:
        fsync_dir(folder)
    except OSError as exc:
        raise _cannot_write(folder, exc) from exc


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):  # the original error is the one to report
        tmp.unlink(missing_ok=True)


def _cannot_write(path: Path, exc: OSError) -> OutboxError:
    return OutboxError(
        f"cannot write {path.name}: {exc.strerror or exc}",
        file=str(path),
        hint="check that the outbox folder exists, is writable and has free space",
    )


# write_atomic's temp names: ".<final name>.<12 hex>.tmp"
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def sweep_temp_files(root: Path, *, min_age_seconds: float = 0) -> list[Path]:
    """Remove temp files a killed writer left under `root` (recursively); returns them.

    Only call while holding the run lock: then no write of ours is in progress, and a
    file with write_atomic's temp name can only be the remains of a crash. Where other
    processes write too (a cluster's shared outbox), only files older than
    `min_age_seconds` are taken for such remains.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    now = time.time()
    for path in root.rglob(".*.tmp"):
        if _TEMP_NAME.match(path.name) and path.is_file() and not path.is_symlink():
            try:
                if now - path.stat().st_mtime < min_age_seconds:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            else:
                removed.append(path)
    return removed


def _numbered(outbox: Path, source_name: str, suffixes: Sequence[str], n: int) -> list[Path]:
    # A name too long for its suffixes is shortened with a hash (the receipt says so).
    base = fit_name(source_name)
    stem = base if n == 1 else f"{base}.{n}"
    return [outbox / f"{stem}{suffix}" for suffix in suffixes]


# What one outbox file is made of: its suffix and its bytes, whole or as chunks that are
# produced as they are written (a receipt of any size in flat memory).
_Item = tuple[str, Iterable[bytes]]


def _write_set(outbox: Path, source_name: str, items: Sequence[_Item]) -> list[Path]:
    """Write files sharing one stem; reuse the stem only where nothing would be overwritten.

    Each file is written to its temp name first and compared from there, so its bytes
    never need to be in memory whole.
    """
    if "/" in source_name or "\\" in source_name or source_name in {"", ".", ".."}:
        raise OutboxError("an outbox name must be a plain file name", file=shown_name(source_name))
    suffixes = [suffix for suffix, _ in items]
    first = _numbered(outbox, source_name, suffixes, 1)
    temps: list[Path] = []
    try:
        for path, (_, chunks) in zip(first, items, strict=True):
            temps.append(_write_temp(path, chunks))
        n = 1
        while True:
            paths = _numbered(outbox, source_name, suffixes, n)
            if all(_free_or_same(p, t) for p, t in zip(paths, temps, strict=True)):
                break
            n += 1
        replaced = False
        for path, tmp in zip(paths, temps, strict=True):
            if _same(path, tmp):
                _discard(tmp)
            else:
                _replace(tmp, path)
                replaced = True
        if replaced:
            _fsync_folder(outbox)
    finally:
        for tmp in temps:
            _discard(tmp)  # gone already unless something above failed
    return paths


def _same(path: Path, tmp: Path) -> bool:
    try:
        return path.stat().st_size == tmp.stat().st_size and filecmp.cmp(path, tmp, shallow=False)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutboxError(f"cannot read {path.name}: {exc.strerror}", file=str(path)) from exc


def _free_or_same(path: Path, tmp: Path) -> bool:
    return not path.exists() or _same(path, tmp)


def write_receipt(
    outbox: Path,
    source_name: str,
    receipt: Receipt,
    formats: Iterable[str] = ("json",),
    *,
    csv_encoding: str = "utf-8-sig",
    csv_delimiter: str = ";",
    csv_neutralise_formulas: bool = True,
) -> list[Path]:
    """Write `NAME.kvittering.json` (always) plus `.csv` / `.xml` when in `formats`.

    Idempotent: rewriting the same receipt changes nothing. Returns the paths written.
    """
    wanted = set(formats) | {"json"}
    unknown = wanted - {"json", "csv", "xml"}
    if unknown:
        raise OutboxError(f"unknown receipt format(s): {sorted(unknown)}", field="formats")
    items: list[_Item] = [(".kvittering.json", receipt_json_chunks(receipt))]
    if "csv" in wanted:
        items.append(
            (
                ".kvittering.csv",
                receipt_csv_chunks(
                    receipt,
                    encoding=csv_encoding,
                    delimiter=csv_delimiter,
                    neutralise_formulas=csv_neutralise_formulas,
                ),
            )
        )
    if "xml" in wanted:
        items.append((".kvittering.xml", receipt_xml_chunks(receipt)))
    return _write_set(outbox, source_name, items)


def write_error_report(
    outbox: Path,
    source_name: str,
    error: GatewayError | ErrorReport,
    *,
    at: datetime | None = None,
    inbox: str | None = None,
    sha256: str | None = None,
    moved_to: str | None = None,
) -> list[Path]:
    """Write `NAME.feil.json` and `NAME.feil.txt` for a file that could not be read.

    Given a GatewayError, its details become the one error of the report and `at` is
    required (the clock is the caller's). Returns the paths written.
    """
    if isinstance(error, GatewayError):
        if at is None:
            raise OutboxError("write_error_report needs `at` with a GatewayError", field="at")
        report = ErrorReport(
            source_name=shown_name(source_name),
            code=error.code,
            message=error.message,
            at=at,
            inbox=inbox,
            sha256=sha256,
            moved_to=moved_to,
            hint=error.hint,
            errors=(error_from_gateway_error(error),),
        )
    else:
        report = error
    return _write_set(
        outbox,
        source_name,
        [
            (".feil.json", (error_report_json(report),)),
            (".feil.txt", (error_report_text(report),)),
        ],
    )
