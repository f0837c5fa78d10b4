"""MediaPipe's SSD detection decoding (anchors, TensorsToDetections, weighted NMS) for a
batch of frames at once, in float32 in the C++'s order of operations.

Holistic keeps only the first detection of the pose and of the face detector, so per
frame only the highest-scoring box and the boxes it suppresses matter. The work is done on
the anchors whose score passes (a few per frame), gathered across the batch, with no
Python loop per frame; a frame's result depends on its own scores alone.
"""

from __future__ import annotations

import math

import numpy as np

from .mathf import sigmoid

f32 = np.float32
NMS_IOU = f32(0.3)  # min_suppression_threshold of both detectors' NonMaxSuppression


def ssd_anchors(input_size: int, strides: list[int]) -> np.ndarray:
    """SsdAnchorsCalculator with fixed anchor size, aspect 1 + interpolated: [A, 2] (x, y)."""
    out = []
    n = len(strides)
    layer = 0
    while layer < n:
        last = layer
        while last < n and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        fm = int(math.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing="ij")
        cx = ((xs.astype(f32) + f32(0.5)) * f32(1.0)) / f32(fm)
        cy = ((ys.astype(f32) + f32(0.5)) * f32(1.0)) / f32(fm)
        c = np.stack([cx, cy], -1).reshape(-1, 1, 2)
        out.append(np.repeat(c, per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(out).astype(f32)


def first_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                     scale: float, num_kp: int, min_score: float):
    """TensorsToDetections (XYWH, sigmoid, score clipping at 100) and weighted NMS (IoU 0.3),
    the first detection of each frame.

    raw_boxes [B, A, C], raw_scores [B, A]. Returns found [B] bool, boxes [B, 4] (xmin, ymin,
    w, h) and keypoints [B, num_kp, 2], float32, zeros where nothing was found.
    """
    B = raw_scores.shape[0]
    found = np.zeros(B, bool)
    boxes = np.zeros((B, 4), f32)
    keypoints = np.zeros((B, num_kp, 2), f32)
    # The exact sigmoid (the C library's expf) only where it may pass: a float64 sigmoid
    # below the threshold by more than rounding can reach is below it exactly too.
    raw = np.clip(raw_scores.astype(f32), f32(-100), f32(100))
    with np.errstate(over="ignore"):
        rough = 1.0 / (1.0 + np.exp(-raw.astype(np.float64)))
    rows, cols = np.nonzero(rough >= min_score - 1e-6)
    score = sigmoid(raw[rows, cols])
    passed = score >= f32(min_score)
    rows, cols, score = rows[passed], cols[passed], score[passed]
    if rows.size == 0:
        return found, boxes, keypoints
    s = f32(scale)
    r = raw_boxes[rows, cols].astype(f32)
    ax, ay = anchors[cols, 0], anchors[cols, 1]
    xc = r[:, 0] / s * f32(1.0) + ax
    yc = r[:, 1] / s * f32(1.0) + ay
    w = r[:, 2] / s * f32(1.0)
    h = r[:, 3] / s * f32(1.0)
    xmin = xc - w / f32(2)
    ymin = yc - h / f32(2)
    bw = (xc + w / f32(2)) - xmin
    bh = (yc + h / f32(2)) - ymin
    kx = r[:, 4:4 + 2 * num_kp:2] / s * f32(1.0) + ax[:, None]
    ky = r[:, 5:5 + 2 * num_kp:2] / s * f32(1.0) + ay[:, None]
    ok = ~(bw < 0) & ~(bh < 0) & ~np.isnan(bw) & ~np.isnan(bh)
    # each frame's boxes by descending score, ties by anchor: frame by frame, its best first
    order = np.nonzero(ok)[0]
    order = order[np.lexsort((cols[order], -score[order], rows[order]))]
    rows, score, xmin, ymin, bw, bh, kx, ky = (v[order] for v in (rows, score, xmin, ymin, bw, bh, kx, ky))
    if rows.size == 0:
        return found, boxes, keypoints
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    counts = np.diff(np.r_[starts, rows.size])
    top = np.repeat(starts, counts)
    # IoU of each box (rect1) with its frame's best (rect2), Rectangle_f semantics
    x0, y0, x1, y1 = xmin, ymin, xmin + bw, ymin + bh
    tx0, ty0, tx1, ty1 = x0[top], y0[top], x1[top], y1[top]
    overlap = ~((x1 < tx0) | (tx1 < x0) | (y1 < ty0) | (ty1 < y0))
    overlap &= ~((x0 > x1) | (y0 > y1)) & ~((tx0 > tx1) | (ty0 > ty1))
    inter = (np.minimum(x1, tx1) - np.maximum(x0, tx0)) * (np.minimum(y1, ty1) - np.maximum(y0, ty0))
    norm = (x1 - x0) * (y1 - y0) + (tx1 - tx0) * (ty1 - ty0) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(overlap & (norm > 0), inter / np.where(norm > 0, norm, f32(1)), f32(0))
    merged = iou > NMS_IOU
    # a best box with no area merges nothing, not even itself: it is kept as it is
    alone = ~merged[starts]
    # score-weighted sums over each frame's merged boxes, added one by one in score order,
    # in float32 as the C++ loop (frames side by side, padded with zeros, which add nothing)
    group = np.repeat(np.arange(starts.size), counts)[merged]
    before = np.cumsum(merged) - merged  # merged boxes ahead of each in the batch
    slot = (before - before[top])[merged]
    score = score[merged]
    columns = [score, x0[merged] * score, y0[merged] * score, x1[merged] * score, y1[merged] * score]
    columns += list((kx[merged] * score[:, None]).T) + list((ky[merged] * score[:, None]).T)
    table = np.zeros((len(columns), starts.size, int(slot.max(initial=0)) + 1), f32)
    for c, values in enumerate(columns):
        table[c, group, slot] = values
    sums = np.cumsum(table, axis=2, dtype=f32)[:, :, -1]
    total = sums[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        bx, by = sums[1] / total, sums[2] / total
        box = np.stack([bx, by, sums[3] / total - bx, sums[4] / total - by], -1).astype(f32)
        kps = np.stack([sums[5:5 + num_kp].T / total[:, None], sums[5 + num_kp:].T / total[:, None]], -1)
    box[alone] = np.stack([xmin[starts], ymin[starts], bw[starts], bh[starts]], -1)[alone]
    kps[alone] = np.stack([kx[starts], ky[starts]], -1)[alone]
    frames = rows[starts]
    found[frames] = True
    boxes[frames] = box
    keypoints[frames] = kps.astype(f32)
    return found, boxes, keypoints
