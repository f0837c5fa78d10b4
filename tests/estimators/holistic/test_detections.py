"""Detection decoding of the graph (holistic/detections.py) for a whole batch against the
plain one-frame-at-a-time reading of MediaPipe's TensorsToDetections + weighted NMS below:
the same bits for every frame, whatever else is in the batch, on the cases that make
NMS awkward (no box passing, tied scores, boxes without area, NaN, negative sizes)."""

from __future__ import annotations

import numpy as np
import pytest


from signpose.estimators.holistic.detections import first_detections, ssd_anchors
from signpose.estimators.holistic.mathf import sigmoid

f32 = np.float32
POSE_ANCHORS = ssd_anchors(224, [8, 16, 32, 32, 32])
FACE_ANCHORS = ssd_anchors(128, [8, 16, 16, 16])


def one_frame(raw_boxes, raw_scores, anchors, scale, num_kp, min_score):
    """The first detection of one frame, step by step as the C++ does it, or None."""
    s = f32(scale)
    ax, ay = anchors[:, 0], anchors[:, 1]
    r = raw_boxes.astype(f32)
    xc, yc = r[:, 0] / s * f32(1.0) + ax, r[:, 1] / s * f32(1.0) + ay
    w, h = r[:, 2] / s * f32(1.0), r[:, 3] / s * f32(1.0)
    xmin, ymin, xmax, ymax = xc - w / f32(2), yc - h / f32(2), xc + w / f32(2), yc + h / f32(2)
    kx = r[:, 4:4 + 2 * num_kp:2] / s * f32(1.0) + ax[:, None]
    ky = r[:, 5:5 + 2 * num_kp:2] / s * f32(1.0) + ay[:, None]
    with np.errstate(over="ignore"):
        sc = sigmoid(np.clip(raw_scores.astype(f32), f32(-100), f32(100)))
    bw, bh = xmax - xmin, ymax - ymin
    kept = np.nonzero((sc >= f32(min_score)) & ~(bw < 0) & ~(bh < 0) & ~np.isnan(bw) & ~np.isnan(bh))[0]
    if kept.size == 0:
        return None
    order = kept[np.argsort(-sc[kept], kind="stable")]
    top = order[0]
    merged = []
    for i in order:
        x0, y0, x1, y1 = xmin[i], ymin[i], xmin[i] + bw[i], ymin[i] + bh[i]
        t0, u0, t1, u1 = xmin[top], ymin[top], xmin[top] + bw[top], ymin[top] + bh[top]
        if (x1 < t0) or (t1 < x0) or (y1 < u0) or (u1 < y0) or x0 > x1 or y0 > y1 or t0 > t1 or u0 > u1:
            continue
        inter = (min(x1, t1) - max(x0, t0)) * (min(y1, u1) - max(y0, u0))
        norm = (x1 - x0) * (y1 - y0) + (t1 - t0) * (u1 - u0) - inter
        if norm > 0 and inter / norm > f32(0.3):
            merged.append(i)
    if not merged:
        return np.array([xmin[top], ymin[top], bw[top], bh[top]], f32), np.stack([kx[top], ky[top]], -1)
    total = sx0 = sy0 = sx1 = sy1 = f32(0)
    skx, sky = np.zeros(num_kp, f32), np.zeros(num_kp, f32)
    for i in merged:  # one by one, in score order
        c = sc[i]
        total, sx0, sy0 = total + c, sx0 + xmin[i] * c, sy0 + ymin[i] * c
        sx1, sy1 = sx1 + (xmin[i] + bw[i]) * c, sy1 + (ymin[i] + bh[i]) * c
        skx, sky = skx + kx[i] * c, sky + ky[i] * c
    bx, by = sx0 / total, sy0 / total
    return np.array([bx, by, sx1 / total - bx, sy1 / total - by], f32), np.stack([skx / total, sky / total], -1)


def awkward_batch(anchors, num_kp, frames, seed):
    rng = np.random.default_rng(seed)
    A, C = anchors.shape[0], 4 + 2 * num_kp
    boxes = rng.normal(0, 8, (frames, A, C)).astype(f32)
    boxes[:, :, 2:4] += 40
    scores = rng.normal(-6, 2, (frames, A)).astype(f32)
    person = rng.integers(0, A, frames)
    for k in range(frames):  # a cluster of overlapping confident boxes around one anchor
        near = np.clip(person[k] + np.arange(-6, 7), 0, A - 1)
        scores[k, near] = rng.uniform(0, 4, near.size)
    scores[0] = -50  # nothing passes
    scores[1, :40] = 3.0  # tied scores
    scores[2, :10] = 500.0  # tied after clipping at 100
    boxes[3, :, 2] = 0.0  # no area anywhere
    boxes[4, ::3, 3] = np.nan
    boxes[5, :, 2] = -10.0  # negative widths: dropped
    return boxes, scores


@pytest.mark.parametrize("anchors,scale,num_kp", [(POSE_ANCHORS, 224.0, 4), (FACE_ANCHORS, 128.0, 6)])
def test_batch_gives_each_frame_what_it_gives_alone(anchors, scale, num_kp):
    boxes, scores = awkward_batch(anchors, num_kp, 40, seed=num_kp)
    with np.errstate(invalid="ignore", over="ignore"):
        found, got_boxes, got_kps = first_detections(boxes, scores, anchors, scale, num_kp, 0.5)
        for k in range(len(boxes)):
            want = one_frame(boxes[k], scores[k], anchors, scale, num_kp, 0.5)
            assert found[k] == (want is not None), k
            if want is not None:
                assert got_boxes[k].tobytes() == want[0].tobytes(), k
                assert got_kps[k].tobytes() == want[1].astype(f32).tobytes(), k
    assert not found[0] and not found[5] and found[1:4].all() and found.sum() > 30


def test_a_frame_does_not_depend_on_its_batch():
    boxes, scores = awkward_batch(POSE_ANCHORS, 4, 12, seed=3)
    together = first_detections(boxes, scores, POSE_ANCHORS, 224.0, 4, 0.5)
    order = np.arange(12)[::-1]
    shuffled = first_detections(boxes[order], scores[order], POSE_ANCHORS, 224.0, 4, 0.5)
    for a, b in zip(together, shuffled):
        assert a.tobytes() == b[order].tobytes()


def test_anchors_are_mediapipes_counts():
    assert POSE_ANCHORS.shape == (2254, 2) and FACE_ANCHORS.shape == (896, 2)
