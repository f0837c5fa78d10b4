"""The MediaPipe estimator against real MediaPipe: accuracy against MediaPipe's own reference
landmarks, determinism per clip (the reset graph), failed frames, and the model check."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="needs MediaPipe 0.10.21 itself (Python 3.10-3.12): pip install 'signpose[mediapipe]'")

from signpose.sources.images import read_frame
from signpose.errors import EstimatorError
from signpose.estimators.mediapipe import MediaPipeHolistic, check_models, model_files

POSE_POINTS, FACE_POINTS, REFINED_FACE_POINTS, HAND_POINTS = 33, 468, 478, 21
PARTS = ("pose", "face", "left_hand", "right_hand", "pose_world")


from tests.testdata import locate  # tests/data, else ../shared/testdata
from tests.testdata import signing_frames as real_signing_frames


def model_checksums(**options) -> dict[str, str]:
    return MediaPipeHolistic(**options).provenance()["model_sha256"]


ORACLE = locate("mediapipe_oracle")


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path}: shipped in tests/data (see tests/data/README.md), which is incomplete here")
    return path


@pytest.fixture(scope="module")
def oracle() -> dict:
    return json.loads(need(ORACLE / "legacy_solutions_expected_landmarks.json").read_text())


@pytest.fixture(scope="module")
def signing_frames() -> list[np.ndarray]:
    """64 real signing frames, RGB, resized to PHOENIX's 210x260 (w x h)."""
    frames = real_signing_frames()
    assert len(frames) == 64
    return frames


@pytest.fixture(scope="module")
def estimator():
    est = MediaPipeHolistic()
    yield est
    est.close()


@pytest.fixture(scope="module")
def refined_estimator():
    est = MediaPipeHolistic(refine_face=True)
    yield est
    est.close()


def as_pixels(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return points[..., :2] * np.array([width, height], dtype=np.float64)


def assert_same(a, b) -> None:
    assert np.array_equal(a.points, b.points)
    assert np.array_equal(a.confidence, b.confidence)
    assert np.array_equal(a.present, b.present)
    assert (a.width, a.height, a.fps) == (b.width, b.height, b.fps)


# -- accuracy against MediaPipe's own references --------------------------------------------


def test_pose_landmarks_match_mediapipe_reference(estimator, oracle) -> None:
    image = read_frame(need(ORACLE / "pose.jpg"))
    clip = estimator.estimate_clip([image], fps=25.0)
    assert (clip.width, clip.height) == (1000, 667)
    assert clip.num_frames == 1 and clip.part_present("pose")[0]
    expected = np.array(oracle["pose"]["EXPECTED_POSE_LANDMARKS"], dtype=np.float64)
    assert expected.shape == (POSE_POINTS, 2)
    actual = as_pixels(clip.part("pose")[0], clip.width, clip.height)
    error = np.abs(actual - expected).max()
    assert error < oracle["pose"]["DIFF_THRESHOLD"] == 15, f"max pose error {error:.1f} px"
    # Body confidence is MediaPipe's visibility: a probability, not a constant.
    visibility = clip.part_confidence("pose")[0]
    assert ((visibility >= 0) & (visibility <= 1)).all() and visibility.std() > 0


def test_refined_eye_and_iris_points_match_mediapipe_reference(refined_estimator, oracle) -> None:
    image = read_frame(need(ORACLE / "portrait.jpg"))
    clip = refined_estimator.estimate_clip([image], fps=25.0)
    assert clip.part_present("face")[0]
    face = as_pixels(clip.part("face")[0], clip.width, clip.height)
    assert face.shape == (REFINED_FACE_POINTS, 2)
    threshold = oracle["face_mesh"]["DIFF_THRESHOLD"]
    assert threshold == 5
    for table in ("EYE_INDICES_TO_LANDMARKS", "IRIS_INDICES_TO_LANDMARKS"):
        expected = oracle["face_mesh"][table]
        assert expected
        for index, (x, y) in expected.items():
            error = np.abs(face[int(index)] - [x, y]).max()
            assert error < threshold, f"{table}[{index}]: {error:.1f} px off"


def test_hands_without_a_body_detects_nothing(estimator) -> None:
    image = read_frame(need(ORACLE / "hands.jpg"))
    clip = estimator.estimate_clip([image], fps=25.0)
    assert clip.num_frames == 1
    assert not clip.present.any()
    assert (clip.confidence == 0).all()
    assert (clip.points == 0).all()
    assert (clip.width, clip.height) == (720, 382)


def test_refine_face_gives_478_face_points(refined_estimator, signing_frames) -> None:
    clip = refined_estimator.estimate_clip(signing_frames[:1], fps=25.0)
    assert clip.points.shape == (1, 2 * POSE_POINTS + REFINED_FACE_POINTS + 2 * HAND_POINTS, 3)
    assert clip.layout.part("face").size == REFINED_FACE_POINTS
    assert clip.part_present("face")[0]
    face = clip.part("face")[0]
    assert (face[FACE_POINTS:] != 0).any(axis=1).all()  # the 10 iris points are filled in


def test_plain_face_has_468_points_and_shapes_follow_the_layout(estimator, signing_frames) -> None:
    clip = estimator.estimate_clip(signing_frames[:2], fps=30.0)
    total = 2 * POSE_POINTS + FACE_POINTS + 2 * HAND_POINTS  # with the body's world landmarks
    assert clip.points.shape == (2, total, 3) and clip.points.dtype == np.float32
    assert clip.confidence.shape == (2, total) and clip.confidence.dtype == np.float32
    assert clip.present.shape == (2, 5) and clip.present.dtype == bool
    assert (clip.width, clip.height, clip.fps) == (210, 260, 30.0)
    # present, confidence and points agree part by part
    for column, part in enumerate(PARTS):
        conf = clip.part_confidence(part)
        pts = clip.part(part)
        for frame in range(2):
            if clip.present[frame, column]:
                assert (pts[frame] != 0).any()
                if part not in ("pose", "pose_world"):
                    assert (conf[frame] == 1).all()
            else:
                assert (pts[frame] == 0).all() and (conf[frame] == 0).all()


# -- determinism -----------------------------------------------------------------------------


def test_same_clip_gives_identical_keypoints_on_a_reused_and_a_fresh_graph(estimator, signing_frames) -> None:
    clip = signing_frames[:6]
    first = estimator.estimate_clip(clip, fps=25.0)
    assert first.part_present("face").all()
    again = estimator.estimate_clip(clip, fps=25.0)
    estimator.estimate_clip(signing_frames[50:56], fps=25.0)  # another clip in between
    after_other = estimator.estimate_clip(clip, fps=25.0)
    fresh_estimator = MediaPipeHolistic()
    try:
        fresh = fresh_estimator.estimate_clip(clip, fps=25.0)
    finally:
        fresh_estimator.close()
    assert_same(first, again)
    assert_same(first, after_other)
    assert_same(first, fresh)


def test_video_mode_is_deterministic_per_clip(signing_frames) -> None:
    est = MediaPipeHolistic(mode="video")
    try:
        clip = signing_frames[:6]
        first = est.estimate_clip(clip, fps=25.0)
        est.estimate_clip(signing_frames[50:56], fps=25.0)
        again = est.estimate_clip(clip, fps=25.0)
    finally:
        est.close()
    assert first.part_present("face").all()
    assert_same(first, again)


def _face_landmarks(holistic, frames) -> list[np.ndarray | None]:
    out = []
    for frame in frames:
        result = holistic.process(frame)
        face = result.face_landmarks
        out.append(None if face is None else np.array([(p.x, p.y, p.z) for p in face.landmark]))
    return out


def test_holistic_without_reset_depends_on_earlier_frames(signing_frames) -> None:
    """What the reset in estimate_clip guards against: a static-image-mode Holistic that has
    seen other frames gives different face landmarks for the same frames; reset() undoes it."""
    from mediapipe.python.solutions.holistic import Holistic

    clip, other = signing_frames[:6], signing_frames[50:56]
    holistic = Holistic(static_image_mode=True)
    try:
        fresh = _face_landmarks(holistic, clip)
    finally:
        holistic.close()
    holistic = Holistic(static_image_mode=True)
    try:
        _face_landmarks(holistic, other)
        dirty = _face_landmarks(holistic, clip)  # no reset
        holistic.reset()
        clean = _face_landmarks(holistic, clip)
    finally:
        holistic.close()
    assert all(face is not None for face in fresh + dirty + clean)
    differences = [float(np.abs(a - b).max()) for a, b in zip(fresh, dirty)]
    assert max(differences) > 0, "Holistic did not carry state on this data"
    assert all(np.array_equal(a, b) for a, b in zip(fresh, clean))

    # And through the estimator: its reset makes the result the fresh one.
    with_reset = MediaPipeHolistic()
    try:
        with_reset.estimate_clip(other, fps=25.0)
        ours = with_reset.estimate_clip(clip, fps=25.0)
    finally:
        with_reset.close()
    face = ours.part("face")
    for frame, expected in enumerate(fresh):
        assert np.array_equal(face[frame], expected.astype(np.float32))


# -- failed frames ---------------------------------------------------------------------------


def test_none_frame_gets_zeros_and_is_not_shown_to_the_model(estimator, signing_frames) -> None:
    a, b = signing_frames[0], signing_frames[1]
    with_gap = estimator.estimate_clip([a, None, b], fps=25.0)
    without = estimator.estimate_clip([a, b], fps=25.0)
    assert with_gap.num_frames == 3
    assert with_gap.present[0].any() and with_gap.present[2].any()
    assert not with_gap.present[1].any()
    assert (with_gap.points[1] == 0).all() and (with_gap.confidence[1] == 0).all()
    # the model saw exactly a then b, as if the gap were not there
    assert np.array_equal(with_gap.points[[0, 2]], without.points)
    assert np.array_equal(with_gap.confidence[[0, 2]], without.confidence)
    assert np.array_equal(with_gap.present[[0, 2]], without.present)


def test_first_frame_none_still_takes_size_from_the_first_real_frame(estimator, signing_frames) -> None:
    clip = estimator.estimate_clip([None, signing_frames[0]], fps=25.0)
    assert (clip.width, clip.height) == (210, 260)
    assert not clip.present[0].any() and clip.present[1].any()


def test_all_none_and_empty_clips(estimator) -> None:
    nothing = estimator.estimate_clip([None, None], fps=25.0)
    assert nothing.num_frames == 2 and not nothing.present.any()
    assert (nothing.points == 0).all() and (nothing.confidence == 0).all()
    assert (nothing.width, nothing.height) == (0, 0)
    empty = estimator.estimate_clip([], fps=25.0)
    total = 2 * POSE_POINTS + FACE_POINTS + 2 * HAND_POINTS
    assert empty.points.shape == (0, total, 3)
    assert empty.confidence.shape == (0, total)
    assert empty.present.shape == (0, 5)


# -- models ----------------------------------------------------------------------------------


@pytest.fixture
def no_graph_no_network(monkeypatch):
    """Building a graph or touching the network fails the test."""
    import mediapipe.python.solutions.download_utils as download_utils
    import mediapipe.python.solutions.holistic as holistic_module

    def forbidden(*args, **kwargs):
        raise AssertionError("a Holistic graph or a download was attempted")

    monkeypatch.setattr(holistic_module, "Holistic", forbidden)
    monkeypatch.setattr(download_utils, "download_oss_model", forbidden)
    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)


@pytest.mark.parametrize(("complexity", "missing"), [(2, "pose_landmark_heavy.tflite"), (0, "pose_landmark_lite.tflite")])
def test_unshipped_model_complexity_is_refused_before_any_graph(no_graph_no_network, complexity, missing) -> None:
    target = [path for path in model_files(model_complexity=complexity) if path.name == missing]
    assert len(target) == 1
    if target[0].is_file():
        pytest.skip(f"{target[0]} is installed here, so model_complexity={complexity} is available")
    for attempt in (lambda: check_models(model_complexity=complexity), lambda: MediaPipeHolistic(model_complexity=complexity)):
        with pytest.raises(EstimatorError) as caught:
            attempt()
        message = str(caught.value)
        assert "model_complexity" in message or "model-complexity" in message
        assert str(complexity) in message
        assert str(target[0]) in message
        assert f"download {missing} from MediaPipe's public model storage" in message
    assert not target[0].exists()  # nothing was fetched


def test_out_of_range_model_complexity_is_refused(no_graph_no_network) -> None:
    with pytest.raises(EstimatorError, match="model-complexity must be 0, 1 or 2, not 3"):
        MediaPipeHolistic(model_complexity=3)


def test_shipped_models_are_present_and_checksummed() -> None:
    check_models()
    sums = model_checksums()
    assert len(sums) == 6
    assert all(len(value) == 64 and int(value, 16) >= 0 for value in sums.values())
    refined = model_checksums(refine_face=True)
    assert "face_landmark_with_attention.tflite" in refined and "face_landmark.tflite" not in refined


# -- a fresh graph per clip, cheaply ---------------------------------------------------------


SHIPPED_CLIPS = ("slp_site_asl_different.mp4", "slp_site_asl_house.mp4", "slp_site_asl_wrong_what.mp4", "slp_pose_test_video.mp4")


@pytest.mark.parametrize("mode", ["image", "video"])
def test_every_clip_equals_a_fresh_graph_whatever_ran_before(mode) -> None:
    """Every frame of the real test clips (PHOENIX size), each clip run after another one on
    one long-lived estimator, is bitwise what a fresh graph gives for that clip. Image mode
    gets there with one blank frame (CLEAR_FRAME), video mode with reset(); the graph is
    loaded ahead with load(), as a worker does when it starts."""
    clips = {name: real_signing_frames(name) for name in SHIPPED_CLIPS}
    order = [*SHIPPED_CLIPS, SHIPPED_CLIPS[0]]  # the last one again, after all the others
    reused = MediaPipeHolistic(mode=mode)
    try:
        reused.load()
        ours = [reused.estimate_clip(clips[name], 25.0) for name in order]
    finally:
        reused.close()
    frames = 0
    for name, got in zip(order, ours):
        fresh = MediaPipeHolistic(mode=mode)
        try:
            expected = fresh.estimate_clip(clips[name], 25.0)
        finally:
            fresh.close()
        assert_same(got, expected)
        frames += got.num_frames
    assert frames == 64 + 73 + 97 + 58 + 64


def test_the_clear_frame_is_what_makes_it_equal(signing_frames) -> None:
    """Without the blank frame a static-image-mode graph carries the previous clip's face and
    hand rectangles into the next clip (so the test above can fail)."""
    from mediapipe.python.solutions.holistic import Holistic

    from signpose.estimators.mediapipe import CLEAR_FRAME

    clip, other = signing_frames[:6], signing_frames[50:56]
    holistic = Holistic(static_image_mode=True)
    try:
        fresh = _face_landmarks(holistic, clip)
        _face_landmarks(holistic, other)
        dirty = _face_landmarks(holistic, clip)
        holistic.process(CLEAR_FRAME)
        cleared = _face_landmarks(holistic, clip)
    finally:
        holistic.close()
    assert any(not np.array_equal(a, b) for a, b in zip(fresh, dirty))
    assert all(np.array_equal(a, b) for a, b in zip(fresh, cleared))


def test_frame_mode_makes_each_frame_a_function_of_its_own_pixels(signing_frames) -> None:
    frames = signing_frames[20:32]
    estimator = MediaPipeHolistic(mode="frame")
    try:
        together = estimator.estimate_clip(frames, 25.0)
        reversed_order = estimator.estimate_clip(frames[::-1], 25.0)
    finally:
        estimator.close()
    for index, frame in enumerate(frames):
        alone = MediaPipeHolistic(mode="image")
        try:
            single = alone.estimate_clip([frame], 25.0)
        finally:
            alone.close()
        assert np.array_equal(together.points[index], single.points[0])
        assert np.array_equal(together.confidence[index], single.confidence[0])
        assert np.array_equal(reversed_order.points[len(frames) - 1 - index], single.points[0])
