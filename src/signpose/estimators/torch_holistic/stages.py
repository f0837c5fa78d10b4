"""The face and hand stages of the batched Holistic graph: from the body landmarks to face
and hand crops, their networks, and the landmarks projected back (see holistic.py, whose
model object they run on)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from . import geometry as G
from . import warp

if TYPE_CHECKING:
    from .holistic import TorchHolistic

f32 = np.float32


def face_stage(model: "TorchHolistic", imgs, sizes, fidx, plx, ply, W, H, results):
    t0 = time.perf_counter()
    x, y = plx[:, :11], ply[:, :11]
    cx, cy, w, h = G.landmarks_bbox_rect(x, y)
    rot = G.rotation_from(x[:, 5], y[:, 5], x[:, 2], y[:, 2], W, H, G.target_angle(0))
    rect = np.stack([cx, cy, w, h, rot], -1).astype(f32)
    rect = G.transform_rect(rect, W, H, 3.0, 3.0)
    roi, _ = G.pad_roi(G.rect_to_px(rect, W, H), 128, 128, True)
    model._tick("post_face_rect", t0)
    xin, valid = model._crop(imgs, sizes, fidx, roi, 128, 128, warp.BORDER_ZERO, -1.0, 1.0)
    boxes, scores = model._run("face_detection", xin)
    t0 = time.perf_counter()
    mats = G.subrect_matrix(roi, W, H)
    frect = np.zeros((len(fidx), 5), f32)
    has = np.zeros(len(fidx), bool)
    for j in np.nonzero(valid)[0]:
        det = G.decode_first_detection(boxes[j], scores[j, :, 0], model.FACE_ANCHORS, 128.0,
                                       6, 0.5)
        if det is None:
            continue
        _, kps = det
        m0, m1, m3, m4, m5, m7 = mats[j]
        kx = kps[:, 0] * m0 + kps[:, 1] * m1 + m3
        ky = kps[:, 0] * m4 + kps[:, 1] * m5 + m7
        xmin, xmax, ymin, ymax = kx.min(), kx.max(), ky.min(), ky.max()
        rot = G.rotation_from(kx[0:1], ky[0:1], kx[1:2], ky[1:2], W[j:j + 1], H[j:j + 1],
                              G.target_angle(0))[0]
        frect[j] = [(xmin + xmax) / f32(2), (ymin + ymax) / f32(2), xmax - xmin,
                    ymax - ymin, rot]
        has[j] = True
    sel = np.nonzero(has)[0]
    model._tick("post_face_detection", t0)
    if sel.size == 0:
        return
    fr = G.transform_rect(frect[sel], W[sel], H[sel], 2.0, 2.0, 0.0, -0.1)
    roi, _ = G.pad_roi(G.rect_to_px(fr, W[sel], H[sel]), 192, 192, False)
    xin, valid = model._crop(imgs, sizes, fidx[sel], roi, 192, 192, warp.BORDER_REPLICATE,
                            0.0, 1.0)
    lms, flag = model._run("face_landmark", xin)
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):
        prob = f32(1) / (f32(1) + np.exp(-flag.reshape(-1)))
    lms = lms.reshape(-1, 468, 3)
    lx, ly, lz = lms[:, :, 0] / f32(192), lms[:, :, 1] / f32(192), lms[:, :, 2] / f32(192) / f32(1)
    lx, ly, lz = G.project(lx, ly, lz, fr)
    for j in range(len(sel)):
        if valid[j] and float(prob[j]) > 0.5:
            results[fidx[sel[j]]].face = np.stack([lx[j], ly[j], lz[j]], -1).astype(f32)
    model._tick("post_face_landmark", t0)

# ------------------------------------------------------------------ hands
def hand_stage(model: "TorchHolistic", imgs, sizes, fidx, plx, ply, pvis, W, H, results):
    t0 = time.perf_counter()
    items = []  # (row in fidx, side, wrist, pinky, index)
    for side, (wr, pk, ix) in (("left", (15, 17, 19)), ("right", (16, 18, 20))):
        for j in range(len(fidx)):
            if float(pvis[j, wr]) > 0.1:
                items.append((j, side, wr, pk, ix))
    if not items:
        model._tick("post_hand_rect", t0)
        return
    rows = np.array([it[0] for it in items])
    wr = np.array([it[2] for it in items])
    pk = np.array([it[3] for it in items])
    ix = np.array([it[4] for it in items])
    Wh, Hh = W[rows], H[rows]
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
    model._tick("post_hand_rect", t0)
    xin, valid1 = model._crop(imgs, sizes, fidx[rows], roi, 256, 256, warp.BORDER_REPLICATE,
                             0.0, 1.0)
    (pts,) = model._run("hand_recrop", xin)
    t0 = time.perf_counter()
    pts = pts.reshape(-1, 2, 2)
    px, py = pts[:, :, 0] / f32(256), pts[:, :, 1] / f32(256)
    pz = np.zeros_like(px)
    px, py, pz = G.remove_letterbox(px, py, pz, padd)
    px, py, pz = G.project(px, py, pz, rect)
    r2 = G.alignment_rect(px[:, 0], py[:, 0], px[:, 1], py[:, 1], Wh, Hh, G.target_angle(-90))
    r2 = G.transform_rect(r2, Wh, Hh, 1.0, 1.0, 0.0, -0.1)
    roi, padd = G.pad_roi(G.rect_to_px(r2, Wh, Hh), 224, 224, True)
    model._tick("post_hand_recrop", t0)
    xin, valid2 = model._crop(imgs, sizes, fidx[rows], roi, 224, 224, warp.BORDER_REPLICATE,
                             0.0, 1.0)
    lms, flag, _handed, _world = model._run("hand_landmark", xin)
    t0 = time.perf_counter()
    lms = lms.reshape(-1, 21, 3)
    lx = lms[:, :, 0] / f32(224)
    ly = lms[:, :, 1] / f32(224)
    lz = lms[:, :, 2] / f32(224) / f32(0.4)
    lx, ly, lz = G.remove_letterbox(lx, ly, lz, padd)
    lx, ly, lz = G.project(lx, ly, lz, r2)
    for n, (j, side, *_rest) in enumerate(items):
        if valid1[n] and valid2[n] and float(flag[n, 0]) > 0.5:
            arr = np.stack([lx[n], ly[n], lz[n]], -1).astype(f32)
            setattr(results[fidx[j]], side + "_hand", arr)
    model._tick("post_hand_landmark", t0)
