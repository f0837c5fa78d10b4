"""One run per output folder: ``extract`` holds an exclusive lock on ``OUT/.lock`` from
before it reads anything in OUT until it ends. A second extract into a busy folder exits 2
at once naming the holder; a lock left by a dead process never blocks; the lock file is
not a foreign file nor a temporary, and leaves with the run."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from signpose.errors import RunBusyError
from signpose.run.lock import RunLock, run_lock
from signpose.run.store import LOCK, RunStore
from tests.toy_cli import make_toy_dataset, start_toy_signpose, toy_signpose


def _wait_running(run: Path, process, timeout: float = 120) -> None:
    """Until the run is under way (its run.json says so)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if json.loads((run / "run.json").read_text())["status"] == "running":
                return
        except (OSError, ValueError, KeyError):
            pass
        if process.poll() is not None:
            pytest.fail(f"signpose ended (exit {process.returncode}) before it started: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no run under way in {timeout} s")
        time.sleep(0.05)


def test_second_extract_into_a_busy_folder_exits_2_at_once_naming_the_holder(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=5)
    run = tmp_path / "run"
    hold = tmp_path / "hold"  # while it exists the first run estimates nothing: it stays busy
    hold.touch()
    first = start_toy_signpose("extract", data, "-o", run, "--workers", 1, "--quiet", hold=hold)
    try:
        _wait_running(run, first)
        assert (run / LOCK).read_text().startswith(f"signpose pid {first.pid} on host {socket.gethostname()} since ")
        # At once: a second run that waited for the lock would wait for ever (the first
        # holds it until the test lets it go, after this); the timeout is only against that.
        second = toy_signpose("extract", data, "-o", run, "--workers", 1, "--quiet", "--overwrite", timeout=600)
        still_busy = first.poll() is None
    finally:
        hold.unlink(missing_ok=True)
        _, stderr = first.communicate(timeout=600)
    assert still_busy
    assert second.returncode == 2, second.stderr[-2000:]
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("signpose: error: "), second.stderr
    assert f"{run}: is in use by signpose pid {first.pid} on host {socket.gethostname()} since " in lines[0]
    # the second (with --overwrite!) touched nothing: the first finished its run whole
    assert first.returncode == 0, stderr[-2000:]
    assert not (run / LOCK).exists()
    records = [json.loads(line) for line in (run / "index.jsonl").read_text().splitlines()]
    assert len(records) == 5 and all(r["status"] == "ok" for r in records)
    again = toy_signpose("extract", data, "-o", run, "--workers", 1, "--quiet")
    assert "(5 already done, 0 processed)" in again.stderr


def test_a_busy_folder_is_refused_before_its_run_is_read_or_changed(tmp_path: Path) -> None:
    """The options check, the dataset check and --overwrite all wait behind the lock."""
    data = make_toy_dataset(tmp_path / "data", clips=3)
    run = tmp_path / "run"
    hold = tmp_path / "hold"  # while it exists the first run estimates nothing: it stays busy
    hold.touch()
    first = start_toy_signpose("extract", data, "-o", run, "--workers", 1, "--quiet", hold=hold)
    try:
        _wait_running(run, first)
        for args in (("--overwrite",), ("--refine-face",), ("--splits", "nope")):
            second = toy_signpose("extract", data, "-o", run, "--workers", 1, "--quiet", *args)
            assert second.returncode == 2, second.stderr
            assert f"is in use by signpose pid {first.pid}" in second.stderr
        still_busy = first.poll() is None
    finally:
        hold.unlink(missing_ok=True)
        _, stderr = first.communicate(timeout=600)
    assert still_busy
    assert first.returncode == 0, stderr
    assert len((run / "index.jsonl").read_text().splitlines()) == 3


def test_a_lock_left_by_a_dead_process_does_not_block(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data")
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text("signpose pid 999999 on host elsewhere since 2020-01-01 00:00:00 UTC\n")
    result = toy_signpose("extract", data, "-o", run, "--workers", 1, "--quiet")
    assert result.returncode == 0, result.stderr
    assert not (run / LOCK).exists()


def test_the_lock_is_exclusive_even_within_one_process_and_released(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = RunLock(run).acquire()
    try:
        with pytest.raises(RunBusyError, match=f"is in use by signpose pid {os.getpid()} on host"):
            RunLock(run).acquire()
        with pytest.raises(RunBusyError):
            with run_lock(run):
                pass
    finally:
        first.release()
    assert not run.exists()  # the lock made the folder; nothing was written into it: gone again
    with run_lock(run):
        assert (run / LOCK).is_file()
    assert not run.exists()


def test_the_lock_file_is_neither_foreign_nor_a_temporary(tmp_path: Path) -> None:
    with run_lock(tmp_path / "run"):
        store = RunStore(tmp_path / "run")
        store.prepare(overwrite=False)  # the folder holds only the lock: not "not empty"
        store.remove_temporaries()
        assert (tmp_path / "run" / LOCK).is_file()


def test_a_run_that_cannot_start_leaves_no_folder_behind(tmp_path: Path) -> None:
    out = tmp_path / "new" / "run"
    result = toy_signpose("extract", tmp_path / "no-such-dataset", "-o", out, "--quiet")
    assert result.returncode == 2 and "dataset folder not found" in result.stderr
    assert not (tmp_path / "new").exists()
