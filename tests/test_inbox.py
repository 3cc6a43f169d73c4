"""The inbox: readiness, claiming, folder loss, watchers and the archive, on real folders."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from utlegg_gateway.config import InboxSettings
from utlegg_gateway.errors import InboxError
from utlegg_gateway.folders.inbox import (
    InboxScanner,
    InboxWatcher,
    ReadinessPolicy,
    archive_file,
    move_file,
    move_to_failed,
    purge_archive,
)

STABLE = 10.0
SHM = Path("/dev/shm")


class Clock:
    """A settable clock that starts at the real time, so file mtimes compare sensibly."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def _scanner(drop: Path, clock: Clock, **readiness: Any) -> InboxScanner:
    settings = InboxSettings.model_validate(
        {
            "name": "krav",
            "path": drop,
            "readiness": {"stable_seconds": STABLE, **readiness},
        }
    )
    return InboxScanner(settings, work=drop.parent / "work" / "krav", clock=clock)


def _settle(scanner: InboxScanner, clock: Clock) -> list[str]:
    """Two scans a stability window apart: the names that are then ready."""
    scanner.scan()
    clock.advance(STABLE + 1)
    return [r.name for r in scanner.scan()]


def test_slow_writer_is_not_claimed_until_stable(drop: Path, clock: Clock) -> None:
    """A file growing between scans is never ready; once it stops growing it is."""
    scanner = _scanner(drop, clock)
    target = drop / "utlegg_20261127_020000.csv"
    with target.open("wb") as out:
        for chunk in range(3):
            out.write(b"SAKSNR;BEGJ_DATO\r\n" * (chunk + 1))
            out.flush()
            assert scanner.scan() == []
            clock.advance(STABLE + 1)
    # The last chunk was seen once, a window ago, and has not changed since: now ready.
    (ready,) = scanner.scan()
    assert ready.name == target.name and ready.size == target.stat().st_size


def test_mtime_change_alone_restarts_the_window(drop: Path, clock: Clock) -> None:
    """Same size but a new mtime (Explorer pre-sizes files) means still being written."""
    scanner = _scanner(drop, clock)
    target = drop / "a.csv"
    target.write_bytes(b"x" * 100)
    scanner.scan()
    clock.advance(STABLE + 1)
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 5_000_000_000))
    assert scanner.scan() == []
    clock.advance(STABLE + 1)
    assert [r.name for r in scanner.scan()] == ["a.csv"]


def test_temp_name_is_claimed_only_after_the_rename(drop: Path, clock: Clock) -> None:
    """An upload under `.filepart` is invisible; after the rename it becomes ready."""
    scanner = _scanner(drop, clock)
    part = drop / "utlegg.csv.filepart"
    part.write_bytes(b"data")
    assert _settle(scanner, clock) == []
    part.rename(drop / "utlegg.csv")
    assert _settle(scanner, clock) == ["utlegg.csv"]


def test_ignored_and_non_data_names_are_never_ready(drop: Path, clock: Clock) -> None:
    """Temp names, hidden files, lock files and attachments are never offered as data files."""
    scanner = _scanner(drop, clock)
    for name in [".hidden.csv", "~lock.csv", "a.csv.tmp", "b.CSV.PART", "c.writing", "d.pdf"]:
        (drop / name).write_bytes(b"x")
    (drop / "E.CSV").write_bytes(b"x")
    (drop / "sub").mkdir()
    assert _settle(scanner, clock) == ["E.CSV"]


def test_marker_file_is_required_when_configured(drop: Path, clock: Clock) -> None:
    """With marker_suffixes set, X is ready only once X.done exists, and the marker moves along."""
    scanner = _scanner(drop, clock, marker_suffixes=[".done"])
    (drop / "a.csv").write_bytes(b"data")
    assert _settle(scanner, clock) == []
    (drop / "a.csv.done").write_bytes(b"")
    (ready,) = scanner.scan()
    claimed = scanner.claim(ready)
    assert claimed is not None
    assert sorted(p.name for p in claimed.parent.iterdir()) == ["a.csv", "a.csv.done"]
    assert list(drop.iterdir()) == []


def test_minimum_age_is_respected(drop: Path, clock: Clock) -> None:
    """A stable file younger than min_age_seconds waits until it is old enough."""
    scanner = _scanner(drop, clock, min_age_seconds=300)
    target = drop / "a.csv"
    target.write_bytes(b"data")
    stamp = clock.now.timestamp()
    os.utime(target, (stamp, stamp))
    assert _settle(scanner, clock) == []
    clock.advance(300)
    assert [r.name for r in scanner.scan()] == ["a.csv"]


def test_zero_length_waits_unless_allowed(drop: Path, clock: Clock) -> None:
    """An empty file is not claimed by default, but is with allow_empty."""
    (drop / "empty.csv").write_bytes(b"")
    strict = _scanner(drop, clock)
    assert _settle(strict, clock) == []
    assert strict.pending_count() == 1
    lenient = _scanner(drop, clock, allow_empty=True)
    assert _settle(lenient, clock) == ["empty.csv"]


def test_an_empty_file_is_answered_after_its_max_age(drop: Path, clock: Clock) -> None:
    """A 0-byte file waits (a writer may fill it), but not for ever: then it is refused."""
    (drop / "empty.csv").write_bytes(b"")
    scanner = _scanner(drop, clock, empty_file_max_age_seconds=3600)
    assert _settle(scanner, clock) == []
    clock.advance(3600)
    (ready,) = scanner.scan()
    assert ready.name == "empty.csv" and ready.problem is not None
    assert "empty (0 bytes)" in ready.problem
    # A file that gets content in time is an ordinary drop.
    (drop / "late.csv").write_bytes(b"")
    scanner.scan()
    clock.advance(100)
    (drop / "late.csv").write_bytes(b"data")
    assert [r.name for r in scanner.scan() if r.problem is None] == []
    clock.advance(STABLE + 1)
    assert "late.csv" in [r.name for r in scanner.scan() if r.problem is None]


def test_a_data_file_over_the_size_limit_is_refused_unread(drop: Path, clock: Clock) -> None:
    """Too large: reported at once (no stability wait), never read."""
    (drop / "huge.csv").write_bytes(b"x" * 2048)
    (drop / "small.csv").write_bytes(b"x" * 10)
    scanner = _scanner(drop, clock, max_file_bytes=1024)
    (refused,) = scanner.scan()
    assert refused.name == "huge.csv" and "more than" in (refused.problem or "")
    clock.advance(STABLE + 1)
    assert {r.name: r.problem is None for r in scanner.scan()} == {
        "huge.csv": False,
        "small.csv": True,
    }


def test_zero_stability_window_is_ready_on_first_sight(drop: Path, clock: Clock) -> None:
    """stable_seconds 0 means no window: a present file is ready at the first scan."""
    (drop / "a.csv").write_bytes(b"data")
    scanner = _scanner(drop, clock, stable_seconds=0)
    assert [r.name for r in scanner.scan()] == ["a.csv"]


def test_claim_is_an_atomic_rename_into_work(drop: Path, clock: Clock) -> None:
    """Claiming moves the very same inode into work: no copy, source gone, bytes equal."""
    scanner = _scanner(drop, clock)
    source = drop / "a.csv"
    source.write_bytes(b"SAKSNR\r\n1\r\n")
    inode = source.stat().st_ino
    scanner.scan()
    clock.advance(STABLE + 1)
    (ready,) = scanner.scan()
    claimed = scanner.claim(ready)
    assert claimed == drop.parent / "work" / "krav" / "a.csv"
    assert claimed.stat().st_ino == inode
    assert claimed.read_bytes() == b"SAKSNR\r\n1\r\n"
    assert not source.exists()
    assert scanner.is_data_file("a.csv") and not scanner.is_data_file("a.csv.tmp")


def test_file_vanished_between_scan_and_claim(drop: Path, clock: Clock) -> None:
    """A file removed after the scan is not claimed and raises nothing."""
    scanner = _scanner(drop, clock)
    (drop / "a.csv").write_bytes(b"data")
    assert _settle(scanner, clock) == ["a.csv"]
    (ready,) = scanner.scan()
    (drop / "a.csv").unlink()
    assert scanner.claim(ready) is None


def test_file_changed_between_scan_and_claim(drop: Path, clock: Clock) -> None:
    """A file that grew after the scan is left for later scans."""
    scanner = _scanner(drop, clock)
    (drop / "a.csv").write_bytes(b"data")
    scanner.scan()
    clock.advance(STABLE + 1)
    (ready,) = scanner.scan()
    with (drop / "a.csv").open("ab") as out:
        out.write(b"more")
    assert scanner.claim(ready) is None
    assert (drop / "a.csv").exists()


def test_same_name_still_in_work_waits(drop: Path, clock: Clock) -> None:
    """A second file of a name still being processed stays in the inbox, nothing overwritten."""
    scanner = _scanner(drop, clock)
    (drop / "a.csv").write_bytes(b"first")
    scanner.scan()
    clock.advance(STABLE + 1)
    (first,) = scanner.scan()
    claimed = scanner.claim(first)
    assert claimed is not None
    (drop / "a.csv").write_bytes(b"second")
    scanner.scan()
    clock.advance(STABLE + 1)
    (second,) = scanner.scan()
    assert scanner.claim(second) is None
    assert claimed.read_bytes() == b"first"
    assert (drop / "a.csv").read_bytes() == b"second"


def test_symlink_is_reported_never_followed(drop: Path, clock: Clock, tmp_path: Path) -> None:
    """A symlinked data file comes back with a problem; claiming moves the link, not the target."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"do not read")
    (drop / "link.csv").symlink_to(secret)
    scanner = _scanner(drop, clock)
    (ready,) = scanner.scan()
    assert ready.problem is not None and "symbolic link" in ready.problem
    claimed = scanner.claim(ready)
    assert claimed is not None and claimed.is_symlink()
    assert secret.read_bytes() == b"do not read"


def test_missing_folder_is_unhealthy_then_recovers(drop: Path, clock: Clock) -> None:
    """Removing the inbox folder makes scans report unhealthy without raising; recreating heals."""
    scanner = _scanner(drop, clock)
    assert scanner.scan() == []
    assert scanner.health.folder_present and scanner.health.last_error is None
    first_ok = scanner.health.last_successful_scan
    shutil.rmtree(drop)
    clock.advance(30)
    assert scanner.scan() == []
    assert not scanner.health.folder_present
    assert scanner.health.last_error is not None and "missing" in scanner.health.last_error
    assert scanner.health.last_successful_scan == first_ok
    assert scanner.health.consecutive_failures == 1
    drop.mkdir()
    (drop / "a.csv").write_bytes(b"data")
    clock.advance(30)
    scanner.scan()
    assert scanner.health.folder_present and scanner.health.last_error is None
    assert scanner.health.last_successful_scan == clock.now
    clock.advance(STABLE + 1)
    assert [r.name for r in scanner.scan()] == ["a.csv"]


@pytest.mark.skipif(
    not SHM.is_dir() or not os.access(SHM, os.W_OK), reason="needs a second file system"
)
def test_claim_across_file_systems_is_refused(drop: Path, clock: Clock) -> None:
    """A work folder on another file system raises InboxError and the file stays put."""
    work = Path(os.environ.get("TMPDIR_SHM", SHM)) / f"utlegg-test-{os.getpid()}-{id(drop)}"
    if work.parent.stat().st_dev == drop.stat().st_dev:
        pytest.skip("/dev/shm is on the same file system here")
    try:
        settings = InboxSettings.model_validate(
            {"name": "krav", "path": drop, "readiness": {"stable_seconds": 0}}
        )
        scanner = InboxScanner(settings, work=work, clock=clock)
        (drop / "a.csv").write_bytes(b"data")
        (ready,) = scanner.scan()
        with pytest.raises(InboxError) as err:
            scanner.claim(ready)
        assert err.value.hint is not None and "krav" in err.value.hint
        assert (drop / "a.csv").read_bytes() == b"data"
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(not SHM.is_dir() or not os.access(SHM, os.W_OK), reason="needs /dev/shm")
def test_move_file_across_file_systems_copies_then_removes(tmp_path: Path) -> None:
    """Archiving to another file system leaves the bytes at the target and none at the source."""
    source = tmp_path / "a.csv"
    source.write_bytes(b"original bytes")
    folder = SHM / f"utlegg-test-{os.getpid()}-{id(tmp_path)}"
    try:
        moved = move_file(source, folder)
        assert moved.read_bytes() == b"original bytes"
        assert not source.exists()
        assert [p.name for p in folder.iterdir()] == ["a.csv"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def woke() -> Iterator[threading.Event]:
    yield threading.Event()


@pytest.mark.parametrize("polling", [False, True])
def test_watcher_wakes_on_a_new_file(drop: Path, woke: threading.Event, polling: bool) -> None:
    """A real watchdog observer (native or polling) calls back when a file appears."""
    watcher = InboxWatcher(drop, on_event=woke.set, polling=polling, poll_interval_seconds=0.1)
    watcher.start()
    try:
        assert watcher.running
        (drop / "a.csv").write_bytes(b"x")
        assert woke.wait(timeout=20)
    finally:
        watcher.stop()
    assert not watcher.running


def test_watcher_survives_the_folder_vanishing(drop: Path, woke: threading.Event) -> None:
    """With the folder gone the watcher stops quietly; ensure() restarts it once it is back."""
    shutil.rmtree(drop)
    watcher = InboxWatcher(drop, on_event=woke.set, polling=True, poll_interval_seconds=0.1)
    watcher.start()  # a missing folder is no error
    try:
        assert not watcher.running
        drop.mkdir()
        watcher.ensure()
        assert watcher.running
        shutil.rmtree(drop)
        watcher.ensure()
        assert not watcher.running
        drop.mkdir()
        watcher.ensure()
        woke.clear()
        (drop / "b.csv").write_bytes(b"x")
        assert woke.wait(timeout=20)
    finally:
        watcher.stop()


def test_archive_moves_original_attachments_and_marker(tmp_path: Path) -> None:
    """Archiving puts the original, its attachments and its marker in archive/YYYY-MM-DD/."""
    work, drop, archive = tmp_path / "work", tmp_path / "inbox", tmp_path / "archive"
    work.mkdir()
    drop.mkdir()
    (work / "u.csv").write_bytes(b"data")
    (work / "u.csv.done").write_bytes(b"")
    (drop / "S1_varsel.pdf").write_bytes(b"%PDF")
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    moved = archive_file(work / "u.csv", archive, now=now, attachments=[drop / "S1_varsel.pdf"])
    day = archive / "2026-11-27"
    assert moved == day / "u.csv" and moved.read_bytes() == b"data"
    assert sorted(p.name for p in day.iterdir()) == ["S1_varsel.pdf", "u.csv", "u.csv.done"]
    assert list(work.iterdir()) == [] and list(drop.iterdir()) == []
    # The same name archived again the same day never overwrites the first.
    (work / "u.csv").write_bytes(b"again")
    again = archive_file(work / "u.csv", archive, now=now)
    assert again == day / "u.2.csv" and (day / "u.csv").read_bytes() == b"data"


def test_move_to_failed(tmp_path: Path) -> None:
    """An unreadable original moves to failed/ (dated when given a time) with its bytes."""
    (tmp_path / "bad.xml").write_bytes(b"<broken")
    moved = move_to_failed(tmp_path / "bad.xml", tmp_path / "failed")
    assert moved == tmp_path / "failed" / "bad.xml" and moved.read_bytes() == b"<broken"
    (tmp_path / "bad2.xml").write_bytes(b"<x")
    dated = move_to_failed(
        tmp_path / "bad2.xml", tmp_path / "failed", now=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert dated == tmp_path / "failed" / "2026-01-02" / "bad2.xml"


def test_move_error_is_an_inbox_error(tmp_path: Path) -> None:
    """Moving a file that is not there gives InboxError naming the file."""
    with pytest.raises(InboxError) as err:
        move_file(tmp_path / "nope.csv", tmp_path / "archive")
    assert err.value.file == str(tmp_path / "nope.csv")


def test_purge_archive_keeps_recent_days_and_other_folders(tmp_path: Path) -> None:
    """Day folders past retention are deleted; recent days and non-date folders stay."""
    archive = tmp_path / "archive"
    for name in ["2026-08-01", "2026-08-30", "2026-11-26", "notes"]:
        (archive / name).mkdir(parents=True)
        (archive / name / "f.csv").write_bytes(b"x")
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    removed = purge_archive(archive, retention_days=90, now=now)
    assert [p.name for p in removed] == ["2026-08-01"]
    assert sorted(p.name for p in archive.iterdir()) == ["2026-08-30", "2026-11-26", "notes"]
    assert purge_archive(tmp_path / "no-archive-yet", retention_days=1, now=now) == []


def test_policy_from_settings_round_trip() -> None:
    """The readiness settings become the same policy values."""
    settings = InboxSettings.model_validate(
        {"name": "x", "path": "/tmp/x", "readiness": {"marker_suffixes": [".ok"]}}
    )
    policy = ReadinessPolicy.from_settings(settings.readiness)
    assert policy.marker_suffixes == (".ok",)
    assert policy.is_ignored("a.csv.ok") and policy.is_ignored("a.filepart")
    assert not policy.is_ignored("a.csv")


def test_inbox_names_must_be_unique() -> None:
    """Two inboxes with one name are a configuration error (the name keys work and journal)."""
    from utlegg_gateway.config import load_settings
    from utlegg_gateway.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_settings(
            None,
            environ={},
            overrides={"inboxes": [{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}]},
        )
    assert "unique" in err.value.message


def test_attachment_with_an_old_mtime_still_growing_is_not_stable(drop: Path, clock: Clock) -> None:
    """A PDF copied with its old mtime kept is stable only once scans saw it unchanged."""
    pdf = drop / "dom.pdf"
    pdf.write_bytes(b"%PDF-1.4 part")
    os.utime(pdf, (1_000_000_000, 1_000_000_000))  # 2001: a copy that keeps the mtime
    scanner = _scanner(drop, clock)
    scanner.scan()
    assert not scanner.stable_file(pdf, pdf.stat())  # seen once: proves nothing

    clock.advance(STABLE + 1)
    with pdf.open("ab") as out:
        out.write(b" more")
    os.utime(pdf, (1_000_000_000, 1_000_000_000))
    assert not scanner.stable_file(pdf, pdf.stat())  # grown since the scan saw it

    scanner.scan()
    clock.advance(STABLE + 1)
    scanner.scan()
    assert scanner.stable_file(pdf, pdf.stat())
    assert not scanner.stable_file(drop.parent / "dom.pdf", pdf.stat())  # not this inbox


def test_scan_of_a_folder_that_errors_on_every_call_reports_and_does_not_raise(
    tmp_path: Path, clock: Clock
) -> None:
    """An inbox path every stat fails on (EIO from a dead share; here ENAMETOOLONG) is unhealthy."""
    bad = tmp_path / ("x" * 300)  # longer than NAME_MAX: listing *and* is_dir() raise OSError
    scanner = _scanner(bad, clock)

    assert scanner.scan() == []

    assert scanner.health.folder_present is False
    assert scanner.health.consecutive_failures == 1
    assert scanner.health.last_error
