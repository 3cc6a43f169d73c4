"""folders/attachments.py: the one decision on an attachment name, real files in tmp_path."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from utlegg_gateway.errors import AttachmentError, CaseError
from utlegg_gateway.folders import attachments


@pytest.mark.parametrize(
    "name", ["../x.pdf", "/etc/passwd", "a/b.pdf", "a\\b.pdf", "..", "", "a\0"]
)
def test_names_with_path_tricks_are_refused(tmp_path: Path, name: str) -> None:
    """Names that could leave the folder are refused before anything is looked up."""
    with pytest.raises(AttachmentError) as info:
        attachments.locate(name, [tmp_path])
    assert info.value.code == "attachment-refused"
    assert info.value.field == "filnavn"


def test_found_in_folder_order_and_missing_is_none(tmp_path: Path) -> None:
    """The first folder holding the name wins (work before inbox); absent everywhere: None."""
    work, drop = tmp_path / "work", tmp_path / "inbox"
    work.mkdir()
    drop.mkdir()
    (work / "a.pdf").write_bytes(b"work copy")
    (drop / "a.pdf").write_bytes(b"inbox copy")
    (drop / "b.pdf").write_bytes(b"b")
    hit = attachments.locate("a.pdf", [work, drop])
    assert hit is not None and hit[0] == work / "a.pdf" and hit[1].st_size == 9
    hit = attachments.locate("b.pdf", [work, drop])
    assert hit is not None and hit[0] == drop / "b.pdf"
    assert attachments.locate("d.pdf", [work, drop]) is None


def test_a_symlink_is_refused_even_to_a_harmless_file(tmp_path: Path) -> None:
    """A link is never followed: it could lead anywhere, and the next drop could change it."""
    (tmp_path / "secret").write_bytes(b"x")
    (tmp_path / "a.pdf").symlink_to(tmp_path / "secret")
    with pytest.raises(AttachmentError, match="symbolic link"):
        attachments.locate("a.pdf", [tmp_path])
    hit = attachments.locate("secret", [tmp_path])
    assert hit is not None and hit[0] == tmp_path / "secret"


def test_a_fifo_or_a_folder_is_refused_without_opening_it(tmp_path: Path) -> None:
    """A FIFO would block a reader for ever; a folder cannot be uploaded."""
    os.mkfifo(tmp_path / "pipe.pdf")
    (tmp_path / "dir.pdf").mkdir()
    for name in ("pipe.pdf", "dir.pdf"):
        with pytest.raises(AttachmentError, match="not a regular file"):
            attachments.locate(name, [tmp_path])
    # read() refuses it too (a swap after locate), without blocking on the open.
    with pytest.raises(AttachmentError, match="not a regular file"):
        attachments.read(tmp_path / "pipe.pdf")


def test_a_hard_link_is_refused_unless_allowed(tmp_path: Path) -> None:
    """A second name for a file elsewhere is no proof it belongs to the inbox."""
    outside = tmp_path / "elsewhere.pdf"
    outside.write_bytes(b"%PDF private")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    os.link(outside, inbox / "a.pdf")
    with pytest.raises(AttachmentError, match="hard link"):
        attachments.locate("a.pdf", [inbox])
    with pytest.raises(AttachmentError, match="hard link"):
        attachments.read(inbox / "a.pdf")
    hit = attachments.locate("a.pdf", [inbox], hard_links=True)
    assert hit is not None
    assert attachments.read(hit[0], hard_links=True).data == b"%PDF private"


def test_a_name_too_long_for_the_file_system_is_refused(tmp_path: Path) -> None:
    """ENAMETOOLONG is an answer about this attachment, not a crash of the case."""
    with pytest.raises(AttachmentError, match="cannot be looked up"):
        attachments.locate("x" * 300 + ".pdf", [tmp_path])


def test_read_gives_bytes_and_hash_and_keeps_to_the_limit(tmp_path: Path) -> None:
    """The content and its SHA-256; a file over the limit is refused before it is read."""
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read chunk
    path = tmp_path / "big.pdf"
    path.write_bytes(data)
    content = attachments.read(path)
    assert content.data == data
    assert content.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(AttachmentError, match="more than the limit") as info:
        attachments.read(path, max_bytes=1024)
    assert info.value.value == str(len(data))


def test_read_does_not_follow_a_link_swapped_in(tmp_path: Path) -> None:
    """O_NOFOLLOW: a file replaced by a link between locate and read is refused."""
    (tmp_path / "secret").write_bytes(b"top secret")
    (tmp_path / "a.pdf").symlink_to(tmp_path / "secret")
    with pytest.raises(AttachmentError, match="cannot be opened"):
        attachments.read(tmp_path / "a.pdf")


def test_submit_finds_by_name_or_stem(tmp_path: Path) -> None:
    """`vedlegg` finds vedlegg.pdf; an exact name wins over a stem match (the submit command)."""
    (tmp_path / "vedlegg.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "Fullmakt").write_bytes(b"x")
    (tmp_path / "Fullmakt.pdf").write_bytes(b"y")
    assert attachments.find_by_stem(tmp_path, "vedlegg").name == "vedlegg.pdf"
    assert attachments.find_by_stem(tmp_path, "Fullmakt").name == "Fullmakt"


@pytest.mark.parametrize("name", ["../etc/passwd", "sub/vedlegg", "..", ""])
def test_submit_refuses_path_parts(tmp_path: Path, name: str) -> None:
    """Names with path parts cannot reach outside the attachments folder (a case error)."""
    with pytest.raises(CaseError):
        attachments.find_by_stem(tmp_path, name)


def test_submit_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    """A symlink pointing outside the folder is refused even though its name is plain."""
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"secret")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "vedlegg.pdf").symlink_to(outside)
    for name in ("vedlegg", "vedlegg.pdf"):  # by stem and by exact name
        with pytest.raises(CaseError, match="outside"):
            attachments.find_by_stem(folder, name)


def test_submit_missing_and_ambiguous(tmp_path: Path) -> None:
    """A missing file and two files with the same stem are both case errors naming the file."""
    with pytest.raises(CaseError, match="not found"):
        attachments.find_by_stem(tmp_path, "vedlegg")
    (tmp_path / "vedlegg.pdf").write_bytes(b"a")
    (tmp_path / "vedlegg.png").write_bytes(b"b")
    with pytest.raises(CaseError, match="ambiguous"):
        attachments.find_by_stem(tmp_path, "vedlegg")


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_sightings_need_an_unchanged_file_for_the_window(tmp_path: Path) -> None:
    """Stable means size and mtime unchanged for the window of *our* clock; a change restarts it."""
    clock = _Clock()
    seen = attachments.Sightings(clock)
    path = tmp_path / "a.pdf"
    path.write_bytes(b"part")
    assert not seen.stable(path, path.stat(), 10)
    assert seen.settling("a.pdf", [tmp_path])
    clock.now += timedelta(seconds=11)
    path.write_bytes(b"partial, longer")
    assert not seen.stable(path, path.stat(), 10)  # changed: the window starts again
    clock.now += timedelta(seconds=9)
    assert not seen.stable(path, path.stat(), 10)
    clock.now += timedelta(seconds=2)
    assert seen.stable(path, path.stat(), 10)
    assert seen.stable(path, path.stat(), 0)


def test_sightings_trust_the_scanners(tmp_path: Path) -> None:
    """A file the inbox scans already saw stable is ready at once."""
    path = tmp_path / "a.pdf"
    path.write_bytes(b"x")
    seen = attachments.Sightings(_Clock(), scanned=lambda p, st: p == path)
    assert seen.stable(path, path.stat(), 10)


def _streamed(stream: attachments.Stream) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream.chunks()])

    return asyncio.run(collect())


def test_check_hashes_without_holding_and_stream_sends_the_same_bytes(tmp_path: Path) -> None:
    """check: size and SHA-256 chunk by chunk; Stream: the bytes again, as often as asked
    (a retried upload starts over)."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "big.pdf"
    path.write_bytes(data)
    checked = attachments.check(path)
    assert (checked.size, checked.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    stream = attachments.Stream(checked)
    assert stream.size == len(data)
    assert _streamed(stream) == data
    assert _streamed(stream) == data
    with pytest.raises(AttachmentError, match="more than the limit"):
        attachments.check(path, max_bytes=1024)


def test_a_file_changed_after_its_check_is_not_sent(tmp_path: Path) -> None:
    """Replaced (other inode) or rewritten in place (same size, other bytes): the stream ends
    with an AttachmentError, so ELAN never gets bytes the journal did not hash."""
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF first")
    checked = attachments.check(path)
    replacement = tmp_path / "b.pdf"
    replacement.write_bytes(b"%PDF other")
    replacement.replace(path)
    with pytest.raises(AttachmentError, match="changed after it was checked"):
        _streamed(attachments.Stream(checked))
    checked = attachments.check(path)
    st = path.stat()
    with path.open("r+b") as fh:
        fh.write(b"%PDF OTHER")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # a writer that keeps the mtime
    with pytest.raises(AttachmentError, match="changed while it was sent"):
        _streamed(attachments.Stream(checked))
