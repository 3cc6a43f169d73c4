"""One configured inbox and its work folder: claim, register, recover.

An `Inbox` owns what happens between a drop and the pipeline: its scanner decides
readiness and claims by atomic rename into the work folder; `register` hashes the
claimed file and records it in the journal; `recover` (at start, under the run lock)
finds what a stop or crash left in the work folder; `unmoved` lists answered files whose
move out of it did not finish. The runner only composes inboxes; it reads no folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from utlegg_gateway._logging import fields, get_logger
from utlegg_gateway.config import InboxSettings
from utlegg_gateway.errors import ErrorEntry, InboxError, Place
from utlegg_gateway.folders._fs import hash_file
from utlegg_gateway.folders.inbox import InboxScanner
from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.sqlite import FILE_END_STATES, FileRecord, FileState

__all__ = ["Inbox", "Takeover"]

log = get_logger(__name__)


class Takeover(NamedTuple):
    """What a takeover of a dead instance's folder did: files moved here, files left there
    (one of that name is in this work folder; moved at a later round, once ours is done)."""

    moved: int = 0
    left: int = 0

    def plus(self, other: tuple[int, int]) -> Takeover:
        """Both counts added (`+` on a tuple would join them)."""
        return Takeover(self.moved + other[0], self.left + other[1])


class Inbox:
    """One configured inbox: its scanner, its work folder and its files in the journal."""

    def __init__(
        self,
        settings: InboxSettings,
        *,
        work: Path,
        journal: JournalStore,
        clock: Callable[[], datetime],
        root: Path | None = None,
    ) -> None:
        self.settings = settings
        self.work = work
        # In a cluster each instance claims into its own `root/<instance>/` (`work`), so
        # a restart or a takeover knows whose files are whose from the folder alone.
        self.root = root
        self._clock = clock
        self.journal = journal
        self.scanner = InboxScanner(settings, work=work, clock=clock)
        # (peer, name) of files a takeover had to leave: the error is logged once, not at
        # every heartbeat's retry.
        self._left: set[tuple[str, str]] = set()

    @property
    def name(self) -> str:
        """The inbox's configured name (it keys journal rows and the work folder)."""
        return self.settings.name

    def claim_ready(self, budget: int) -> tuple[list[FileRecord], int]:
        """Scan, claim and register up to `budget` ready files: (records, files still waiting).

        Ready files over the budget count as waiting: the next scan takes them.
        """
        claimed: list[FileRecord] = []
        ready = self.scanner.scan()
        pending = self.scanner.pending_count()
        for item in ready:
            if len(claimed) >= budget:
                pending += 1
                continue
            path = self.scanner.claim(item)
            if path is None:
                continue
            claimed.append(self.register(path, problem=item.problem))
            log.info("file claimed", extra=fields(file=path.name, inbox=self.name))
        return claimed, pending

    def register(self, path: Path, *, problem: str | None = None) -> FileRecord:
        """Record a freshly claimed file in the journal (hashing its bytes).

        A file with a `problem` (a symbolic link: never followed, never read) is recorded
        as failed at once; the pipeline then reports it and moves it to failed/.
        """
        if problem is not None or path.is_symlink():
            target = str(path.readlink()) if path.is_symlink() else ""
            record = self.journal.register_file(
                inbox=self.name,
                name=path.name,
                sha256=_refused_digest(path.name, target),
                size=0,
                path=path,
            )
            error = InboxError(problem or "a symbolic link is never followed", file=path.name)
            return self.journal.set_file_state(
                record.id, FileState.FAILED, error=ErrorEntry.from_error(error, Place(path.name))
            )
        try:
            sha256, size = hash_file(path)
        except OSError as exc:
            # Claimed but unreadable (permissions, a share erroring): answered as failed,
            # like a link, instead of stopping the scan of every other file.
            return self.register(path, problem=f"the file cannot be read: {exc.strerror or exc}")
        return self.journal.register_file(
            inbox=self.name, name=path.name, sha256=sha256, size=size, path=path
        )

    def work_files(self) -> list[Path]:
        """The data files in the work folder; none while the folder is unreachable."""
        try:
            if not self.work.is_dir():
                return []
            return sorted(
                path
                for path in self.work.iterdir()
                if self.scanner.is_data_file(path.name) and not path.is_dir()
            )
        except OSError as exc:
            # work/ lives on the inbox's share: a dead share must not stop the gateway.
            log.warning(
                "cannot list the work folder; its files wait",
                extra=fields(inbox=self.name, error=str(exc)),
            )
            return []

    def recover(self) -> list[FileRecord]:
        """Every file in the work folder as a journal record; unknown ones registered.

        Unknown: the process died between the claim (rename) and the journal record.
        """
        out: list[FileRecord] = []
        for path in self.work_files():
            known = self.journal.file_by_path(path)
            if (
                known is not None
                and known.state in FILE_END_STATES
                and not _holds_content_of(path, known)
            ):
                # Two crashes: an ended file's row kept its work/ path (killed after the
                # archive move), then a new file of that name was claimed and not yet
                # registered. It is new: register it, never archive it unread.
                known = None
            if known is None:
                known = self._adopt(path)
            if known is None:
                log.warning(
                    "claimed file unknown to the journal (crash after claim); registering",
                    extra=fields(file=path.name, inbox=self.name),
                )
                known = self.register(path)
            out.append(known)
        return out

    def take_over(self, peer: str) -> Takeover:
        """Move a dead cluster instance's claimed files into this one's work folder (its
        name lock held by the caller): how many moved, and how many had to stay. The
        rename comes first, the journal's path second; a crash between them is mended
        by `_adopt`."""
        if self.root is None or peer == self.work.name:
            return Takeover()
        # peer "" is the inbox's own work folder: what a gateway left there before
        # `cluster.enabled` was switched on. Several instances starting at once race
        # for those files by rename, as for a drop.
        source = Inbox(
            self.settings, work=self.root / peer, journal=self.journal, clock=self._clock
        )
        moved = left = 0
        for path in source.work_files():
            target = self.work / path.name
            # is_symlink too: a refused link of that name (kept, never followed) may dangle.
            if target.exists() or target.is_symlink():
                # Two instances claimed files of one name (an export that always has the
                # same name): never overwrite ours. Left where it is, it is moved at a
                # later round, once ours has been answered and archived (the caller keeps
                # the peer on the books until nothing is left), or by the peer's restart.
                left += 1
                if (peer, path.name) not in self._left:
                    self._left.add((peer, path.name))
                    log.error(
                        "cannot take over a file yet: one of that name is in this work"
                        " folder; it is moved once that one is done",
                        extra=fields(file=path.name, inbox=self.name, peer=peer),
                    )
                continue
            known = self.journal.file_by_path(path)
            try:
                self.work.mkdir(parents=True, exist_ok=True)
                path.rename(target)
            except FileNotFoundError:
                continue  # another instance took it first
            except OSError as exc:
                left += 1  # still there: tried again at the next round
                if (peer, path.name) not in self._left:
                    self._left.add((peer, path.name))
                    log.error(
                        "cannot take over a file",
                        extra=fields(file=path.name, inbox=self.name, peer=peer, error=str(exc)),
                    )
                continue
            if known is not None:
                self.journal.set_file_path(known.id, target)
            moved += 1
            if (peer, path.name) in self._left:
                self._left.discard((peer, path.name))
                log.warning(
                    "took over a file left at an earlier round",
                    extra=fields(file=path.name, inbox=self.name, peer=peer),
                )
        return Takeover(moved, left)

    def _adopt(self, path: Path) -> FileRecord | None:
        """The journal record of a file taken over from another instance's folder whose
        path the taker did not get to update (killed between rename and update)."""
        if self.root is None:
            return None
        try:
            siblings = [d for d in self.root.iterdir() if d.is_dir() and d != self.work]
        except OSError:
            return None
        siblings.append(self.root)  # moved from before the cluster was switched on
        for sibling in siblings:
            old = sibling / path.name
            known = self.journal.file_by_path(old)
            if known is None or old.exists() or not _holds_content_of(path, known):
                continue
            log.warning(
                "taking up a file moved here from another instance's work folder",
                extra=fields(file=path.name, inbox=self.name, peer=sibling.name),
            )
            self.journal.set_file_path(known.id, path)
            return self.journal.file(known.id)
        return None

    def unmoved(self) -> list[FileRecord]:
        """Files in the work folder the journal knows: ended but not moved (archive/ or
        failed/ refused), or not answered (the outbox refused)."""
        out: list[FileRecord] = []
        for path in self.work_files():
            known = self.journal.file_by_path(path)
            if known is not None:
                out.append(known)
        return out


def _refused_digest(name: str, target: str) -> str:
    """A stand-in hash for a refused (never read) file: stable per name and link target."""
    return hashlib.sha256(f"refused:{name}:{target}".encode()).hexdigest()


def _holds_content_of(path: Path, known: FileRecord) -> bool:
    """Whether `path` still holds the bytes `known` was registered with."""
    if path.is_symlink():
        return True  # registered by name and target, never read
    try:
        return hash_file(path)[0] == known.sha256
    except OSError:
        return True  # cannot tell: treat it as the file the journal knows, as before
