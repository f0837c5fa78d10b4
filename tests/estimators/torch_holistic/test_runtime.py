"""The torch estimator's runtime itself (estimators/torch_holistic): its warp is OpenCV 4.x's
bit for bit, its crops are the LiteRT runtime's bit for bit (the same matrices, the same
scaling), the networks are read from signpose's own weights and cached by their hash, and
determinism is enforced: a non-deterministic kernel is an error, not a warning."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from signpose.estimators.holistic import perspective  # noqa: E402
from signpose.estimators.holistic.steps import crops  # noqa: E402
from signpose.estimators.holistic.weights import Network, read_model  # noqa: E402
from signpose.estimators.torch_holistic import net, warp  # noqa: E402
from signpose.estimators.torch_holistic.runtime import TorchRuntime, strict_numerics  # noqa: E402


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
        for border, cvb in ((warp.BORDER_ZERO, cv2.BORDER_CONSTANT), (warp.BORDER_REPLICATE, cv2.BORDER_REPLICATE)):
            ref = cv2.warpPerspective(img, cv2.getPerspectiveTransform(corners, dst), (224, 224),
                                      flags=cv2.INTER_LINEAR, borderMode=cvb, borderValue=0)
            got = warp.warp_batch(batch, sizes, torch.tensor([0]), inv, 224, 224, border)[0]
            np.testing.assert_array_equal(got.numpy(), ref)


def test_crops_are_the_litert_runtime_s_bit_for_bit():
    """What a network sees is the same tensor in both runtimes (so the runtimes differ only
    in the networks' arithmetic), in both value ranges."""
    from signpose.estimators.litert import LiteRTRuntime, _value_table

    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (260, 210, 3), dtype=np.uint8)
    roi = np.array([[105, 130, 150, 170, 0.4], [90, 100, 80, 60, -2.0]], np.float32)
    runtime = TorchRuntime(device="cpu", net_batch=2)
    frames = runtime.frames([img])
    for network, border, value_range in ((Network.POSE_DETECTION, "zero", (-1.0, 1.0)), (Network.HAND_RECROP, "replicate", (0.0, 1.0))):
        chosen = crops(np.zeros(2, np.int64), roi, network, border, value_range)
        ours = runtime._crop(frames, chosen, slice(0, 2)).permute(0, 2, 3, 1).numpy()
        for k in range(2):
            u8 = cv2.warpPerspective(img, chosen.matrices[k], (chosen.size, chosen.size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT)
            np.testing.assert_array_equal(ours[k], cv2.LUT(u8, _value_table(value_range)))
    assert LiteRTRuntime  # the runtime the table belongs to


def test_weights_are_converted_once_and_cached_by_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    content = read_model(Network.HAND_RECROP)
    first = net.load_program(content, "hand_recrop")
    assert len(list((tmp_path / "signpose" / "torch_holistic").glob("*.pt"))) == 1
    again = net.load_program(content, "hand_recrop")
    assert again["steps"] == first["steps"]
    x = torch.rand(2, 3, 256, 256)
    with torch.inference_mode():
        a, b = net.TFLiteNet(first)(x)[0], net.TFLiteNet(again)(x)[0]
    assert torch.equal(a, b) and tuple(a.shape) == (2, 1, 1, 4)


def test_a_non_deterministic_kernel_is_an_error():
    """Under strict numerics a kernel without a deterministic implementation raises instead
    of warning (``put_`` without accumulation is one on the CPU too), and the settings are
    restored afterwards."""
    with strict_numerics():
        assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
        with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
            torch.zeros(5).put_(torch.tensor([0, 0, 1]), torch.ones(3))
    assert not torch.are_deterministic_algorithms_enabled()


def test_frame_without_a_person_gives_nothing():
    from signpose.estimators.holistic.steps import Graph

    graph = Graph(TorchRuntime(device="cpu"))
    with strict_numerics():
        found = graph.landmarks([np.zeros((260, 210, 3), np.uint8)])
    assert not any(found.present[part].any() for part in found.present)
    assert graph.runtime.syncs == 1  # the pose detector ran, nothing after it
