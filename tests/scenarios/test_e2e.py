"""End to end on a PHOENIX-2014-T-shaped dataset of real signing frames: the real CLI, real
MediaPipe, real files. The promise under test: the same bytes for any number of workers,
the original scripts' command lines work, and verify can tell a wrongly split run apart."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.e2e_helpers import assert_same_run, run_files, script, signpose

PARTS = ("face", "left_hand", "right_hand", "pose")

pytestmark = pytest.mark.slow  # the real estimator in signpose processes and the original scripts


@pytest.fixture(scope="module")
def runs(phoenix_t_root: Path, tmp_path_factory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("runs")
    made = {}
    for workers in (1, 2, 3):
        made[workers] = out / f"workers-{workers}"
        signpose("extract", phoenix_t_root, "-o", made[workers], "--workers", workers, "--quiet")
    return made


def test_any_worker_count_gives_identical_bytes(runs: dict[int, Path]) -> None:
    assert len([name for name in run_files(runs[1]) if name.endswith(".pose")]) == 5
    assert_same_run(runs[1], runs[2])
    assert_same_run(runs[1], runs[3])
    assert json.loads((runs[1] / "stats.json").read_text()) == json.loads((runs[3] / "stats.json").read_text())


def test_verify_says_equal_for_different_worker_counts(runs: dict[int, Path]) -> None:
    result = signpose("verify", runs[1], runs[3])
    assert "EQUAL" in result.stdout


def test_every_pose_file_reads_back_with_pose_format(runs: dict[int, Path]) -> None:
    from pose_format import Pose

    index = [json.loads(line) for line in (runs[2] / "index.jsonl").read_text().splitlines()]
    assert [record["status"] for record in index] == ["ok"] * 5
    for record in index:
        pose = Pose.read((runs[2] / record["pose_file"]).read_bytes())
        assert [c.name for c in pose.header.components] == [
            "POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS", "POSE_WORLD_LANDMARKS"
        ]
        assert pose.body.data.shape == (record["frames"], 1, 33 + 468 + 21 + 21 + 33, 3)
        assert pose.body.confidence.shape == (record["frames"], 1, 576)
        assert (pose.header.dimensions.width, pose.header.dimensions.height) == (210, 260)
        assert pose.body.fps == 25.0
        assert record["frames"] == 12 and record["detected"]["pose"] == 12
        assert record["signer"].startswith("Signer") and record["translation"]


def _manual_check(single: dict, distributed: dict) -> None:
    """verify_distributed_results.py, as its README gives it."""
    for split in (key for key in single if key != "stats"):
        order1 = np.argsort(single[split]["image_paths"])
        order2 = np.argsort(distributed[split]["image_paths"])
        paths1 = [single[split]["image_paths"][i] for i in order1]
        paths2 = [distributed[split]["image_paths"][i] for i in order2]
        assert paths1 == paths2
        assert [single[split]["video_ids"][i] for i in order1] == [distributed[split]["video_ids"][i] for i in order2]
        for i, j in zip(order1, order2):
            kp1, kp2 = single[split]["keypoints"][i], distributed[split]["keypoints"][j]
            for key in PARTS:
                if kp1[key] is None or kp2[key] is None:
                    assert kp1[key] is None and kp2[key] is None
                else:
                    assert np.allclose(kp1[key], kp2[key], atol=1e-6)
    assert single["stats"] == distributed["stats"]


def test_the_original_scripts_work_verbatim(phoenix_t_root: Path, tmp_path: Path) -> None:
    single, dist = tmp_path / "single.pkl", tmp_path / "dist.pkl"
    first = script("data/extract_phoenix_keypoints.py", "--dataset_path", phoenix_t_root, "--output_path", single,
                   "--max_samples_per_split", 10)
    assert first.returncode == 0, first.stderr[-2000:]
    second = script("data/extract_phoenix_keypoints_distributed.py", "--dataset_path", phoenix_t_root, "--output_path",
                    dist, "--max_samples_per_split", 10, "--num_workers", 4)
    assert second.returncode == 0, second.stderr[-2000:]
    with single.open("rb") as a, dist.open("rb") as b:
        single_data, dist_data = pickle.load(a), pickle.load(b)
    _manual_check(single_data, dist_data)
    assert len(single_data["train"]["image_paths"]) == 60
    frame = single_data["train"]["keypoints"][0]
    assert frame["pose"].shape == (33, 4) and frame["face"].shape == (468, 3) and frame["face"].dtype == np.float32
    assert 0.0 <= float(frame["pose"][0, 0]) <= 1.0
    for args in ((), ("--splits", "train")):
        check = script("verify_distributed_results.py", "--single", single, "--distributed", dist, *args)
        assert check.returncode == 0, check.stdout + check.stderr


def _split_clip_over_two_instances(run: Path, clip_id: str) -> None:
    """Redo one clip the way a frame-level split does it: the first half of its frames on
    one Holistic, the rest on another. Written through the store, like a real run."""
    from signpose.sources.images import read_frame
    from signpose.estimators.mediapipe import MediaPipeHolistic
    from signpose.model.keypoints import ClipKeypoints
    from signpose.formats.pose import to_pose_bytes
    from signpose.run.store import RunStore
    from dataclasses import replace
    from tests.runs_builder import append_records

    store = RunStore(run)
    record = store.read_index()[("train", clip_id)]
    frames = [read_frame(Path(record.source) / name) for name in record.frame_names]
    half = len(frames) // 2
    first = MediaPipeHolistic().estimate_clip(frames[:half], 25.0)
    second = MediaPipeHolistic().estimate_clip(frames[half:], 25.0)
    joined = ClipKeypoints(
        points=np.concatenate([first.points, second.points]),
        confidence=np.concatenate([first.confidence, second.confidence]),
        present=np.concatenate([first.present, second.present]),
        width=first.width, height=first.height, fps=25.0, layout=first.layout,
    )
    pose_file, checksum = store.write_pose("train", clip_id, to_pose_bytes(joined))
    append_records(store, replace(record, pose_file=pose_file, checksum=checksum))
    store.finalize(list(store.read_index()))


def test_verify_catches_a_clip_split_over_two_instances(runs: dict[int, Path], tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")  # the two instances are MediaPipe graphs
    split_run = tmp_path / "split"
    shutil.copytree(runs[1], split_run)
    clip_id = json.loads((runs[1] / "index.jsonl").read_text().splitlines()[0])["clip_id"]
    _split_clip_over_two_instances(split_run, clip_id)
    result = signpose("verify", runs[2], split_run, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DIFFERENT" in result.stdout
    report = json.loads(signpose("verify", runs[2], split_run, "--json", check=False).stdout)
    assert report["equal"] is False
