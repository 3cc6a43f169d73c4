"""Moving files out of work: the dated archive, `failed/`, and the retention purge.

Moves are renames where possible; across file systems (an archive on local disk, a
share for the inbox) a move is copy to a hidden temp name, fsync, rename, then delete
the source, so a crash leaves two copies, never none. Nothing is overwritten: a name
already present gets `.2`, `.3` … after its stem.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.errors import InboxError
from utlegg_gateway.folders._fs import fsync_dir, fsync_file

__all__ = ["archive_file", "move_file", "move_to_failed", "purge_archive"]

log = get_logger(__name__)


def _free_target(folder: Path, name: str) -> Path:
    target = folder / name
    stem, dot, suffix = name.partition(".")
    n = 2
    while target.exists() or target.is_symlink():
        target = folder / (f"{stem}.{n}{dot}{suffix}" if dot else f"{name}.{n}")
        n += 1
    return target


def move_file(source: Path, folder: Path) -> Path:
    """Move `source` into `folder` under its name (a clash gets `.2`, `.3` … after the stem).

    Rename when on one file system; otherwise copy to a hidden temp name, fsync,
    rename, fsync the folder, then delete the source: a crash leaves two copies, never
    none. Raises InboxError.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_target(folder, source.name)
        try:
            source.rename(target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            tmp = folder / f".{source.name}.moving.tmp"
            shutil.copy2(source, tmp, follow_symlinks=False)
            fsync_file(tmp)
            tmp.rename(target)
            fsync_dir(folder)
            source.unlink()
            return target
        fsync_dir(folder)
    except OSError as exc:
        raise InboxError(
            f"cannot move {source.name} to {folder}: {exc.strerror or exc}",
            file=str(source),
            hint="check that the archive/failed folder exists, is writable and has space",
        ) from exc
    return target


def archive_file(
    path: Path,
    archive_root: Path,
    *,
    now: datetime,
    attachments: Sequence[Path] = (),
) -> Path:
    """Move a finished original (and its attachments, and a `.done`/`.ok` marker beside it)
    to `archive_root/YYYY-MM-DD/`; returns the original's new path.

    The original moves last: the journal knows the file by its path in work/, so a
    process killed between the moves leaves it there, and the next start (or the sweep)
    runs this again and moves what is left. Moved first, it would leave the remaining
    PDFs behind for ever.
    """
    folder = archive_root / now.date().isoformat()
    for extra in attachments:
        if extra.exists() and not extra.is_symlink():
            move_file(extra, folder)
    for marker in _markers_beside(path):
        move_file(marker, folder)
    return move_file(path, folder)


def move_to_failed(path: Path, failed_root: Path, *, now: datetime | None = None) -> Path:
    """Move an unreadable original to `failed_root/` (`failed_root/YYYY-MM-DD/` given `now`).

    Failed files are never purged automatically: they wait for a person.
    """
    folder = failed_root if now is None else failed_root / now.date().isoformat()
    moved = move_file(path, folder)
    for marker in _markers_beside(path):
        move_file(marker, folder)
    return moved


def _markers_beside(path: Path) -> list[Path]:
    return [
        path.parent / f"{path.name}{suffix}"
        for suffix in (".done", ".ok")
        if (path.parent / f"{path.name}{suffix}").is_file()
    ]


def purge_archive(archive_root: Path, *, retention_days: int, now: datetime) -> list[Path]:
    """Delete archive day folders older than `retention_days`; returns what was deleted.

    Only folders named `YYYY-MM-DD` are touched. Journal rows (with hashes) are kept, so
    duplicates are still recognised after the files are gone.
    """
    cutoff: date = (now - timedelta(days=retention_days)).date()
    removed: list[Path] = []
    try:
        children = list(archive_root.iterdir()) if archive_root.is_dir() else []
    except OSError as exc:
        raise InboxError(
            f"cannot list the archive: {exc.strerror}", file=str(archive_root)
        ) from exc
    for child in sorted(children):
        try:
            day = date.fromisoformat(child.name)
        except ValueError:
            continue
        if day >= cutoff or child.is_symlink() or not child.is_dir():
            continue
        try:
            shutil.rmtree(child)
        except OSError as exc:
            raise InboxError(f"cannot purge {child.name}: {exc.strerror}", file=str(child)) from exc
        removed.append(child)
        log.info("archive day purged", extra=fields(folder=child.name))
    return removed
