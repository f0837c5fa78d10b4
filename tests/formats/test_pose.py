"""ClipKeypoints <-> .pose bytes: a lossless (to float32 precision) round trip, a file
pose-format itself reads as Holistic, identical bytes for identical keypoints, and a
clear ValueError for anything that is not such a file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from pose_format import Pose

from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout, PartLayout
from signpose.formats.pose import from_pose_bytes, read_pose_file, to_pose, to_pose_bytes
from tests.runs_builder import holistic

POSE_POINTS, FACE_POINTS, REFINED_FACE_POINTS, HAND_POINTS = 33, 468, 478, 21

COMPONENTS = ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]


def synthetic(frames: int = 7, refine_face: bool = False, seed: int = 0, width: int = 210, height: int = 260, fps: float = 25.0,
              world: bool = False) -> ClipKeypoints:
    """Holistic-shaped keypoints with some parts absent (zeros, confidence 0), the way the
    estimator leaves them, and pose visibilities in [0, 1)."""
    layout = holistic(refine_face, world)
    rng = np.random.default_rng(seed)
    slices = layout.slices
    total = layout.total
    points = np.zeros((frames, total, 3), np.float32)
    confidence = np.zeros((frames, total), np.float32)
    present = rng.random((frames, len(layout.parts))) < 0.6
    present[0] = True  # one frame with everything
    present[1] = False  # one frame with nothing
    for f in range(frames):
        for column, part in enumerate(layout.names):
            if not present[f, column]:
                continue
            where = slices[part]
            n = where.stop - where.start
            xy = rng.uniform(-0.2, 1.2, size=(n, 2))
            z = rng.normal(0, 0.3, size=(n, 1))
            points[f, where] = np.hstack([xy, z]).astype(np.float32)
            confidence[f, where] = rng.random(n).astype(np.float32) if part in ("pose", "pose_world") else 1.0
    return ClipKeypoints(points=points, confidence=confidence, present=present, width=width, height=height, fps=fps, layout=layout)


def assert_round_trip(original: ClipKeypoints, back: ClipKeypoints) -> None:
    assert back.points.shape == original.points.shape
    assert back.points.dtype == np.float32 and back.confidence.dtype == np.float32
    assert np.array_equal(back.present, original.present)
    assert np.array_equal(back.confidence, original.confidence)
    assert np.abs(back.points - original.points).max() <= 1e-6
    absent = original.confidence == 0
    assert (back.points[absent] == 0).all()
    assert (back.width, back.height) == (original.width, original.height)
    assert back.fps == original.fps
    assert back.layout == original.layout


def test_round_trip_keeps_presence_confidence_and_points() -> None:
    original = synthetic()
    assert original.present.any() and not original.present.all()  # really mixed
    assert_round_trip(original, from_pose_bytes(to_pose_bytes(original)))


def test_round_trip_refined_face() -> None:
    original = synthetic(refine_face=True, seed=3)
    back = from_pose_bytes(to_pose_bytes(original))
    assert back.layout.part("face").size == REFINED_FACE_POINTS
    assert_round_trip(original, back)


def test_pose_point_with_zero_visibility_keeps_its_coordinates() -> None:
    """A detected body point can have visibility 0; its coordinates must survive."""
    original = synthetic(frames=2, seed=5)
    confidence = original.confidence.copy()
    confidence[0, 0] = 0.0  # pose point 0 of a frame with the pose present
    keypoints = ClipKeypoints(original.points, confidence, original.present, 210, 260, 25.0, original.layout)
    back = from_pose_bytes(to_pose_bytes(keypoints))
    assert back.confidence[0, 0] == 0
    assert np.abs(back.points[0, 0] - keypoints.points[0, 0]).max() <= 1e-6
    assert back.part_present("pose")[0]


def test_pose_with_all_visibilities_zero_is_still_present() -> None:
    original = synthetic(frames=2, seed=6)
    confidence = original.confidence.copy()
    confidence[0, :POSE_POINTS] = 0.0
    keypoints = ClipKeypoints(original.points, confidence, original.present, 210, 260, 25.0, original.layout)
    back = from_pose_bytes(to_pose_bytes(keypoints))
    assert back.part_present("pose")[0]
    assert np.array_equal(back.present, keypoints.present)


def test_pose_format_reads_it_as_holistic_in_pixels() -> None:
    original = synthetic(frames=5, width=320, height=240, fps=25.0)
    pose = Pose.read(to_pose_bytes(original))
    assert [c.name for c in pose.header.components] == COMPONENTS
    assert [len(c.points) for c in pose.header.components] == [POSE_POINTS, FACE_POINTS, HAND_POINTS, HAND_POINTS]
    assert all(c.format == "XYZC" for c in pose.header.components)
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (320, 240)
    assert pose.body.data.shape == (5, 1, 543, 3)
    assert pose.body.confidence.shape == (5, 1, 543)
    assert pose.body.fps == 25.0
    # pixel coordinates: x * width, y * height, z unchanged
    data = np.asarray(pose.body.data.data)[:, 0]
    expected = original.points.astype(np.float64) * [320, 240, 1]
    assert np.abs(data - expected).max() < 1e-3
    # absent points are masked for pose-format's tools
    assert np.array_equal(np.asarray(pose.body.data.mask)[:, 0, :, 0], original.confidence == 0)
    # the BytesIO path of pose-format reads the same
    assert np.array_equal(Pose.read(io.BytesIO(to_pose_bytes(original))).body.data.data, pose.body.data.data)


def test_refined_face_file_has_478_face_points() -> None:
    pose = Pose.read(to_pose_bytes(synthetic(frames=2, refine_face=True)))
    assert len(pose.header.components[1].points) == REFINED_FACE_POINTS
    assert pose.body.data.shape == (2, 1, POSE_POINTS + REFINED_FACE_POINTS + 2 * HAND_POINTS, 3)


@pytest.mark.parametrize("fps", [25.0, 30.0, 50.0])
def test_fps_is_kept(fps: float) -> None:
    assert from_pose_bytes(to_pose_bytes(synthetic(frames=2, fps=fps))).fps == fps


def test_ntsc_fps_is_kept_to_float32_precision() -> None:
    # pose-format stores fps as float32; the exact rate lives in the index (frame_rate).
    back = from_pose_bytes(to_pose_bytes(synthetic(frames=2, fps=30000 / 1001)))
    assert back.fps == pytest.approx(30000 / 1001, rel=1e-6)


def test_same_keypoints_always_give_the_same_bytes() -> None:
    first = to_pose_bytes(synthetic(seed=11))
    assert to_pose_bytes(synthetic(seed=11)) == first
    assert to_pose_bytes(from_pose_bytes(first)) == first  # stable under a round trip
    assert to_pose_bytes(synthetic(seed=12)) != first


def test_zero_frame_clip_round_trips() -> None:
    empty = ClipKeypoints(np.zeros((0, 543, 3), np.float32), np.zeros((0, 543), np.float32), np.zeros((0, 4), bool), 210, 260, 25.0, holistic())
    back = from_pose_bytes(to_pose_bytes(empty))
    assert back.num_frames == 0 and back.points.shape == (0, 543, 3)


def test_to_pose_is_a_pose_format_pose() -> None:
    pose = to_pose(synthetic(frames=3))
    assert isinstance(pose, Pose)
    buffer = io.BytesIO()
    pose.write(buffer)
    assert buffer.getvalue() == to_pose_bytes(synthetic(frames=3))


def test_read_pose_file_reads_what_was_written(tmp_path: Path) -> None:
    original = synthetic(seed=21)
    path = tmp_path / "clip.pose"
    path.write_bytes(to_pose_bytes(original))
    assert_round_trip(original, read_pose_file(path))


def test_world_landmarks_round_trip_as_the_fifth_component() -> None:
    original = synthetic(seed=4, world=True)
    pose = Pose.read(to_pose_bytes(original))
    assert [c.name for c in pose.header.components] == [*COMPONENTS, "POSE_WORLD_LANDMARKS"]
    assert pose.body.data.shape == (7, 1, 576, 3)
    back = from_pose_bytes(to_pose_bytes(original))
    assert_round_trip(original, back)
    assert back.layout.part("pose_world").space == "world"


def test_a_file_with_other_components_is_read_in_its_own_layout() -> None:
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions
    from pose_format.numpy import NumPyPoseBody

    component = PoseHeaderComponent(name="BODY", points=["a", "b"], limbs=[(0, 1)], colors=[(255, 0, 0)], point_format="XYZC")
    header = PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width=10, height=10, depth=0), components=[component])
    body = NumPyPoseBody(fps=25, data=np.ma.masked_array(np.zeros((1, 1, 2, 3), np.float32)), confidence=np.ones((1, 1, 2), np.float32))
    buffer = io.BytesIO()
    Pose(header, body).write(buffer)
    back = from_pose_bytes(buffer.getvalue())
    assert back.layout == KeypointLayout((PartLayout("body", "BODY", ("a", "b"), ((0, 1),), ((255, 0, 0),)),))
    assert back.points.shape == (1, 2, 3) and back.part_present("body")[0]


# -- garbage in ------------------------------------------------------------------------------


def _garbage() -> dict[str, bytes]:
    valid = to_pose_bytes(synthetic(frames=3))
    return {
        "empty": b"",
        "text": b"this is not a pose file\n" * 5,
        "random": np.random.default_rng(0).bytes(5000),
        "zeros": bytes(1000),
        "header-only": valid[:200],
        "half": valid[: len(valid) // 2],
        "short-by-10": valid[:-10],
    }




@pytest.mark.parametrize("name", ["zeros"])
def test_garbage_that_pose_format_rejects_with_value_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pose"
    path.write_bytes(_garbage()[name])
    with pytest.raises(ValueError, match="cannot read as a .pose file") as caught:
        read_pose_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name", ["empty", "text", "random", "header-only", "half", "short-by-10"])
def test_garbage_file_is_a_value_error_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pose"
    path.write_bytes(_garbage()[name])
    with pytest.raises(ValueError, match="cannot read as a .pose file") as caught:
        read_pose_file(path)
    assert str(path) in str(caught.value)


def test_missing_file_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.pose"
    with pytest.raises(ValueError) as caught:
        read_pose_file(path)
    assert str(path) in str(caught.value)
