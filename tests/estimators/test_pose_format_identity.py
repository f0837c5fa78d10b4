"""signpose's .pose files are the field's standard Holistic files: byte-identical to
pose-format's own extraction (``load_holistic``) for the same frames and options, and a
folder of pose-format's files verifies EQUAL against a signpose run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from signpose.backends import make_backend
from signpose.datasets import open_dataset
from signpose.estimators import EstimatorSpec
from signpose.estimators.mediapipe import MediaPipeHolistic
from signpose.formats.pose import to_pose_bytes
from signpose.extract.driver import extract
from signpose.tools.verify import compare_sources
from tests.testdata import signing_frames

pytest.importorskip("mediapipe")  # the reference is MediaPipe itself (pose-format's loader runs it)

FRAMES = 8


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Real signing frames with hands, RGB, at PHOENIX's 210×260."""
    return signing_frames(first=40 - FRAMES, count=FRAMES)  # hands are up in the second half


def pose_format_bytes(frames: list[np.ndarray], mode: str) -> bytes:
    from pose_format.utils.holistic import load_holistic

    height, width = frames[0].shape[:2]
    config = {"static_image_mode": mode == "image", "model_complexity": 1}
    # reuse=False: pose-format otherwise hands a pooled graph to the next call, "cleared" with a
    # blank frame, which in video mode does not give a fresh graph's result (measured: 0.17).
    pose = load_holistic(frames, fps=25, width=width, height=height, depth=0, progress=False,
                         additional_holistic_config=config, reuse=False)  # fmt: skip
    buffer = io.BytesIO()
    pose.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["image", "video"])
def test_bytes_equal_pose_formats_own_holistic_output(frames, mode) -> None:
    estimator = MediaPipeHolistic(mode=mode)
    try:
        ours = estimator.estimate_clip(frames, 25.0)
    finally:
        estimator.close()
    assert ours.frames_with("left_hand") + ours.frames_with("right_hand") > 0  # a clip with hands
    assert ours.points.shape == (FRAMES, 576, 3)
    assert to_pose_bytes(ours) == pose_format_bytes(frames, mode)


@pytest.mark.slow  # real MediaPipe in a worker process
def test_a_folder_of_pose_format_files_verifies_equal(frames, tmp_path: Path) -> None:
    data = tmp_path / "data" / "train" / "signing"
    data.mkdir(parents=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(data / f"{index:04d}.png")  # lossless: both sides see the same pixels
    run = tmp_path / "run"
    summary = extract(open_dataset(tmp_path / "data"), run, EstimatorSpec.of("mediapipe", {"mode": "video"}), make_backend("local", 1))
    assert not summary.failed
    theirs = tmp_path / "pose-format" / "train"
    theirs.mkdir(parents=True)
    reread = [np.asarray(Image.open(data / f"{i:04d}.png").convert("RGB")) for i in range(FRAMES)]
    (theirs / "signing.pose").write_bytes(pose_format_bytes(reread, "video"))
    report = compare_sources(run, tmp_path / "pose-format")
    assert report.kind_b == "pose folder"
    assert report.equal, report.to_text()
    assert [p.part for p in report.splits[0].parts] == ["pose", "face", "left_hand", "right_hand", "pose_world"]
