"""MediaPipe Holistic (0.10.21, static image mode, model_complexity 1, no refine) in PyTorch.

Every stage runs batched over frames; the six networks always run on chunks of exactly
`net_batch` crops (zero-padded), so a frame's result does not depend on which frames share its
batch, their order or the caller's batch size. Geometry is done in float32 numpy on the host,
in MediaPipe's order of operations, as array operations over the whole batch (no Python loop
per frame or crop); crops emulate OpenCV's fixed-point warp on the device (see warp.py) with
OpenCV's own matrices (perspective.py).
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import torch

from . import net as N
from . import warp
from .detections import ssd_anchors
from .landmarks import HolisticResult, Landmarks
from .perspective import crop_matrices
from .stages import face_stage, hand_stage, pose_stage

f32 = np.float32

# the six networks of mediapipe 0.10.21 (path under mediapipe/modules, sha256)
MODELS = {
    "pose_detection": ("pose_detection/pose_detection.tflite",
                       "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
    "pose_landmark": ("pose_landmark/pose_landmark_full.tflite",
                      "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
    "face_detection": ("face_detection/face_detection_short_range.tflite",
                       "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    "face_landmark": ("face_landmark/face_landmark.tflite",
                      "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    "hand_recrop": ("holistic_landmark/hand_recrop.tflite",
                    "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d"),
    "hand_landmark": ("hand_landmark/hand_landmark_full.tflite",
                      "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"),
}


def mediapipe_modules_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("mediapipe (0.10.21) is needed: its wheel holds the model files")
    return os.path.join(list(spec.submodule_search_locations)[0], "modules")


@contextlib.contextmanager
def _strict_numerics():
    """fp32, no TF32, deterministic kernels, restored on exit."""
    prev = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev[0]
        torch.backends.cudnn.allow_tf32 = prev[1]
        torch.backends.cudnn.benchmark = prev[2]
        torch.backends.cudnn.deterministic = prev[3]
        torch.use_deterministic_algorithms(prev[4], warn_only=prev[5])


class TorchHolistic:
    """Batched MediaPipe Holistic. `landmarks(images)` (or `process`, per frame) takes RGB
    uint8 [h, w, 3] frames."""

    POSE_ANCHORS = ssd_anchors(224, [8, 16, 32, 32, 32])
    FACE_ANCHORS = ssd_anchors(128, [8, 16, 16, 16])

    def __init__(self, *, device: str = "cpu", batch_size: int = 64,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 net_batch: int | None = None, model_dir: str | None = None):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        # chunk size of every network call: fixed, so results are independent of batching.
        # On the CPU, chunks of >= 16 also make PyTorch always pick oneDNN convolutions, so
        # the bits do not depend on the number of threads either (smaller chunks send 1x1
        # convolutions to another kernel when single-threaded).
        self.net_batch = int(net_batch or (64 if self.device.type == "cuda" else 16))
        self.model_dir = model_dir or mediapipe_modules_dir()
        self.sha256 = {}
        self.nets: dict[str, N.TFLiteNet] = {}
        for name, (rel, digest) in MODELS.items():
            path = os.path.join(self.model_dir, rel)
            prog = N.load_program(path, digest)
            self.sha256[name] = digest
            skip = {"pose_landmark": (2,), "hand_landmark": (2, 3)}.get(name, ())
            self.nets[name] = N.TFLiteNet(prog, skip).to(self.device).eval()
        # Per-stage seconds, kept only while `profile` is set (the benchmark): on a GPU the
        # clock waits for the device after every stage, which a run should not.
        self.profile = False
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ helpers
    def provenance(self) -> dict:
        dev = self.device
        return {
            "estimator": "torch_holistic",
            "mediapipe_graph": "holistic 0.10.21 static_image_mode model_complexity=1",
            "torch": torch.__version__,
            "device": str(dev),
            "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                            else "cpu"),
            "cuda": torch.version.cuda if dev.type == "cuda" else None,
            "cudnn": (torch.backends.cudnn.version() if dev.type == "cuda" else None),
            "dtype": "float32",
            "tf32": False,
            "deterministic_algorithms": True,
            "net_batch": self.net_batch,
            "models_sha256": dict(self.sha256),
            "warp": "opencv-4.x fixed-point INTER_LINEAR emulation",
            "crop_matrices": "opencv-4.11 getPerspectiveTransform (LU) + 3x3 invert emulation",
            "heatmap_refine_kernel": 9,
        }  # fmt: skip

    def tick(self, name: str, t0: float) -> None:
        if not self.profile:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def run(self, name: str, x: torch.Tensor) -> list[torch.Tensor | None]:
        """Run a network on [K, 3, h, w] in fixed chunks; its outputs [K, ...] stay on the
        device (all chunks are queued before anything is copied back)."""
        t0 = time.perf_counter()
        net = self.nets[name]
        K = x.shape[0]
        nb = self.net_batch
        if K == 0:
            raise ValueError("no crops")
        outs = []
        for i in range(0, K, nb):
            chunk = x[i:i + nb]
            n = chunk.shape[0]
            if n < nb:
                chunk = torch.cat([chunk, chunk.new_zeros((nb - n,) + tuple(chunk.shape[1:]))])
            outs.append([None if r is None else r[:n] for r in net(chunk)])
        merged = [None if outs[0][j] is None else torch.cat([o[j] for o in outs]).float()
                  for j in range(len(outs[0]))]
        self.tick("net_" + name, t0)
        return merged

    def crop(self, imgs, sizes, index, roi_px, out_w, out_h, border, lo, hi):
        """Crop rotated pixel ROIs [K, 5] (already padded) to float NCHW in [lo, hi]."""
        t0 = time.perf_counter()
        K = roi_px.shape[0]
        # MediaPipe rejects an empty or non-finite ROI (an error in its graph); here that
        # crop is marked invalid and its result left absent
        valid = np.isfinite(roi_px).all(1) & (roi_px[:, 2] > 0) & (roi_px[:, 3] > 0)
        mats = np.zeros((K, 3, 3), np.float64)
        mats[valid] = crop_matrices(roi_px[valid], out_w, out_h)
        valid &= np.isfinite(mats).all((1, 2))
        mats[~valid] = 0.0
        self.tick("host_crop_matrices", t0)
        t0 = time.perf_counter()
        scale = float(np.float32((hi - lo) / 255.0))
        offset = float(np.float32(lo))
        index_t = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        mats_t = torch.from_numpy(mats)
        parts = []
        for i in range(0, K, self.net_batch):  # in chunks: the integer temporaries stay small
            u8 = warp.warp_batch(imgs, sizes, index_t[i:i + self.net_batch],
                                 mats_t[i:i + self.net_batch], out_h, out_w, border)
            parts.append((u8.to(torch.float32) * scale + offset).permute(0, 3, 1, 2))
        x = torch.cat(parts).contiguous() if parts else torch.zeros(
            (0, 3, out_h, out_w), device=self.device)
        self.tick("crops", t0)
        return x, valid

    # ------------------------------------------------------------------ main
    def process(self, images: list[np.ndarray]) -> list[HolisticResult]:
        """Per frame, as MediaPipe's solution gives them."""
        return self.landmarks(images).results()

    def landmarks(self, images: list[np.ndarray]) -> Landmarks:
        """Every part's landmarks for every frame, as arrays, in batches of `batch_size`."""
        with _strict_numerics(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return Landmarks.concat([self._process_batch(images[i:i + self.batch_size])
                                     for i in range(0, len(images), self.batch_size)])

    def _process_batch(self, images: list[np.ndarray]) -> Landmarks:
        B = len(images)
        out = Landmarks.absent(B)
        if B == 0:
            return out
        t0 = time.perf_counter()
        shapes = {im.shape for im in images}
        if any(len(s) != 3 or s[2] != 3 for s in shapes) or any(im.dtype != np.uint8 for im in images):
            raise ValueError("images must be RGB uint8 [h, w, 3]")
        if len(shapes) == 1:
            pad = np.stack(images)
        else:  # frames of different sizes share a batch: each top-left in a padded array
            Hm = max(s[0] for s in shapes)
            Wm = max(s[1] for s in shapes)
            pad = np.zeros((B, Hm, Wm, 3), np.uint8)
            for k, im in enumerate(images):
                pad[k, :im.shape[0], :im.shape[1]] = im
        imgs = torch.from_numpy(pad).to(self.device)
        sizes_np = np.array([im.shape[:2] for im in images], np.int64)
        sizes = torch.from_numpy(sizes_np).to(self.device)
        self.tick("upload", t0)
        body = pose_stage(self, imgs, sizes, sizes_np, out)
        if body is not None:
            face_stage(self, imgs, sizes, body, out)
            hand_stage(self, imgs, sizes, body, out)
        return out
