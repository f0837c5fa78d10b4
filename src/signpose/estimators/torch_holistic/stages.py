"""The stages of the batched Holistic graph: the body (pose detection, then landmarks), then
from the body landmarks the face and the hands: crops, their networks, and the landmarks
projected back into `Landmarks`. Every step works on all frames (or crops) of a batch at
once; holistic.py holds the model object they run on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from . import geometry as G
from . import warp
from .detections import first_detections
from .landmarks import Landmarks

f32 = np.float32


class Graph(Protocol):
    """What the stages run on (holistic.TorchHolistic): its networks, crops and clock."""

    POSE_ANCHORS: np.ndarray
    FACE_ANCHORS: np.ndarray
    min_detection_confidence: float
    min_tracking_confidence: float

    def run(self, name: str, x: torch.Tensor) -> list[torch.Tensor | None]: ...

    def crop(self, imgs, sizes, index, roi_px, out_w, out_h, border, lo, hi) -> tuple[torch.Tensor, np.ndarray]: ...

    def tick(self, name: str, t0: float) -> None: ...


HEATMAP_KERNEL = 9  # the 0.10.21 wheel's RefineLandmarksFromHeatmap window (the graph file says 7)


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


def host(tensor: torch.Tensor) -> np.ndarray:
    return tensor.cpu().numpy()


def pose_stage(model: Graph, imgs, sizes, sizes_np: np.ndarray, out: Landmarks) -> Body | None:
    B = sizes_np.shape[0]
    Hs = sizes_np[:, 0].astype(f32)
    Ws = sizes_np[:, 1].astype(f32)
    full = np.stack([Ws * f32(0.5), Hs * f32(0.5), Ws, Hs, np.zeros(B, f32)], -1).astype(f32)
    roi, padd = G.pad_roi(full, 224, 224, True)
    x, _ = model.crop(imgs, sizes, np.arange(B), roi, 224, 224, warp.BORDER_ZERO, -1.0, 1.0)
    boxes, scores = model.run("pose_detection", x)
    t0 = time.perf_counter()
    found, _, kps = first_detections(host(boxes), host(scores)[:, :, 0], model.POSE_ANCHORS, 224.0, 4,
                                     model.min_detection_confidence)  # fmt: skip
    pidx = np.nonzero(found)[0]
    if pidx.size == 0:
        model.tick("host_pose_detection", t0)
        return None
    left, top, right, bottom = padd[pidx].T
    kx = (kps[pidx, :, 0] - left[:, None]) / (f32(1) - (left + right))[:, None]
    ky = (kps[pidx, :, 1] - top[:, None]) / (f32(1) - (top + bottom))[:, None]
    W, H = Ws[pidx], Hs[pidx]
    pose_rect = G.alignment_rect(kx[:, 0], ky[:, 0], kx[:, 1], ky[:, 1], W, H, G.target_angle(90))
    prect = G.transform_rect(pose_rect, W, H, 1.25, 1.25)
    roi, padd = G.pad_roi(G.rect_to_px(prect, W, H), 256, 256, True)
    model.tick("host_pose_detection", t0)
    x, valid = model.crop(imgs, sizes, pidx, roi, 256, 256, warp.BORDER_REPLICATE, 0.0, 1.0)
    lm_t, flag, _seg, heat, world = model.run("pose_landmark", x)
    windows = heatmap_windows(lm_t, heat, 256, HEATMAP_KERNEL)
    t0 = time.perf_counter()
    ok = (host(flag)[:, 0].astype(np.float64) > model.min_tracking_confidence) & valid
    lm = host(lm_t).reshape(-1, 39, 5)
    lx = lm[:, :, 0] / f32(256)
    ly = lm[:, :, 1] / f32(256)
    lz = lm[:, :, 2] / f32(256) / f32(1)
    with np.errstate(over="ignore"):
        vis = f32(1) / (f32(1) + np.exp(-lm[:, :, 3]))
    lx, ly = G.refine_from_windows(lx, ly, host(windows), heat.shape[1], heat.shape[2], HEATMAP_KERNEL)
    lx, ly, lz = G.remove_letterbox(lx, ly, lz, padd)
    lx, ly, lz = G.project(lx, ly, lz, prect)
    wl = host(world).reshape(-1, 39, 3)[:, :33]
    ca, sa = np.cos(prect[:, 4:5]), np.sin(prect[:, 4:5])
    wx = ca * wl[:, :, 0] - sa * wl[:, :, 1]
    wy = sa * wl[:, :, 0] + ca * wl[:, :, 1]
    keep = np.nonzero(ok)[0]
    frames = pidx[keep]
    out.put("pose", frames, np.stack([lx[keep, :33], ly[keep, :33], lz[keep, :33], vis[keep, :33]], -1))
    out.put("pose_world", frames, np.stack([wx[keep], wy[keep], wl[keep, :, 2], vis[keep, :33]], -1))
    model.tick("host_pose_landmark", t0)
    if frames.size == 0:
        return None
    return Body(frames, lx[keep, :33], ly[keep, :33], vis[keep, :33], Ws[frames], Hs[frames])


def heatmap_windows(landmarks: torch.Tensor, heat: torch.Tensor, input_size: int, kernel: int) -> torch.Tensor:
    """The kernel×kernel heatmap values around each landmark, [K, n, kernel, kernel]
    (rows, columns; clamped at the edges, which the refinement leaves out), gathered where
    the heatmaps are so that only the windows are copied back. The landmark's cell is
    computed as on the host (exact: powers of two)."""
    K, hh, hw, n = heat.shape
    lm = landmarks.reshape(K, n, -1)
    offsets = torch.arange(-(kernel // 2), kernel // 2 + 1, device=heat.device)
    col = torch.trunc(lm[:, :, 0] / float(input_size) * float(hw)).to(torch.int64)
    row = torch.trunc(lm[:, :, 1] / float(input_size) * float(hh)).to(torch.int64)
    cols = torch.clamp(col[..., None] + offsets, 0, hw - 1)
    rows = torch.clamp(row[..., None] + offsets, 0, hh - 1)
    frame = torch.arange(K, device=heat.device).view(K, 1, 1, 1)
    part = torch.arange(n, device=heat.device).view(1, n, 1, 1)
    flat = ((frame * hh + rows[:, :, :, None]) * hw + cols[:, :, None, :]) * n + part
    return heat.reshape(-1)[flat]


def face_stage(model: Graph, imgs, sizes, body: Body, out: Landmarks) -> None:
    t0 = time.perf_counter()
    fidx, W, H = body.frames, body.W, body.H
    x, y = body.x[:, :11], body.y[:, :11]
    cx, cy, w, h = G.landmarks_bbox_rect(x, y)
    rot = G.rotation_from(x[:, 5], y[:, 5], x[:, 2], y[:, 2], W, H, G.target_angle(0))
    rect = np.stack([cx, cy, w, h, rot], -1).astype(f32)
    rect = G.transform_rect(rect, W, H, 3.0, 3.0)
    roi, _ = G.pad_roi(G.rect_to_px(rect, W, H), 128, 128, True)
    model.tick("host_face_rect", t0)
    xin, valid = model.crop(imgs, sizes, fidx, roi, 128, 128, warp.BORDER_ZERO, -1.0, 1.0)
    boxes, scores = model.run("face_detection", xin)
    t0 = time.perf_counter()
    found, _, kps = first_detections(host(boxes), host(scores)[:, :, 0], model.FACE_ANCHORS, 128.0, 6, 0.5)
    sel = np.nonzero(found & valid)[0]
    if sel.size == 0:
        model.tick("host_face_detection", t0)
        return
    m = G.subrect_matrix(roi[sel], W[sel], H[sel])  # face-crop coordinates -> image
    kx = kps[sel, :, 0] * m[:, 0:1] + kps[sel, :, 1] * m[:, 1:2] + m[:, 2:3]
    ky = kps[sel, :, 0] * m[:, 3:4] + kps[sel, :, 1] * m[:, 4:5] + m[:, 5:6]
    xmin, xmax, ymin, ymax = kx.min(1), kx.max(1), ky.min(1), ky.max(1)
    rot = G.rotation_from(kx[:, 0], ky[:, 0], kx[:, 1], ky[:, 1], W[sel], H[sel], G.target_angle(0))
    frect = np.stack([(xmin + xmax) / f32(2), (ymin + ymax) / f32(2), xmax - xmin, ymax - ymin, rot],
                     -1).astype(f32)  # fmt: skip
    fr = G.transform_rect(frect, W[sel], H[sel], 2.0, 2.0, 0.0, -0.1)
    roi, _ = G.pad_roi(G.rect_to_px(fr, W[sel], H[sel]), 192, 192, False)
    model.tick("host_face_detection", t0)
    xin, valid = model.crop(imgs, sizes, fidx[sel], roi, 192, 192, warp.BORDER_REPLICATE, 0.0, 1.0)
    lms, flag = model.run("face_landmark", xin)
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):
        prob = f32(1) / (f32(1) + np.exp(-host(flag).reshape(-1)))
    lms = host(lms).reshape(-1, 468, 3)
    lx, ly, lz = lms[:, :, 0] / f32(192), lms[:, :, 1] / f32(192), lms[:, :, 2] / f32(192) / f32(1)
    lx, ly, lz = G.project(lx, ly, lz, fr)
    ok = valid & (prob.astype(np.float64) > 0.5)
    out.put("face", fidx[sel[ok]], np.stack([lx[ok], ly[ok], lz[ok]], -1))
    model.tick("host_face_landmark", t0)


# ------------------------------------------------------------------ hands
WRIST_PINKY_INDEX = {"left": (15, 17, 19), "right": (16, 18, 20)}  # body landmarks per side


def hand_stage(model: Graph, imgs, sizes, body: Body, out: Landmarks) -> None:
    t0 = time.perf_counter()
    fidx, plx, ply = body.frames, body.x, body.y
    # a crop per visible wrist: the left hands, then the right ones, each in frame order
    sides = [(side, np.nonzero(body.visibility[:, wrist].astype(np.float64) > 0.1)[0])
             for side, (wrist, _, _) in WRIST_PINKY_INDEX.items()]
    rows = np.concatenate([found for _, found in sides])
    if rows.size == 0:
        model.tick("host_hand_rect", t0)
        return
    marks = np.concatenate([np.tile(WRIST_PINKY_INDEX[side], (found.size, 1)) for side, found in sides])
    wr, pk, ix = marks.T
    Wh, Hh = body.W[rows], body.H[rows]
    xw, yw = plx[rows, wr] * Wh, ply[rows, wr] * Hh
    xi, yi = plx[rows, ix] * Wh, ply[rows, ix] * Hh
    xp, yp = plx[rows, pk] * Wh, ply[rows, pk] * Hh
    xm = (f32(2) * xi + xp) / f32(3)
    ym = (f32(2) * yi + yp) / f32(3)
    box = (np.sqrt((xm - xw) * (xm - xw) + (ym - yw) * (ym - yw)).astype(np.float64)
           * 2.0).astype(f32)
    rot = G.normalize_radians(f32(np.pi * 0.5) - np.arctan2(-(ym - yw), xm - xw))
    rect = np.stack([xm / Wh, ym / Hh, box / Wh, box / Hh, rot], -1).astype(f32)
    rect = G.transform_rect(rect, Wh, Hh, 2.7, 2.7, 0.0, -0.1)
    roi, padd = G.pad_roi(G.rect_to_px(rect, Wh, Hh), 256, 256, True)
    model.tick("host_hand_rect", t0)
    xin, valid1 = model.crop(imgs, sizes, fidx[rows], roi, 256, 256, warp.BORDER_REPLICATE,
                             0.0, 1.0)
    (pts,) = model.run("hand_recrop", xin)
    t0 = time.perf_counter()
    pts = host(pts).reshape(-1, 2, 2)
    px, py = pts[:, :, 0] / f32(256), pts[:, :, 1] / f32(256)
    pz = np.zeros_like(px)
    px, py, pz = G.remove_letterbox(px, py, pz, padd)
    px, py, pz = G.project(px, py, pz, rect)
    r2 = G.alignment_rect(px[:, 0], py[:, 0], px[:, 1], py[:, 1], Wh, Hh, G.target_angle(-90))
    r2 = G.transform_rect(r2, Wh, Hh, 1.0, 1.0, 0.0, -0.1)
    roi, padd = G.pad_roi(G.rect_to_px(r2, Wh, Hh), 224, 224, True)
    model.tick("host_hand_recrop", t0)
    xin, valid2 = model.crop(imgs, sizes, fidx[rows], roi, 224, 224, warp.BORDER_REPLICATE,
                             0.0, 1.0)
    lms, flag, _handed, _world = model.run("hand_landmark", xin)
    t0 = time.perf_counter()
    lms = host(lms).reshape(-1, 21, 3)
    lx = lms[:, :, 0] / f32(224)
    ly = lms[:, :, 1] / f32(224)
    lz = lms[:, :, 2] / f32(224) / f32(0.4)
    lx, ly, lz = G.remove_letterbox(lx, ly, lz, padd)
    lx, ly, lz = G.project(lx, ly, lz, r2)
    ok = valid1 & valid2 & (host(flag)[:, 0].astype(np.float64) > 0.5)
    hands = np.stack([lx, ly, lz], -1)
    start = 0
    for side, found in sides:
        mine = ok[start:start + found.size]
        out.put(side + "_hand", fidx[found[mine]], hands[start:start + found.size][mine])
        start += found.size
    model.tick("host_hand_landmark", t0)
