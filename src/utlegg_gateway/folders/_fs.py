"""Durability helpers shared by the stages that write files (outbox, archive)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file"]


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
