"""Crashes, kills and interrupts with real processes: nothing finished is lost, nothing
partial is trusted, and the end result is byte-identical to an undisturbed run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.e2e_helpers import (
    assert_same_run,
    index_lines,
    send,
    signpose,
    start_signpose,
    stopped_mid_run,
    temporaries,
    wait_for_index,
    wait_gone,
    worker_pids,
)

pytestmark = pytest.mark.slow  # the real estimator in signpose processes, run after run


@pytest.fixture(scope="module")
def undisturbed(phoenix_t_root: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("undisturbed") / "run"
    signpose("extract", phoenix_t_root, "-o", run, "--workers", 2, "--quiet")
    return run


def _index(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "index.jsonl").read_text().splitlines()]


def test_worker_killed_mid_clip_is_retried_and_output_is_identical(phoenix_t_root: Path, undisturbed: Path, tmp_path: Path) -> None:
    run, process, workers = stopped_mid_run(
        lambda run: start_signpose("extract", phoenix_t_root, "-o", run, "--workers", 2, "--quiet"), tmp_path, 5
    )
    os.kill(workers[0], signal.SIGKILL)  # stopped mid-run, holding clips
    send(workers[1:], signal.SIGCONT)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-2000:]
    info = json.loads((run / "run.json").read_text())
    assert info["clips_retried"] >= 1
    clips = [(r["split"], r["clip_id"]) for r in _index(run)]
    assert len(clips) == len(set(clips)) == 5
    assert_same_run(undisturbed, run)


def test_ctrl_c_stops_keeps_finished_clips_and_resumes_to_identical_output(
    phoenix_t_root: Path, undisturbed: Path, tmp_path: Path
) -> None:
    clips = 5
    run, process, workers = stopped_mid_run(
        lambda run: start_signpose("extract", phoenix_t_root, "-o", run, "--workers", 1, "--quiet"), tmp_path, clips
    )
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "Resume with: signpose extract" in stderr
    wait_gone(workers)
    finished = {r["clip_id"]: r for r in _index(run) if r["status"] == "ok"}
    assert 1 <= len(finished) < clips
    assert not temporaries(run)
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    kept = {clip: (run / r["pose_file"]).stat().st_mtime_ns for clip, r in finished.items()}

    resumed = signpose("extract", phoenix_t_root, "-o", run, "--workers", 2, "--quiet")
    assert f"({len(finished)} already done" in resumed.stderr
    assert {clip: (run / r["pose_file"]).stat().st_mtime_ns for clip, r in finished.items()} == kept
    assert_same_run(undisturbed, run)


def test_whole_run_killed_resumes_without_trusting_partial_files(phoenix_t_root: Path, undisturbed: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    process = start_signpose("extract", phoenix_t_root, "-o", run, "--workers", 2, "--quiet")
    wait_for_index(run, 2, process)
    workers = worker_pids(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=20)
    wait_gone(workers)
    done_before = index_lines(run)
    # What a kill can leave behind: a half-written temporary, and a truncated file under a
    # final name whose clip the index does not (yet) record.
    records = _index(run)
    recorded = {r["pose_file"] for r in records}
    pose_dir = run / "train"
    (pose_dir / ".half.pose.tmp-99999").write_bytes(b"partial")
    unrecorded = sorted(p for p in pose_dir.glob("*.pose") if f"train/{p.name}" not in recorded)
    if unrecorded:
        unrecorded[0].write_bytes(unrecorded[0].read_bytes()[:100])
    # A recorded clip whose file was cut short afterwards must not count as done either.
    damaged = run / records[0]["pose_file"]
    damaged.write_bytes(damaged.read_bytes()[:-10])

    resumed = signpose("extract", phoenix_t_root, "-o", run, "--workers", 2, "--quiet")
    assert f"({done_before - 1} already done" in resumed.stderr
    assert not temporaries(run)
    assert_same_run(undisturbed, run)
