"""File helpers shared by the folder stages: durability (outbox, archive) and hashing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["fit_name", "fsync_dir", "fsync_file", "hash_file", "shown_name"]


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable: a rename is atomic but not durable until then."""
    if os.name != "posix":  # directory fsync is a POSIX guarantee; elsewhere a no-op
        return
    fsync_file(folder)


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in chunks (any size, flat memory)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# The longest suffix the outbox adds to a source name (`.999.kvittering.json` leaves room
# for numbered copies); names are fitted so that every outbox file name stays within
# NAME_MAX (255 bytes on Linux, SMB and NFS alike).
_NAME_MAX = 255
_LONGEST_SUFFIX = ".999.kvittering.json"


def fit_name(name: str, *, suffix: str = _LONGEST_SUFFIX) -> str:
    """`name` if `name + suffix` fits in a file name; else a shortened `name~<hash>` that does.

    The hash (of the whole name) keeps two long names that share a prefix apart.
    """
    if len(os.fsencode(name + suffix)) <= _NAME_MAX:
        return name
    tag = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:10]
    budget = _NAME_MAX - len(os.fsencode(suffix + tag))
    cut = name
    while len(os.fsencode(cut)) > budget:
        cut = cut[:-1]
    return cut + tag


def shown_name(text: str) -> str:
    """A name as people and text formats see it: bytes that were not UTF-8 as `\\xNN`,
    control characters (ANSI escapes, NUL, line breaks) as `\\xNN` too; the rest as is."""
    text = os.fsencode(text).decode("utf-8", "backslashreplace")
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
