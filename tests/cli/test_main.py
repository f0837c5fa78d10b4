"""The command line as a user meets it: exit codes, messages, and bad input."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.e2e_helpers import signpose


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    """Two clips of synthetic frames (no person: fast), plus a clip whose frames are all broken."""
    root = tmp_path / "data"
    for clip in ("clip1", "clip2"):
        (root / clip).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(root / clip / f"f{i}.png"), np.full((64, 48, 3), 40 * i, np.uint8))
    (root / "broken").mkdir()
    (root / "broken" / "f0.png").write_bytes(b"")
    return root


def test_missing_dataset_is_a_usage_error(tmp_path: Path) -> None:
    result = signpose("extract", tmp_path / "nope", "-o", tmp_path / "out", check=False)
    assert result.returncode == 2
    assert f"{tmp_path / 'nope'}: dataset folder not found" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # real MediaPipe in a signpose process
def test_unavailable_model_complexity_fails_before_any_work(folder_dataset: Path, tmp_path: Path) -> None:
    result = signpose("extract", folder_dataset, "-o", tmp_path / "out", "--model-complexity", "2", check=False)
    assert result.returncode == 2 and "--model-complexity 1 only" in result.stderr
    assert not (tmp_path / "out").exists()
    pytest.importorskip("mediapipe")
    result = signpose("extract", folder_dataset, "-o", tmp_path / "out", "--estimator", "mediapipe", "--model-complexity", "2", check=False)
    assert result.returncode == 2
    assert "pose_landmark_heavy.tflite" in result.stderr and "model_complexity" in result.stderr
    assert not (tmp_path / "out").exists()


def test_failed_clips_give_exit_1_and_are_listed_while_others_finish(folder_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = signpose("extract", folder_dataset, "-o", out, "--num_workers", "2", check=False)
    assert result.returncode == 1, result.stderr
    assert "FAILED all/broken" in result.stderr and "empty file (0 bytes)" in result.stderr
    index = {r["clip_id"]: r for r in map(json.loads, (out / "index.jsonl").read_text().splitlines())}
    assert index["clip1"]["status"] == index["clip2"]["status"] == "ok"
    assert index["broken"]["status"] == "failed" and not (out / "all" / "broken.pose").exists()
    stats = json.loads((out / "stats.json").read_text())["all"]
    assert stats["clips"] == 3 and stats["failed_clips"] == 1 and stats["frames"] == 5 and stats["failed_frames"] == 1


def test_foreign_output_folder_is_refused(folder_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result = signpose("extract", folder_dataset, "-o", out, check=False)
    assert result.returncode == 2 and "not empty" in result.stderr
    assert (out / "thesis.tex").read_text() == "precious"


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_verify_refuses_a_pickle_that_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"train": {"image_paths": [], "keypoints": [_Exploit(marker)], "video_ids": []}}))
    result = signpose("verify", evil, evil, check=False)
    assert result.returncode == 2
    assert "refused" in result.stderr and "system" in result.stderr
    assert not marker.exists()


def test_verify_unreadable_input_is_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04not really")
    assert signpose("verify", junk, junk, check=False).returncode == 2
    assert signpose("verify", tmp_path / "missing", junk, check=False).returncode == 2
