"""The PyTorch port of MediaPipe Holistic (signpose.estimators.torch_holistic) itself: its
warp is OpenCV's bit for bit, pose.jpg meets MediaPipe's own thresholds, and it is
deterministic: the same frames in any batch size, batch composition or order give
bitwise-identical arrays (real signing frames, some at PHOENIX's 210×260). Its faithfulness
to MediaPipe on every real frame is test_torch_faithful.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")  # its wheel holds the model files

from signpose.estimators.torch_holistic import TorchHolistic, to_arrays  # noqa: E402
from signpose.estimators.torch_holistic import perspective, warp  # noqa: E402
from tests.testdata import testdata  # noqa: E402

NET_BATCH = 16  # the CPU default; >= 16 also keeps the bits independent of the thread count


def _video_frames(path, picks, size=None):
    cap = cv2.VideoCapture(str(path))
    frames, i = [], 0
    want = set(picks)
    while len(frames) < len(picks):
        ok, bgr = cap.read()
        if not ok:
            break
        if i in want:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if size is not None:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            frames.append(np.ascontiguousarray(rgb))
        i += 1
    cap.release()
    return frames


@pytest.fixture(scope="module")
def frames():
    """Two frames of each signing video (every other video resized to 210×260), plus pose.jpg."""
    videos = sorted(testdata("signing").glob("slp_*.mp4"))
    if not videos:
        pytest.skip("no signing videos")
    out = []
    for k, v in enumerate(videos):
        out += _video_frames(v, (10, 40), (210, 260) if k % 2 else None)
    pose = cv2.imread(str(testdata("mediapipe_oracle", "pose.jpg")))
    out.append(cv2.cvtColor(pose, cv2.COLOR_BGR2RGB))
    return out


@pytest.fixture(scope="module")
def estimator():
    return TorchHolistic(device="cpu", batch_size=16, net_batch=NET_BATCH)


@pytest.fixture(scope="module")
def torch_results(estimator, frames):
    return estimator.process(frames)


def test_warp_matches_opencv_bitwise():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (260, 210, 3), dtype=np.uint8)
    batch = torch.from_numpy(img[None])
    sizes = torch.tensor([[260, 210]])
    for trial in range(8):
        roi = np.array([[rng.uniform(0, 210), rng.uniform(0, 260), rng.uniform(30, 300),
                         rng.uniform(30, 300), rng.uniform(-3, 3) if trial else 0.0]], np.float32)
        corners = perspective.box_points(roi)[0]
        dst = np.array([[0, 224], [0, 0], [224, 0], [224, 224]], np.float32)
        inv = torch.from_numpy(perspective.crop_matrices(roi, 224, 224))
        for border, cvb in ((warp.BORDER_ZERO, cv2.BORDER_CONSTANT),
                            (warp.BORDER_REPLICATE, cv2.BORDER_REPLICATE)):
            ref = cv2.warpPerspective(img, cv2.getPerspectiveTransform(corners, dst), (224, 224),
                                      flags=cv2.INTER_LINEAR, borderMode=cvb, borderValue=0)
            got = warp.warp_batch(batch, sizes, torch.tensor([0]), inv, 224, 224, border)[0]
            np.testing.assert_array_equal(got.numpy(), ref)


def test_pose_jpg_matches_mediapipe_expected(frames, torch_results):
    expected = json.loads(testdata("mediapipe_oracle",
                                   "legacy_solutions_expected_landmarks.json").read_text())
    exp = np.array(expected["pose"]["EXPECTED_POSE_LANDMARKS"], np.float64)
    im, got = frames[-1], torch_results[-1]
    assert got.pose is not None and got.pose.shape == (33, 4)
    h, w = im.shape[:2]
    px = got.pose[:, :2].astype(np.float64) * [w, h]
    assert np.abs(px - exp).max() < expected["pose"]["DIFF_THRESHOLD"]
    assert got.pose_world is not None and got.pose_world.shape == (33, 4)
    exp_w = np.array(expected["pose"]["EXPECTED_POSE_WORLD_LANDMARKS"], np.float64)
    assert np.abs(got.pose_world[:, :3] - exp_w).max() < expected["pose"]["WORLD_DIFF_THRESHOLD"]


def _same(a, b):
    for name in ("pose", "pose_world", "face", "left_hand", "right_hand"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name


def test_batching_order_and_composition_do_not_change_bits(frames, estimator, torch_results):
    picks = [0, 3, len(frames) - 1]  # full-size, 210×260 and pose.jpg frames mixed
    sub = [frames[i] for i in picks]
    small = TorchHolistic(device="cpu", batch_size=2, net_batch=NET_BATCH)
    rev = small.process(sub[::-1])[::-1]  # other order, other batch size and composition
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)  # and another number of CPU threads
    try:
        mixed = small.process([sub[1], frames[1]])[0]  # other neighbour in its batch
    finally:
        torch.set_num_threads(threads)
    for k, i in enumerate(picks):
        _same(torch_results[i], rev[k])
    _same(torch_results[3], mixed)


def test_provenance(estimator):
    p = estimator.provenance()
    assert p["dtype"] == "float32" and p["tf32"] is False
    assert set(p["models_sha256"]) == {"pose_detection", "pose_landmark", "face_detection",
                                       "face_landmark", "hand_recrop", "hand_landmark"}
    assert p["torch"] == torch.__version__


def test_frame_without_a_person_gives_nothing(estimator):
    assert estimator.process([]) == []
    (r,) = estimator.process([np.zeros((260, 210, 3), np.uint8)])
    assert r.pose is None and r.pose_world is None and r.face is None
    assert r.left_hand is None and r.right_hand is None
    arrays = to_arrays([r])
    assert arrays["pose"].shape == (1, 33, 4) and np.isnan(arrays["pose"]).all()
    assert not arrays["pose_present"].any() and not arrays["face_present"].any()


def test_weights_are_verified_and_cached_by_hash(tmp_path, monkeypatch):
    import os

    from signpose.estimators.torch_holistic import net
    from signpose.estimators.torch_holistic.holistic import MODELS, mediapipe_modules_dir

    rel, digest = MODELS["hand_recrop"]
    path = os.path.join(mediapipe_modules_dir(), rel)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="sha256"):
        net.load_program(path, "0" * 64)
    first = net.load_program(path, digest)
    cached = list((tmp_path / "signpose" / "torch_holistic").glob(f"{digest}.*.pt"))
    assert len(cached) == 1
    again = net.load_program(path, digest)
    assert again["steps"] == first["steps"]
    x = torch.rand(2, 3, 256, 256)
    with torch.inference_mode():
        a, b = net.TFLiteNet(first)(x)[0], net.TFLiteNet(again)(x)[0]
    assert torch.equal(a, b) and tuple(a.shape) == (2, 1, 1, 4)
