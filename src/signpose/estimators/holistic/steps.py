"""The steps of the Holistic graph (static image mode, a fresh graph per frame), for a batch
of frames at once: the body (pose detection, then landmarks), then from the body landmarks
the face and the hands. Every step works on all frames (or crops) of a batch with numpy array
operations, in float32 in MediaPipe's order of operations; the crops and the networks are the
runtime's (``Runtime``: LiteRT on the CPU, PyTorch on a GPU), so the geometry exists once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from . import geometry as G
from .detections import first_detections, ssd_anchors
from .landmarks import Landmarks
from .mathf import atan2f, cosf, sigmoid, sinf
from .perspective import crop_matrices
from .weights import Network, input_size

f32 = np.float32
Border = Literal["zero", "replicate"]
HEATMAP_KERNEL = 9  # the 0.10.21 wheel's RefineLandmarksFromHeatmap window (the graph file says 7)
POSE_ANCHORS = ssd_anchors(224, [8, 16, 32, 32, 32])
FACE_ANCHORS = ssd_anchors(128, [8, 16, 16, 16])


@dataclass(frozen=True)
class Crops:
    """What one network looks at: for each crop its frame in the batch, OpenCV's dst->src
    matrix (float64 [K, 3, 3]) and whether the crop is valid (an empty or non-finite ROI is
    an error in MediaPipe's graph: here its result is left absent and a runtime may skip
    it); the pixels are taken by OpenCV 4.x's bilinear warp with ``border`` and scaled to
    ``value_range``."""

    frames: np.ndarray
    matrices: np.ndarray
    valid: np.ndarray
    size: int
    border: Border
    value_range: tuple[float, float]

    def __len__(self) -> int:
        return int(self.frames.shape[0])


class Runtime(Protocol):
    """Runs the networks: ``frames`` holds a batch's images as the runtime crops from them;
    ``run`` crops and runs one network and gives its outputs on the host, float32, each
    flat [K, n] in the order of ``OUTPUTS``. For the pose landmark network the heatmap comes
    back as each landmark's window [K, 39, 9, 9] (``heatmap_windows``), not whole."""

    def frames(self, images: list[np.ndarray]) -> Any: ...

    def run(self, network: Network, frames: Any, crops: Crops) -> list[np.ndarray]: ...


# What each network's outputs are, as ``Runtime.run`` gives them (the model's own outputs
# by position; the ones not listed are not computed or not copied).
OUTPUTS: dict[Network, tuple[int, ...]] = {
    Network.POSE_DETECTION: (0, 1),  # boxes [K, 2254 * 12], scores [K, 2254]
    Network.POSE_LANDMARK: (0, 1, 3, 4),  # landmarks [K, 39 * 5], flag [K, 1], heatmap windows [K, 39, 9, 9], world [K, 39 * 3]
    Network.FACE_DETECTION: (0, 1),  # boxes [K, 896 * 16], scores [K, 896]
    Network.FACE_LANDMARK: (0, 1),  # landmarks [K, 468 * 3], flag [K, 1]
    Network.HAND_RECROP: (0,),  # points [K, 4]
    Network.HAND_LANDMARK: (0, 1),  # landmarks [K, 63], flag [K, 1]
}


def heatmap_cells(landmarks: np.ndarray, heat_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The heatmap cell (column, row) of each of a crop's landmarks [n, 5] (network pixels);
    exact (powers of two), so a runtime may compute it where the heatmap is."""
    scale = f32(heat_size) / f32(input_size(Network.POSE_LANDMARK))
    return np.trunc(landmarks[:, 0] * scale).astype(np.int64), np.trunc(landmarks[:, 1] * scale).astype(np.int64)


def heatmap_windows(landmarks: np.ndarray, heat: np.ndarray, kernel: int = HEATMAP_KERNEL) -> np.ndarray:
    """One crop's heatmap [h, w, n] around each landmark [n, 5]: [n, kernel, kernel] (rows,
    columns; clamped at the edges, which the refinement leaves out)."""
    hh, hw, n = heat.shape
    col, row = heatmap_cells(landmarks.reshape(n, -1), hw)
    offsets = np.arange(-(kernel // 2), kernel // 2 + 1)
    cols = np.clip(col[:, None] + offsets, 0, hw - 1)
    rows = np.clip(row[:, None] + offsets, 0, hh - 1)
    return heat[rows[:, :, None], cols[:, None, :], np.arange(n)[:, None, None]]


def crops(frames: np.ndarray, roi_px: np.ndarray, network: Network, border: Border, value_range: tuple[float, float]) -> Crops:
    """The crops of rotated pixel ROIs [K, 5] (already padded) for ``network``."""
    size = input_size(network)
    valid = np.isfinite(roi_px).all(1) & (roi_px[:, 2] > 0) & (roi_px[:, 3] > 0)
    mats = np.zeros((len(roi_px), 3, 3), np.float64)
    mats[valid] = crop_matrices(roi_px[valid], size, size)
    valid &= np.isfinite(mats).all((1, 2))
    mats[~valid] = 0.0
    return Crops(np.asarray(frames, np.int64), mats, valid, size, border, value_range)


@dataclass(frozen=True)
class Body:
    """The frames whose body was found: their rows in the batch, body landmarks (x, y
    normalised, visibility) [F, 33] and image sizes [F]."""

    frames: np.ndarray
    x: np.ndarray
    y: np.ndarray
    visibility: np.ndarray
    W: np.ndarray
    H: np.ndarray


@dataclass
class Graph:
    """The graph over one runtime, with MediaPipe's thresholds; ``timings`` (seconds per
    step of the geometry between the networks) are kept while ``profile`` is set."""

    runtime: Runtime
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    profile: bool = False

    def __post_init__(self) -> None:
        self.timings: dict[str, float] = {}

    def tick(self, name: str, t0: float) -> None:
        if self.profile:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def run(self, network: Network, frames: Any, crops: Crops) -> list[np.ndarray]:
        return self.runtime.run(network, frames, crops)  # the runtime times its crops and networks

    def landmarks(self, images: list[np.ndarray]) -> Landmarks:
        """Every part's landmarks for each of ``images`` (RGB uint8 [h, w, 3], any sizes)."""
        out = Landmarks.absent(len(images))
        if not images:
            return out
        if any(im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8 for im in images):
            raise ValueError("images must be RGB uint8 [h, w, 3]")
        t0 = time.perf_counter()
        frames = self.runtime.frames(images)
        self.tick("upload", t0)
        sizes = np.array([im.shape[:2] for im in images], np.int64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            body = pose_step(self, frames, sizes, out)
            if body is not None:
                face_step(self, frames, body, out)
                hand_step(self, frames, body, out)
        return out


def pose_step(graph: Graph, frames: Any, sizes: np.ndarray, out: Landmarks) -> Body | None:
    t0 = time.perf_counter()
    B = sizes.shape[0]
    Hs = sizes[:, 0].astype(f32)
    Ws = sizes[:, 1].astype(f32)
    full = np.stack([Ws * f32(0.5), Hs * f32(0.5), Ws, Hs, np.zeros(B, f32)], -1).astype(f32)
    roi, padd = G.pad_roi(full, 224, 224, True)
    found_crops = crops(np.arange(B), roi, Network.POSE_DETECTION, "zero", (-1.0, 1.0))
    graph.tick("host_pose_rect", t0)
    boxes, scores = graph.run(Network.POSE_DETECTION, frames, found_crops)
    t0 = time.perf_counter()
    found, _, kps = first_detections(boxes.reshape(B, -1, 12), scores.reshape(B, -1), POSE_ANCHORS, 224.0, 4,
                                     graph.min_detection_confidence)
    pidx = np.nonzero(found)[0]
    if pidx.size == 0:
        graph.tick("host_pose_detection", t0)
        return None
    left, top, right, bottom = padd[pidx].T
    kx = (kps[pidx, :, 0] - left[:, None]) / (f32(1) - (left + right))[:, None]
    ky = (kps[pidx, :, 1] - top[:, None]) / (f32(1) - (top + bottom))[:, None]
    W, H = Ws[pidx], Hs[pidx]
    pose_rect = G.alignment_rect(kx[:, 0], ky[:, 0], kx[:, 1], ky[:, 1], W, H, G.target_angle(90))
    prect = G.transform_rect(pose_rect, W, H, 1.25, 1.25)
    roi, padd = G.pad_roi(G.rect_to_px(prect, W, H), 256, 256, True)
    body_crops = crops(pidx, roi, Network.POSE_LANDMARK, "replicate", (0.0, 1.0))
    graph.tick("host_pose_detection", t0)
    lm, flag, windows, world = graph.run(Network.POSE_LANDMARK, frames, body_crops)
    t0 = time.perf_counter()
    ok = (flag[:, 0].astype(np.float64) > graph.min_tracking_confidence) & body_crops.valid
    lm = lm.reshape(-1, 39, 5)
    lx = lm[:, :, 0] / f32(256)
    ly = lm[:, :, 1] / f32(256)
    lz = lm[:, :, 2] / f32(256) / f32(1)
    vis = sigmoid(lm[:, :, 3])
    lx, ly = G.refine_from_windows(lx, ly, windows, 64, 64, HEATMAP_KERNEL)
    lx, ly, lz = G.remove_letterbox(lx, ly, lz, padd)
    lx, ly, lz = G.project(lx, ly, lz, prect)
    # PoseLandmarkFiltering (a pass-through in static mode) goes to pixels and back
    lx, ly, lz = (lx * W[:, None]) / W[:, None], (ly * H[:, None]) / H[:, None], (lz * W[:, None]) / W[:, None]
    wl = world.reshape(-1, 39, 3)[:, :33]
    ca, sa = cosf(prect[:, 4:5]), sinf(prect[:, 4:5])
    wx = ca * wl[:, :, 0] - sa * wl[:, :, 1]
    wy = sa * wl[:, :, 0] + ca * wl[:, :, 1]
    keep = np.nonzero(ok)[0]
    rows = pidx[keep]
    out.put("pose", rows, np.stack([lx[keep, :33], ly[keep, :33], lz[keep, :33], vis[keep, :33]], -1))
    out.put("pose_world", rows, np.stack([wx[keep], wy[keep], wl[keep, :, 2], vis[keep, :33]], -1))
    graph.tick("host_pose_landmark", t0)
    if rows.size == 0:
        return None
    return Body(rows, lx[keep, :33], ly[keep, :33], vis[keep, :33], Ws[rows], Hs[rows])


def face_step(graph: Graph, frames: Any, body: Body, out: Landmarks) -> None:
    t0 = time.perf_counter()
    fidx, W, H = body.frames, body.W, body.H
    x, y = body.x[:, :11], body.y[:, :11]
    cx, cy, w, h = G.landmarks_bbox_rect(x, y)
    rot = G.rotation_from(x[:, 5], y[:, 5], x[:, 2], y[:, 2], W, H, G.target_angle(0))
    rect = np.stack([cx, cy, w, h, rot], -1).astype(f32)
    rect = G.transform_rect(rect, W, H, 3.0, 3.0)
    roi, _ = G.pad_roi(G.rect_to_px(rect, W, H), 128, 128, True)
    detect_crops = crops(fidx, roi, Network.FACE_DETECTION, "zero", (-1.0, 1.0))
    graph.tick("host_face_rect", t0)
    boxes, scores = graph.run(Network.FACE_DETECTION, frames, detect_crops)
    t0 = time.perf_counter()
    found, _, kps = first_detections(boxes.reshape(len(fidx), -1, 16), scores.reshape(len(fidx), -1), FACE_ANCHORS, 128.0, 6, 0.5)
    sel = np.nonzero(found & detect_crops.valid)[0]
    if sel.size == 0:
        graph.tick("host_face_detection", t0)
        return
    m = G.subrect_matrix(roi[sel], W[sel], H[sel])  # face-crop coordinates -> image
    kx = kps[sel, :, 0] * m[:, 0:1] + kps[sel, :, 1] * m[:, 1:2] + m[:, 2:3]
    ky = kps[sel, :, 0] * m[:, 3:4] + kps[sel, :, 1] * m[:, 4:5] + m[:, 5:6]
    xmin, xmax, ymin, ymax = kx.min(1), kx.max(1), ky.min(1), ky.max(1)
    rot = G.rotation_from(kx[:, 0], ky[:, 0], kx[:, 1], ky[:, 1], W[sel], H[sel], G.target_angle(0))
    frect = np.stack([(xmin + xmax) / f32(2), (ymin + ymax) / f32(2), xmax - xmin, ymax - ymin, rot], -1).astype(f32)
    fr = G.transform_rect(frect, W[sel], H[sel], 2.0, 2.0, 0.0, -0.1)
    roi, _ = G.pad_roi(G.rect_to_px(fr, W[sel], H[sel]), 192, 192, False)
    mesh_crops = crops(fidx[sel], roi, Network.FACE_LANDMARK, "replicate", (0.0, 1.0))
    graph.tick("host_face_detection", t0)
    lms, flag = graph.run(Network.FACE_LANDMARK, frames, mesh_crops)
    t0 = time.perf_counter()
    prob = sigmoid(flag.reshape(-1))
    lms = lms.reshape(-1, 468, 3)
    lx, ly, lz = lms[:, :, 0] / f32(192), lms[:, :, 1] / f32(192), lms[:, :, 2] / f32(192) / f32(1)
    lx, ly, lz = G.project(lx, ly, lz, fr)
    ok = mesh_crops.valid & (prob.astype(np.float64) > 0.5)
    out.put("face", fidx[sel[ok]], np.stack([lx[ok], ly[ok], lz[ok]], -1))
    graph.tick("host_face_landmark", t0)


WRIST_PINKY_INDEX = {"left": (15, 17, 19), "right": (16, 18, 20)}  # body landmarks per side


def hand_step(graph: Graph, frames: Any, body: Body, out: Landmarks) -> None:
    t0 = time.perf_counter()
    fidx, plx, ply = body.frames, body.x, body.y
    # a crop per visible wrist: the left hands, then the right ones, each in frame order
    sides = [(side, np.nonzero(body.visibility[:, wrist].astype(np.float64) > 0.1)[0]) for side, (wrist, _, _) in WRIST_PINKY_INDEX.items()]
    rows = np.concatenate([found for _, found in sides])
    if rows.size == 0:
        graph.tick("host_hand_rect", t0)
        return
    marks = np.concatenate([np.tile(WRIST_PINKY_INDEX[side], (found.size, 1)) for side, found in sides])
    wr, pk, ix = marks.T
    Wh, Hh = body.W[rows], body.H[rows]
    xw, yw = plx[rows, wr] * Wh, ply[rows, wr] * Hh
    xi, yi = plx[rows, ix] * Wh, ply[rows, ix] * Hh
    xp, yp = plx[rows, pk] * Wh, ply[rows, pk] * Hh
    xm = (f32(2) * xi + xp) / f32(3)
    ym = (f32(2) * yi + yp) / f32(3)
    box = (np.sqrt((xm - xw) * (xm - xw) + (ym - yw) * (ym - yw)).astype(np.float64) * 2.0).astype(f32)
    rot = G.normalize_radians(f32(np.pi * 0.5) - atan2f(-(ym - yw), xm - xw))
    rect = np.stack([xm / Wh, ym / Hh, box / Wh, box / Hh, rot], -1).astype(f32)
    rect = G.transform_rect(rect, Wh, Hh, 2.7, 2.7, 0.0, -0.1)
    roi, padd = G.pad_roi(G.rect_to_px(rect, Wh, Hh), 256, 256, True)
    recrop_crops = crops(fidx[rows], roi, Network.HAND_RECROP, "replicate", (0.0, 1.0))
    graph.tick("host_hand_rect", t0)
    (pts,) = graph.run(Network.HAND_RECROP, frames, recrop_crops)
    t0 = time.perf_counter()
    pts = pts.reshape(-1, 2, 2)
    px, py = pts[:, :, 0] / f32(256), pts[:, :, 1] / f32(256)
    pz = np.zeros_like(px)
    px, py, pz = G.remove_letterbox(px, py, pz, padd)
    px, py, pz = G.project(px, py, pz, rect)
    r2 = G.alignment_rect(px[:, 0], py[:, 0], px[:, 1], py[:, 1], Wh, Hh, G.target_angle(-90))
    r2 = G.transform_rect(r2, Wh, Hh, 1.0, 1.0, 0.0, -0.1)
    roi, padd = G.pad_roi(G.rect_to_px(r2, Wh, Hh), 224, 224, True)
    hand_crops = crops(fidx[rows], roi, Network.HAND_LANDMARK, "replicate", (0.0, 1.0))
    graph.tick("host_hand_recrop", t0)
    lms, flag = graph.run(Network.HAND_LANDMARK, frames, hand_crops)
    t0 = time.perf_counter()
    lms = lms.reshape(-1, 21, 3)
    lx = lms[:, :, 0] / f32(224)
    ly = lms[:, :, 1] / f32(224)
    lz = lms[:, :, 2] / f32(224) / f32(0.4)
    lx, ly, lz = G.remove_letterbox(lx, ly, lz, padd)
    lx, ly, lz = G.project(lx, ly, lz, r2)
    ok = recrop_crops.valid & hand_crops.valid & (flag[:, 0].astype(np.float64) > 0.5)
    hands = np.stack([lx, ly, lz], -1)
    start = 0
    for side, found in sides:
        mine = ok[start : start + found.size]
        out.put(side + "_hand", fidx[found[mine]], hands[start : start + found.size][mine])
        start += found.size
    graph.tick("host_hand_landmark", t0)
