"""MediaPipe Holistic (0.10.21, static image mode, model_complexity 1, no refine) in PyTorch.

Every stage runs batched over frames; the six networks always run on chunks of exactly
`net_batch` crops (zero-padded), so a frame's result does not depend on which frames share its
batch, their order or the caller's batch size. Geometry is done in float32 numpy on the host,
in MediaPipe's order of operations; crops emulate OpenCV's fixed-point warp (see warp.py).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import geometry as G
from . import net as N
from . import warp
from .stages import face_stage, hand_stage

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


@dataclass
class HolisticResult:
    """Per-frame arrays (float32), None where MediaPipe gives no landmarks."""

    pose: np.ndarray | None  # [33, 4] x/W, y/H, z, visibility
    pose_world: np.ndarray | None  # [33, 4] metres x, y, z, visibility
    face: np.ndarray | None  # [468, 3]
    left_hand: np.ndarray | None  # [21, 3]
    right_hand: np.ndarray | None  # [21, 3]


PART_SHAPES = {"pose": (33, 4), "pose_world": (33, 4), "face": (468, 3),
               "left_hand": (21, 3), "right_hand": (21, 3)}


def to_arrays(results: list[HolisticResult]) -> dict[str, np.ndarray]:
    """Stack per-frame results: for each part a float32 [N, n, c] array (NaN where absent) and
    a bool [N] array `<part>_present`."""
    out: dict[str, np.ndarray] = {}
    n = len(results)
    for part, shape in PART_SHAPES.items():
        arr = np.full((n,) + shape, np.nan, np.float32)
        present = np.zeros(n, bool)
        for i, r in enumerate(results):
            v = getattr(r, part)
            if v is not None:
                arr[i] = v
                present[i] = True
        out[part] = arr
        out[part + "_present"] = present
    return out


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
    """Batched MediaPipe Holistic. `process(images)` takes RGB uint8 [h, w, 3] frames."""

    POSE_ANCHORS = G.ssd_anchors(224, [8, 16, 32, 32, 32])
    FACE_ANCHORS = G.ssd_anchors(128, [8, 16, 16, 16])

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
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ helpers
    def provenance(self) -> dict:
        dev = self.device
        info = {
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
            "heatmap_refine_kernel": 9,
        }
        try:
            import cv2

            info["opencv_for_matrices"] = cv2.__version__
        except Exception:  # pragma: no cover
            pass
        return info

    def _tick(self, name, t0):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def _run(self, name: str, x: torch.Tensor) -> list[np.ndarray]:
        """Run a network on [K, 3, h, w] in fixed chunks; outputs as float32 numpy."""
        t0 = time.perf_counter()
        net = self.nets[name]
        K = x.shape[0]
        nb = self.net_batch
        outs: list[list[torch.Tensor]] = []
        if K == 0:
            raise ValueError("no crops")
        for i in range(0, K, nb):
            chunk = x[i:i + nb]
            n = chunk.shape[0]
            if n < nb:
                chunk = torch.cat([chunk, chunk.new_zeros((nb - n,) + tuple(chunk.shape[1:]))])
            res = net(chunk)
            outs.append([None if r is None else r[:n].float().cpu() for r in res])
        self._tick("net_" + name, t0)
        return [None if outs[0][j] is None else torch.cat([o[j] for o in outs]).numpy()
                for j in range(len(outs[0]))]

    def _crop(self, imgs, sizes, index, roi_px, out_w, out_h, border, lo, hi):
        """Crop rotated pixel ROIs [K, 5] (already padded) to float NCHW in [lo, hi]."""
        t0 = time.perf_counter()
        K = roi_px.shape[0]
        # MediaPipe rejects an empty or non-finite ROI (an error in its graph); here that
        # crop is marked invalid and its result left absent
        valid = np.isfinite(roi_px).all(1) & (roi_px[:, 2] > 0) & (roi_px[:, 3] > 0)
        mats = np.zeros((K, 3, 3), np.float64)
        for k in np.nonzero(valid)[0]:
            mats[k] = warp.inverse_matrix(tuple(float(v) for v in roi_px[k]), out_w, out_h)
        valid &= np.isfinite(mats).all((1, 2))
        mats[~valid] = 0.0
        scale = float(f32((hi - lo) / 255.0))
        offset = float(f32(lo))
        index_t = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        mats_t = torch.from_numpy(mats)
        parts = []
        for i in range(0, K, self.net_batch):  # in chunks: the integer temporaries stay small
            u8 = warp.warp_batch(imgs, sizes, index_t[i:i + self.net_batch],
                                 mats_t[i:i + self.net_batch], out_h, out_w, border)
            parts.append((u8.to(torch.float32) * scale + offset).permute(0, 3, 1, 2))
        x = torch.cat(parts).contiguous() if parts else torch.zeros(
            (0, 3, out_h, out_w), device=self.device)
        self._tick("crops", t0)
        return x, valid

    # ------------------------------------------------------------------ main
    def process(self, images: list[np.ndarray]) -> list[HolisticResult]:
        out: list[HolisticResult] = []
        with _strict_numerics(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for i in range(0, len(images), self.batch_size):
                out.extend(self._process_batch(images[i:i + self.batch_size]))
        return out

    def _process_batch(self, images: list[np.ndarray]) -> list[HolisticResult]:
        B = len(images)
        if B == 0:
            return []
        for im in images:
            if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
                raise ValueError("images must be RGB uint8 [h, w, 3]")
        t0 = time.perf_counter()
        Hm = max(im.shape[0] for im in images)
        Wm = max(im.shape[1] for im in images)
        pad = np.zeros((B, Hm, Wm, 3), np.uint8)
        for k, im in enumerate(images):
            pad[k, :im.shape[0], :im.shape[1]] = im
        imgs = torch.from_numpy(pad).to(self.device)
        sizes_np = np.array([[im.shape[0], im.shape[1]] for im in images], np.int64)
        sizes = torch.from_numpy(sizes_np).to(self.device)
        Hs = sizes_np[:, 0].astype(f32)
        Ws = sizes_np[:, 1].astype(f32)
        self._tick("upload", t0)
        results = [HolisticResult(None, None, None, None, None) for _ in range(B)]

        # ---- pose detection on the whole frame
        full = np.stack([Ws * f32(0.5), Hs * f32(0.5), Ws, Hs, np.zeros(B, f32)], -1).astype(f32)
        roi, padd = G.pad_roi(full, 224, 224, True)
        x, _ = self._crop(imgs, sizes, np.arange(B), roi, 224, 224, warp.BORDER_ZERO, -1.0, 1.0)
        boxes, scores = self._run("pose_detection", x)
        t0 = time.perf_counter()
        pose_rect = np.zeros((B, 5), f32)
        has_det = np.zeros(B, bool)
        for k in range(B):
            det = G.decode_first_detection(boxes[k], scores[k, :, 0], self.POSE_ANCHORS, 224.0,
                                           4, self.min_detection_confidence)
            if det is None:
                continue
            _, kps = det
            l, t, r, b = padd[k]
            kx = (kps[:, 0] - l) / (f32(1) - (l + r))
            ky = (kps[:, 1] - t) / (f32(1) - (t + b))
            pose_rect[k] = G.alignment_rect(kx[0:1], ky[0:1], kx[1:2], ky[1:2], Ws[k:k + 1],
                                            Hs[k:k + 1], G.target_angle(90))[0]
            has_det[k] = True
        self._tick("post_pose_detection", t0)
        pidx = np.nonzero(has_det)[0]
        if pidx.size == 0:
            return results
        W, H = Ws[pidx], Hs[pidx]
        prect = G.transform_rect(pose_rect[pidx], W, H, 1.25, 1.25)

        # ---- pose landmarks
        roi, padd = G.pad_roi(G.rect_to_px(prect, W, H), 256, 256, True)
        x, valid = self._crop(imgs, sizes, pidx, roi, 256, 256, warp.BORDER_REPLICATE, 0.0, 1.0)
        lm, flag, _seg, heat, world = self._run("pose_landmark", x)
        t0 = time.perf_counter()
        ok = (flag[:, 0].astype(np.float64) > self.min_tracking_confidence) & valid
        lm = lm.reshape(-1, 39, 5)
        lx = lm[:, :, 0] / f32(256)
        ly = lm[:, :, 1] / f32(256)
        lz = lm[:, :, 2] / f32(256) / f32(1)
        with np.errstate(over="ignore"):
            vis = f32(1) / (f32(1) + np.exp(-lm[:, :, 3]))
        lx, ly = G.refine_from_heatmap(lx, ly, heat, kernel=9)
        lx, ly, lz = G.remove_letterbox(lx, ly, lz, padd)
        lx, ly, lz = G.project(lx, ly, lz, prect)
        wl = world.reshape(-1, 39, 3)[:, :33]
        ca, sa = np.cos(prect[:, 4:5]), np.sin(prect[:, 4:5])
        wx = ca * wl[:, :, 0] - sa * wl[:, :, 1]
        wy = sa * wl[:, :, 0] + ca * wl[:, :, 1]
        keep = np.nonzero(ok)[0]
        for j in keep:
            k = pidx[j]
            results[k].pose = np.stack([lx[j, :33], ly[j, :33], lz[j, :33], vis[j, :33]],
                                       -1).astype(f32)
            results[k].pose_world = np.stack([wx[j], wy[j], wl[j, :, 2], vis[j, :33]],
                                             -1).astype(f32)
        self._tick("post_pose_landmark", t0)
        fidx = pidx[keep]
        if fidx.size == 0:
            return results
        plx, ply, pvis = lx[keep, :33], ly[keep, :33], vis[keep, :33]
        W, H = Ws[fidx], Hs[fidx]
        face_stage(self, imgs, sizes, fidx, plx, ply, W, H, results)
        hand_stage(self, imgs, sizes, fidx, plx, ply, pvis, W, H, results)
        return results

    # ------------------------------------------------------------------ face
