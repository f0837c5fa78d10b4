"""The index journal: lines written at once, synced in groups, reported only once synced."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from signpose.run import journal as journal_module
from signpose.run.journal import IndexJournal
from signpose.run.record import ClipResult, ClipStatus
from signpose.run.store import INDEX, RunStore


def record(number: int) -> ClipResult:
    return ClipResult(split="train", clip_id=f"clip{number}", status=ClipStatus.OK, source=f"/data/clip{number}", frames=number)


def test_a_record_is_reported_only_after_a_sync_that_began_after_its_line_was_written(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / INDEX
    synced_lines: list[int] = []  # lines in the file when each sync began
    first_sync_began, disk_free = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def held_fsync(fd: int) -> None:
        synced_lines.append(path.read_bytes().count(b"\n"))
        if len(synced_lines) == 1:  # a slow disk: the first sync hangs while appends pile up
            first_sync_began.set()
            if not disk_free.wait(60):
                raise AssertionError("the test never let the first sync finish")
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", held_fsync)
    reported: list[tuple[str, int]] = []

    def on_synced(result: ClipResult) -> None:
        reported.append((result.clip_id, synced_lines[-1]))

    with IndexJournal(path, on_synced) as journal:
        journal.append(record(0))
        assert first_sync_began.wait(60), "the first line was never synced"
        for number in range(1, 20):
            journal.append(record(number))
        assert reported == []  # nothing counts as done before it is on disk
        disk_free.set()
    assert [clip for clip, _ in reported] == [f"clip{n}" for n in range(20)]  # all, in order
    for position, (_, lines_when_synced) in enumerate(reported):
        assert position < lines_when_synced  # its line was in the file when that sync began
    # Grouped: the 19 lines written while the first sync hung go to disk in one sync.
    assert synced_lines == [1, 20]
    assert set(RunStore(tmp_path).read_index()) == {("train", f"clip{n}") for n in range(20)}


def test_the_driver_never_waits_for_a_sync(tmp_path: Path, monkeypatch) -> None:
    syncing, release, returned = threading.Event(), threading.Event(), threading.Event()

    def hanging_fsync(fd: int) -> None:
        syncing.set()
        release.wait(60)  # an append that waited for this sync would wait 60 s, then see it returned
        returned.set()

    monkeypatch.setattr(journal_module.os, "fsync", hanging_fsync)
    reported: list[ClipResult] = []
    with IndexJournal(tmp_path / INDEX, reported.append) as journal:
        journal.append(record(0))
        assert syncing.wait(60), "the first line was never synced"
        for number in range(1, 50):
            journal.append(record(number))
        assert not returned.is_set()  # all 50 appended while the first sync still hangs
        assert reported == []  # nothing counts as done before it is on disk
        release.set()
    assert len(reported) == 50


def test_a_failed_sync_is_raised_by_the_next_append_and_by_close(tmp_path: Path, monkeypatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal_module.os, "fsync", full)
    reported: list[ClipResult] = []
    journal = IndexJournal(tmp_path / INDEX, reported.append)
    journal.append(record(1))
    deadline = time.monotonic() + 60  # fails only if the failed sync is never reported
    with pytest.raises(OSError, match="No space left"):
        while time.monotonic() < deadline:
            journal.append(record(2))
            time.sleep(0.01)
    with pytest.raises(OSError, match="No space left"):
        journal.close()
    assert reported == []


def test_leaving_with_an_exception_keeps_that_exception(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal_module.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(KeyboardInterrupt):
        with IndexJournal(tmp_path / INDEX, lambda result: None) as journal:
            journal.append(record(1))
            raise KeyboardInterrupt


def test_a_torn_last_line_from_a_crash_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / INDEX
    with IndexJournal(path, lambda result: None) as journal:
        journal.append(record(1))
        journal.append(record(2))
    path.write_bytes(path.read_bytes()[:-15])  # the machine died mid-append of clip2
    with IndexJournal(path, lambda result: None) as journal:
        journal.append(record(3))
    assert set(RunStore(tmp_path).read_index()) == {("train", "clip1"), ("train", "clip3")}
