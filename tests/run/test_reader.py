"""RunReader on run folders of someone else's making (issue #9, item 8): an index whose
pose_file points outside the run or at something that is not a file, stats.json and
run.json of the wrong shape, index records with fields of the wrong type. Each is a
one-line problem or SourceError (exit 2 from the CLI), never a hang, a read of a file
outside the run, or a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signpose.errors import SourceError
from signpose.run.reader import RunReader
from signpose.run.record import ClipStatus
from signpose.run.store import INDEX, RUN_INFO, STATS

from tests.runs_builder import build_run, standard_clips
from tests.fifo_helpers import finishes


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return build_run(tmp_path / "run", standard_clips())


def index_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / INDEX).read_text().splitlines()]


def write_index(run: Path, records: list) -> None:
    (run / INDEX).write_text("".join(json.dumps(record) + "\n" for record in records))


def point_first_clip_at(run: Path, pose_file: str) -> None:
    records = index_lines(run)
    first = next(r for r in records if r["status"] == "ok")
    first["pose_file"] = pose_file
    write_index(run, records)


def first_ok(run: Path):
    return next(r for r in RunReader(run).records if r.status is ClipStatus.OK)


def outside_copy(run: Path) -> Path:
    """A byte-exact copy of the first clip's .pose outside the run (its checksum matches:
    only where it lies is wrong)."""
    original = run / first_ok(run).pose_file
    copy = run.parent / "elsewhere" / original.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(original, copy)
    return copy


def assert_refused(run: Path, *words: str) -> str:
    reader = RunReader(run)
    record = first_ok(run)
    loaded = finishes(lambda: reader.load_clip(record), run / "train" / "fifo.pose")
    assert loaded.keypoints is None, "a .pose file the index has no business naming was read"
    assert loaded.problem is not None and str(record.pose_file)[:50] in loaded.problem, loaded.problem
    for word in words:
        assert word in loaded.problem, loaded.problem
    with pytest.raises(SourceError):
        reader.trusted_clip(record)
    return loaded.problem


def test_pose_file_dev_zero_is_not_opened(run: Path) -> None:
    point_first_clip_at(run, "/dev/zero")
    assert_refused(run, "absolute path", "not opened")


def test_pose_file_climbing_out_with_dotdot_is_not_opened(run: Path) -> None:
    point_first_clip_at(run, "../../etc/passwd")
    assert_refused(run, "'..'", "not opened")


def test_pose_file_absolute_path_to_a_real_pose_outside_is_not_opened(run: Path) -> None:
    point_first_clip_at(run, str(outside_copy(run)))
    assert_refused(run, "absolute path")


def test_pose_file_symlink_leading_outside_is_not_opened(run: Path) -> None:
    (run / "train" / "link.pose").symlink_to(outside_copy(run))
    point_first_clip_at(run, "train/link.pose")
    assert_refused(run, "outside the run folder", str(run.parent / "elsewhere"))


def test_pose_file_fifo_inside_the_run_is_refused_without_blocking(run: Path) -> None:
    os.mkfifo(run / "train" / "fifo.pose")
    point_first_clip_at(run, "train/fifo.pose")
    assert_refused(run, "FIFO", "not a regular file")


def test_pose_file_symlink_within_the_run_still_loads(run: Path) -> None:
    target = first_ok(run).pose_file
    (run / "train" / "alias.pose").symlink_to(run / target)
    point_first_clip_at(run, "train/alias.pose")
    loaded = RunReader(run).load_clip(first_ok(run))
    assert loaded.problem is None and loaded.keypoints is not None


def test_pose_file_over_the_size_limit_is_not_read(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signpose.run.reader

    monkeypatch.setattr(signpose.run.reader, "MAX_POSE_BYTES", 100)
    problem = assert_refused(run, "over the limit")
    assert "100 bytes" in problem


BAD_STATS = {
    "a list": "[1, 2]",
    "a string count": '{"train": {"clips": "3"}}',
    "a boolean count": '{"train": {"clips": true}}',
    "a negative count": '{"train": {"clips": -1}}',
    "a nested count": '{"train": {"clips": {"deep": [1, {"x": 2}]}}}',
    "a split of a list": '{"train": [1, 2]}',
    "deep nesting": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("content", BAD_STATS.values(), ids=BAD_STATS.keys())
def test_stats_json_of_the_wrong_shape_is_unreadable(run: Path, content: str) -> None:
    (run / STATS).write_text(content)
    with pytest.raises(SourceError) as caught:
        RunReader(run).stats()
    assert str(run / STATS) in str(caught.value) and "unreadable" in str(caught.value)


def test_stats_json_of_the_right_shape_reads(run: Path) -> None:
    stats = RunReader(run).require_stats()
    assert set(stats) == {"train", "dev"} and stats["train"]["clips"] == 3


BAD_RUN_INFO = {
    "a list": "[]",
    "model digests as a list": '{"estimator": {"name": "mediapipe", "provenance": {"model_sha256": ["abc"]}}}',
    "estimator as a string": '{"estimator": "mediapipe"}',
    "params as a list": '{"estimator": {"params": [1]}}',
    "machine as a number": '{"machine": 3}',
}


@pytest.mark.parametrize("content", BAD_RUN_INFO.values(), ids=BAD_RUN_INFO.keys())
def test_run_json_of_the_wrong_shape_is_unreadable(run: Path, content: str) -> None:
    (run / RUN_INFO).write_text(content)
    with pytest.raises(SourceError) as caught:
        RunReader(run).run_info()
    assert str(run / RUN_INFO) in str(caught.value) and "unreadable" in str(caught.value)


def signpose(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "signpose", *args], capture_output=True, text=True, timeout=300)


def assert_exit_2_one_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_cli_verify_export_report_on_bad_stats_and_run_json_exit_2(run: Path, tmp_path: Path) -> None:
    (run / RUN_INFO).write_text(json.dumps({"estimator": {"name": "mediapipe", "provenance": {"model_sha256": "abc"}}}))
    assert_exit_2_one_line(signpose("report", str(run), "-o", str(tmp_path / "r.html")), "run.json", "unreadable")
    (run / RUN_INFO).write_text("{}")
    (run / STATS).write_text('{"train": {"clips": {"deep": [1]}}}')
    assert_exit_2_one_line(signpose("export", str(run), str(tmp_path / "x.pkl")), "stats.json", "unreadable")
    assert_exit_2_one_line(signpose("verify", str(run), str(run)), "stats.json", "unreadable")
    assert_exit_2_one_line(signpose("report", str(run), "-o", str(tmp_path / "r.html")), "stats.json", "unreadable")


def test_index_records_of_the_wrong_shape_are_skipped(run: Path) -> None:
    records = index_lines(run)
    good = records[0]
    broken = {
        "frames as a string": {**good, "clip_id": "a", "frames": "5"},
        "frames as a boolean": {**good, "clip_id": "b", "frames": True},
        "negative width": {**good, "clip_id": "c", "width": -1},
        "frame names of numbers": {**good, "clip_id": "d", "frame_names": [1, 2]},
        "frame failure of numbers": {**good, "clip_id": "e", "frame_failures": [{"frame": 1, "error": None}]},
        "frame failure of a list": {**good, "clip_id": "f", "frame_failures": [[1, 2]]},
        "detected count as a string": {**good, "clip_id": "g", "detected": {"pose": "3"}},
        "detected count as a list": {**good, "clip_id": "h", "detected": {"pose": [3]}},
        "unknown status": {**good, "clip_id": "i", "status": "maybe"},
        "pose_file as a number": {**good, "clip_id": "j", "pose_file": 5},
        "unknown field": {**good, "clip_id": "k", "extra": 1},
        "a list": [good],
        "a string": "record",
    }
    write_index(run, [good, *broken.values()])
    reader = RunReader(run)
    assert [(r.split, r.clip_id) for r in reader.records] == [(good["split"], good["clip_id"])]
    assert reader.trusted_clip(reader.records[0]).num_frames == len(good["frame_names"])
