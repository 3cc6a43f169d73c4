"""Attachments: the one place that decides whether a named PDF may be read, and reads it.

A case names its attachments (`filnavn`); the file lies beside the data file in the work
folder or still in the inbox. Everything about such a name is decided here:

- `check_name`: a plain file name, nothing that could leave the folder;
- `locate`: the first folder holding it as a regular file that is not a link (a FIFO,
  a folder or a symlink is refused, never opened);
- `Sightings`: readiness by the data files' rule (size and mtime unchanged for
  `stable_seconds` of our clock);
- `read`: opened without following links and without blocking, checked again on the
  open descriptor, read in chunks up to a size limit, hashed on the way;
- `check` + `Stream`: the same checks and hash without holding the file, then its bytes
  streamed to the upload in chunks (a 500 MB PDF never sits in memory).

The pipeline (archiving), the case worker (upload) and `utlegg-gateway submit` call it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from utlegg_gateway.errors import AttachmentError
from utlegg_gateway.mapping.results import AttachmentRef

__all__ = [
    "DEFAULT_MAX_BYTES",
    "AttachmentContent",
    "CheckedAttachment",
    "Sightings",
    "Stream",
    "attachments_of",
    "check",
    "check_name",
    "find_by_stem",
    "locate",
    "read",
]

# No limit is published for ELAN's vedlegg; a PDF above this is far more likely a wrong
# file than a real enclosure. Configurable per inbox (`attachments_max_bytes`).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class AttachmentContent:
    """The bytes of one attachment and their SHA-256 (the journal keys uploads on it)."""

    data: bytes
    sha256: str


def attachments_of(source: Mapping[str, Any]) -> list[AttachmentRef]:
    """The attachments a case's journal `source` names."""
    return [
        AttachmentRef(a["filnavn"], a.get("type", ""), tuple(a.get("pointers", ())))
        for a in source.get("attachments", ())
    ]


def check_name(filnavn: str) -> None:
    """Refuse (AttachmentError) any name that is not a plain file name in its folder.

    Refused: empty, `.`/`..`, separators of either system, NUL, absolute paths.
    """
    if (
        not filnavn
        or filnavn in {".", ".."}
        or "/" in filnavn
        or "\\" in filnavn
        or "\x00" in filnavn
        or Path(filnavn).is_absolute()
    ):
        raise AttachmentError(
            f"attachment name {filnavn!r} is not a plain file name", field="filnavn", value=filnavn
        )


def _regular(path: Path, filnavn: str, *, hard_links: bool = False) -> os.stat_result | None:
    """lstat of `path` if it is a regular file; None if absent; refused if anything else."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:  # e.g. ENAMETOOLONG: a name no file can have
        raise AttachmentError(
            f"attachment {filnavn[:80]!r} cannot be looked up: {exc.strerror or exc}",
            field="filnavn",
        ) from exc
    if stat.S_ISLNK(st.st_mode):
        raise AttachmentError(
            f"attachment {filnavn!r} is a symbolic link (it could lead outside its folder)",
            field="filnavn",
            value=filnavn,
        )
    if not stat.S_ISREG(st.st_mode):
        raise AttachmentError(
            f"attachment {filnavn!r} is not a regular file; refused",
            field="filnavn",
            value=filnavn,
        )
    if st.st_nlink > 1 and not hard_links:
        raise AttachmentError(_HARD_LINK.format(name=filnavn), field="filnavn", value=filnavn)
    return st


_HARD_LINK = (
    "attachment {name!r} has more than one hard link (its other name may be anywhere on "
    "the file system); refused, see inboxes[].attachments_allow_hard_links"
)


def locate(
    filnavn: str, folders: Iterable[Path], *, hard_links: bool = False
) -> tuple[Path, os.stat_result] | None:
    """The first of `folders` holding `filnavn` as a regular file, with its stat; None if none.

    Raises AttachmentError for an unsafe name, or a link, folder, FIFO … under that name,
    or (unless `hard_links`) a file with a second hard link.
    """
    check_name(filnavn)
    for folder in folders:
        candidate = folder / filnavn
        st = _regular(candidate, filnavn, hard_links=hard_links)
        if st is not None:
            return candidate, st
    return None


def find_by_stem(directory: Path, filnavn: str) -> Path:
    """`filnavn` in `directory`: the exact name, else the one regular file with that stem.

    For `utlegg-gateway submit`, where a begjæring may name `stevning` for `stevning.pdf`.
    """
    hit = locate(filnavn, [directory])
    if hit is not None:
        return hit[0]
    candidates = sorted(
        p for p in directory.iterdir() if p.stem == filnavn and _regular(p, p.name) is not None
    )
    if not candidates:
        raise AttachmentError(
            f"attachment {filnavn!r} not found in {directory}", field="filnavn", value=filnavn
        )
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise AttachmentError(
            f"attachment {filnavn!r} is ambiguous in {directory}: {names}", field="filnavn"
        )
    return candidates[0]


def _open_checked(path: Path, max_bytes: int, hard_links: bool) -> tuple[int, os.stat_result]:
    """Open without following a link or blocking; the descriptor's own checks passed."""
    name = path.name
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise AttachmentError(
            f"attachment {name!r} cannot be opened: {exc.strerror or exc}", field="filnavn"
        ) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise AttachmentError(f"attachment {name!r} is not a regular file; refused")
        if st.st_nlink > 1 and not hard_links:
            raise AttachmentError(_HARD_LINK.format(name=name), field="filnavn")
        if st.st_size > max_bytes:
            raise AttachmentError(
                f"attachment {name!r} has {st.st_size} bytes, more than the limit of {max_bytes}",
                field="filnavn",
                value=str(st.st_size),
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _chunks(fd: int, name: str, max_bytes: int) -> Iterator[bytes]:
    size = 0
    while chunk := os.read(fd, _CHUNK):
        size += len(chunk)
        if size > max_bytes:  # it grew while being read
            raise AttachmentError(f"attachment {name!r} grew beyond the limit of {max_bytes} bytes")
        yield chunk


def read(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, hard_links: bool = False
) -> AttachmentContent:
    """Read an attachment safely into memory: no link followed, no blocking open, limited.

    The checks are repeated on the open descriptor, so a file swapped for a FIFO or a
    link between `locate` and here is still refused. Call it off the event loop.
    """
    fd, _ = _open_checked(path, max_bytes, hard_links)
    digest = hashlib.sha256()
    parts: list[bytes] = []
    try:
        for chunk in _chunks(fd, path.name, max_bytes):
            digest.update(chunk)
            parts.append(chunk)
    finally:
        os.close(fd)
    return AttachmentContent(b"".join(parts), digest.hexdigest())


@dataclass(frozen=True, slots=True)
class CheckedAttachment:
    """An attachment checked and hashed without being held; `Stream` sends it."""

    path: Path
    size: int
    sha256: str
    max_bytes: int
    hard_links: bool
    # (device, inode, size, mtime): the file `Stream` reopens must still be this one.
    identity: tuple[int, int, int, int]


def check(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, hard_links: bool = False
) -> CheckedAttachment:
    """The checks of `read`, and the SHA-256 computed chunk by chunk: memory stays flat
    whatever the size. Call it off the event loop."""
    fd, st = _open_checked(path, max_bytes, hard_links)
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in _chunks(fd, path.name, max_bytes):
            digest.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    identity = (st.st_dev, st.st_ino, size, st.st_mtime_ns)
    return CheckedAttachment(path, size, digest.hexdigest(), max_bytes, hard_links, identity)


class Stream:
    """The bytes of a checked attachment, read again in chunks off the event loop.

    Each `chunks()` call reopens the file (a retried upload starts over), with the same
    checks; a file changed since `check` (other inode, size, mtime or content) ends the
    stream with an AttachmentError, so ELAN never gets bytes the journal did not hash.
    """

    def __init__(self, checked: CheckedAttachment) -> None:
        self._checked = checked
        self.size = checked.size

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's content, 1 MiB at a time."""
        c = self._checked
        fd, st = await asyncio.to_thread(_open_checked, c.path, c.max_bytes, c.hard_links)
        try:
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != c.identity:
                raise AttachmentError(f"attachment {c.path.name!r} changed after it was checked")
            digest = hashlib.sha256()
            while chunk := await asyncio.to_thread(os.read, fd, _CHUNK):
                digest.update(chunk)
                yield chunk
            if digest.hexdigest() != c.sha256:
                raise AttachmentError(f"attachment {c.path.name!r} changed while it was sent")
        finally:
            os.close(fd)


class Sightings:
    """Readiness of attachments: seen unchanged for the stable window of our clock.

    Not the mtime's age: a share's clock may run ahead, and a copy may keep an old mtime
    while it is written. `scanned` is the inbox scanners' own observation (a PDF in an
    inbox they list is ready once they saw it unchanged); files elsewhere are watched here.
    """

    # A long-running daemon forgets old sightings rather than grow without bound.
    _MAX_SEEN = 10_000

    def __init__(
        self,
        clock: Callable[[], datetime],
        scanned: Callable[[Path, os.stat_result], bool] | None = None,
    ) -> None:
        self._clock = clock
        self._scanned = scanned
        self._seen: dict[Path, tuple[tuple[int, int], datetime]] = {}

    def stable(self, path: Path, st: os.stat_result, window: float) -> bool:
        """True when `path` has kept size and mtime for `window` seconds (0: at once)."""
        if window <= 0 or (self._scanned is not None and self._scanned(path, st)):
            return True
        now = self._clock()
        key = (st.st_size, st.st_mtime_ns)
        seen = self._seen.get(path)
        if seen is None or seen[0] != key:
            if len(self._seen) > self._MAX_SEEN:
                self._seen.clear()
            self._seen[path] = (key, now)
            return False
        return (now - seen[1]).total_seconds() >= window

    def settling(self, filnavn: str, folders: Sequence[Path]) -> bool:
        """True when `filnavn` was seen in one of `folders`, only not yet stable."""
        return any((folder / filnavn) in self._seen for folder in folders)
