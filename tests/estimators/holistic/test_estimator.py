"""What the estimators over signpose's own graph share, for each of them (litert; torch on
the CPU where PyTorch is installed): a frame's bits do not depend on the batch it is in,
its neighbours or the order; 1 and 2 workers write the same bytes, the standard 576-point
files; what MediaPipe's own graph alone does is refused in one line naming
--estimator mediapipe; a frame without a person gives nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signpose.backends import make_backend
from signpose.datasets import open_dataset
from signpose.errors import EstimatorError
from signpose.estimators import EstimatorSpec, make_estimator
from signpose.formats.pose import read_pose_file
from signpose.extract.driver import extract
from signpose.tools.verify import compare_sources
from tests.testdata import signing_frames

OPTIONS = {"litert": {}, "torch": {"device": "cpu"}}


@pytest.fixture(params=list(OPTIONS))
def name(request) -> str:
    if request.param == "torch":
        pytest.importorskip("torch")
    return request.param


def spec(name: str, **params) -> EstimatorSpec:
    return EstimatorSpec.of(name, {**OPTIONS[name], **params})


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Real signing frames: every 9th of a clip at its size, and some at PHOENIX's 210x260."""
    import cv2

    picked = signing_frames(size=None, step=9)
    return picked + [cv2.resize(image, (210, 260), interpolation=cv2.INTER_AREA) for image in picked[:3]]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, frames) -> Path:
    """Two clips of 3 real signing frames (PHOENIX size), as PNG folders."""
    from PIL import Image

    root = tmp_path_factory.mktemp("graph") / "data"
    for clip, picked in (("a", frames[-3:]), ("b", frames[1:4])):
        (root / "train" / clip).mkdir(parents=True)
        for index, image in enumerate(picked):
            Image.fromarray(image).save(root / "train" / clip / f"{index:04d}.png")
    return root


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "image"}, r"--mode image, which carries state from frame to frame, needs --estimator mediapipe"),
        ({"mode": "video"}, r"--mode video, which carries state .* needs --estimator mediapipe"),
        ({"refine_face": True}, r"no --refine-face .* use --estimator mediapipe"),
        ({"model_complexity": 2}, r"--model-complexity 1 only"),
        ({"min_detection_confidence": 1.5}, r"min-detection-confidence must be between 0 and 1"),
    ],
)
def test_what_only_mediapipe_does_is_refused_in_one_line(name, params, message) -> None:
    with pytest.raises(EstimatorError, match=message) as caught:
        make_estimator(spec(name, **params))
    assert "\n" not in str(caught.value)


def test_a_frame_s_bits_do_not_depend_on_its_batch(name, frames) -> None:
    estimator = make_estimator(spec(name))
    whole = estimator.estimate_clip(frames, 25.0)
    estimator.batch_size = 3  # other batches, other neighbours, the other order
    backwards = estimator.estimate_clip(frames[::-1], 25.0)
    assert whole.points.tobytes() == backwards.points[::-1].tobytes()
    assert whole.confidence.tobytes() == backwards.confidence[::-1].tobytes()
    assert (whole.present == backwards.present[::-1]).all()
    alone = estimator.estimate_clip(frames[4:5], 25.0)
    assert alone.points.tobytes() == whole.points[4:5].tobytes()
    assert whole.part_present("pose").all() and whole.part_present("right_hand").any()


def test_undecodable_frames_get_nothing_and_keep_their_place(name, frames) -> None:
    estimator = make_estimator(spec(name))
    clip = estimator.estimate_clip([None, frames[0], None, np.zeros((240, 320, 3), np.uint8)], 25.0)
    assert clip.num_frames == 4 and (clip.width, clip.height) == (320, 240)
    assert clip.present[[0, 2, 3]].sum() == 0 and clip.part_present("pose")[1]
    assert (clip.points[[0, 2, 3]] == 0).all() and (clip.confidence[[0, 2, 3]] == 0).all()
    assert make_estimator(spec(name)).estimate_clip([], 25.0).num_frames == 0


def test_one_and_two_workers_write_the_same_576_point_files(name, dataset, tmp_path) -> None:
    for workers in (1, 2):
        summary = extract(open_dataset(dataset), tmp_path / str(workers), spec(name), make_backend("local", workers))
        assert not summary.failed, summary.failed
    assert compare_sources(tmp_path / "1", tmp_path / "2").equal
    for clip in ("a", "b"):
        assert (tmp_path / "1" / "train" / f"{clip}.pose").read_bytes() == (tmp_path / "2" / "train" / f"{clip}.pose").read_bytes()
    keypoints = read_pose_file(tmp_path / "1" / "train" / "a.pose")
    assert keypoints.points.shape == (3, 576, 3) and keypoints.part_present("pose").all()


def test_provenance_names_the_runtime_and_the_models(name) -> None:
    provenance = make_estimator(spec(name)).provenance()
    assert provenance["runtime"] == name
    assert sorted(provenance["model_sha256"]) == sorted(
        ["pose_detection.tflite", "pose_landmark_full.tflite", "face_detection_short_range.tflite", "face_landmark.tflite",
         "hand_recrop.tflite", "hand_landmark_full.tflite"])
