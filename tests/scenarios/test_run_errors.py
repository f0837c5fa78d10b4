"""Run-level errors stop a run cleanly, with one line and exit 2: the output disk full
(in a worker writing a .pose, or in the driver), and every output path that cannot be a
run folder at start (under a file, a dangling link, read-only, full) -- nothing
half-created. SIGTERM and SIGHUP stop a run as Ctrl-C does (exit 130, resumable).

Full and read-only file systems are real: small tmpfs mounts (needs root; skips, saying
why, where mounting is not possible)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from signpose.backends.local import LocalBackend
from signpose.datasets import open_dataset
from signpose.errors import OutputError
from signpose.run.journal import IndexJournal
from signpose.extract.driver import extract
from tests.e2e_helpers import signpose, stopped_mid_run, wait_gone
from tests.estimators.test_seam import TOY
from tests.toy_cli import make_toy_dataset, start_toy_signpose, toy_signpose


def _mount_tmpfs(folder: Path, size: str, *options: str) -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (a real full / read-only file system)")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *options)), "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    return folder


@pytest.fixture
def tmpfs(tmp_path: Path):
    """mount(folder, size, *options): a tmpfs, unmounted after the test."""
    mounted: list[Path] = []

    def mount(folder: Path, size: str = "2m", *options: str) -> Path:
        mounted.append(_mount_tmpfs(folder, size, *options))
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _free(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def _fill(folder: Path, leave: int) -> Path:
    """A file that takes all the free space of ``folder``'s file system but ``leave`` bytes."""
    filler = folder / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, _free(folder) - leave))
    assert _free(folder) <= leave + 8192
    return filler


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("signpose: error: "), result.stderr[-3000:]
    return lines[0]


def _index(run: Path) -> list[dict]:
    index = run / "index.jsonl"
    return [json.loads(line) for line in index.read_text().splitlines()] if index.exists() else []


# -- disk full mid-run ----------------------------------------------------------------------


@pytest.mark.slow  # the real estimator in signpose processes
def test_disk_full_in_a_worker_stops_the_run_keeps_finished_clips_and_resumes(phoenix_t_root: Path, tmp_path: Path, tmpfs) -> None:
    disk = tmpfs(tmp_path / "disk", "2m")
    run = disk / "run"
    # Room for the lock, run.json, the index and one clip's .pose (~125 kB), not two.
    filler = _fill(disk, 200 * 1024)
    result = signpose("extract", phoenix_t_root, "-o", run, "--workers", 1, "--quiet", check=False)
    line = _one_error_line(result)
    assert line == f"signpose: error: output disk full at {run}: free space and rerun to resume"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "stopped" and "output disk full" in info["reason"]
    kept = _index(run)
    assert all(r["status"] == "ok" for r in kept), "a full disk is not the clips' fault: no failed clips recorded"
    assert 1 <= len(kept) < 5
    assert not [p for p in run.rglob(".*") if ".tmp-" in p.name]

    filler.unlink()  # free space, rerun: it resumes
    resumed = signpose("extract", phoenix_t_root, "-o", run, "--workers", 1, "--quiet")
    assert f"({len(kept)} already done, {5 - len(kept)} processed)" in resumed.stderr
    assert [r["status"] for r in _index(run)] == ["ok"] * 5
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


def test_disk_full_in_the_driver_stops_the_run_with_run_json_stopped(tmp_path: Path, monkeypatch) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=4)
    run = tmp_path / "run"
    appended = []
    original = IndexJournal.append

    def append(self, result):
        if appended:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        appended.append(result)
        original(self, result)

    monkeypatch.setattr(IndexJournal, "append", append)
    with pytest.raises(OutputError, match=f"output disk full at {run}: free space and rerun to resume"):
        extract(open_dataset(data), run, TOY, LocalBackend(1))
    monkeypatch.undo()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "stopped" and info["reason"].startswith("output disk full")
    assert [r["status"] for r in _index(run)] == ["ok"]
    assert not (run / ".lock").exists()
    summary = extract(open_dataset(data), run, TOY, LocalBackend(1))
    assert summary.clips_skipped == 1 and summary.clips_processed == 3 and not summary.failed


def test_a_worker_tells_output_errors_from_input_errors(tmp_path: Path, monkeypatch) -> None:
    """A run-level write error is recorded by its kind (OUTPUT), which the driver stops on;
    an unreadable input file is only that clip's failure (INPUT). No message text is matched."""
    from signpose.extract.worker import ClipProcessor
    from signpose.model.clip import Clip
    from signpose.run.record import ErrorKind

    data = make_toy_dataset(tmp_path / "data", clips=1)
    clip = open_dataset(data).clips[0]
    processor = ClipProcessor(TOY, tmp_path / "run")
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
        def refuse(src, dst, code=code):
            raise OSError(code, os.strerror(code), str(dst))

        monkeypatch.setattr(os, "replace", refuse)
        result = processor(clip)
        monkeypatch.undo()
        assert result.error_kind is ErrorKind.OUTPUT and str(tmp_path / "run") in result.error, result
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "unreadable" / "0001.png").write_bytes(b"")
    result = processor(Clip("train", "unreadable", tmp_path / "unreadable"))
    assert result.error_kind is ErrorKind.INPUT


# -- output paths that cannot be a run, at start ----------------------------------------------


def test_disk_full_at_start_is_one_line_and_creates_nothing(tmp_path: Path, tmpfs) -> None:
    data = make_toy_dataset(tmp_path / "data")
    disk = tmpfs(tmp_path / "disk", "1m")
    _fill(disk, 0)
    run = disk / "run"
    result = toy_signpose("extract", data, "-o", run, "--quiet")
    assert _one_error_line(result) == f"signpose: error: output disk full at {run}: free space and rerun to resume"
    assert not run.exists()


def test_read_only_output_is_one_line_and_creates_nothing(tmp_path: Path, tmpfs) -> None:
    data = make_toy_dataset(tmp_path / "data")
    disk = tmpfs(tmp_path / "disk", "1m", "ro")
    run = disk / "deep" / "run"
    result = toy_signpose("extract", data, "-o", run, "--quiet")
    line = _one_error_line(result)
    assert "read-only file system" in line and str(run) in line
    assert not (disk / "deep").exists()


def test_output_under_a_file_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data")
    (tmp_path / "file").write_text("x")
    result = toy_signpose("extract", data, "-o", tmp_path / "file" / "sub" / "run", "--quiet")
    assert f"{tmp_path / 'file'} is a file, not a folder" in _one_error_line(result)
    assert (tmp_path / "file").read_text() == "x"


def test_output_that_is_a_dangling_symlink_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data")
    (tmp_path / "run").symlink_to(tmp_path / "gone")
    result = toy_signpose("extract", data, "-o", tmp_path / "run", "--quiet")
    assert f"is a symbolic link to {tmp_path / 'gone'}, which does not exist" in _one_error_line(result)
    assert not (tmp_path / "gone").exists() and (tmp_path / "run").is_symlink()


def test_output_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data")
    (tmp_path / "run").write_text("x")
    result = toy_signpose("extract", data, "-o", tmp_path / "run", "--quiet")
    assert "output path exists and is not a folder" in _one_error_line(result)
    assert (tmp_path / "run").read_text() == "x"


# -- SIGTERM / SIGHUP --------------------------------------------------------------------------


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGTERM, False), (signal.SIGHUP, True)], ids=["sigterm-driver", "sighup-group"])
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path: Path, sig: int, group: bool) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=6, frames=4)
    run, process, workers = stopped_mid_run(
        lambda run: start_toy_signpose("extract", data, "-o", run, "--workers", 2, "--quiet", delay=0.25), tmp_path, 6
    )
    if group:
        os.killpg(process.pid, sig)  # a terminal closing: the whole group
    else:
        os.kill(process.pid, sig)  # a job scheduler stopping the job: the driver
    _, stderr = process.communicate(timeout=300)  # only against a hang
    wait_gone(workers)
    assert process.returncode == 130, stderr[-3000:]
    assert "Resume with: signpose extract" in stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    finished = [r for r in _index(run) if r["status"] == "ok"]
    assert 1 <= len(finished) < 6
    assert not (run / ".lock").exists()
    resumed = toy_signpose("extract", data, "-o", run, "--workers", 2, "--quiet")
    assert resumed.returncode == 0 and f"({len(finished)} already done" in resumed.stderr
