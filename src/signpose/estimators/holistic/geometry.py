"""MediaPipe's rect and landmark arithmetic, vectorised, in float32 like the C++.

A rect is a float32 array [..., 5]: x_center, y_center, width, height (image-normalised) and
rotation (radians). Image sizes are per item (W, H as float32 arrays).
"""

from __future__ import annotations

import math

import numpy as np

from .mathf import atan2f, cosf, sigmoid, sinf

f32 = np.float32


def normalize_radians(a):
    a64 = np.asarray(a, np.float64)
    return (a64 - 2 * math.pi * np.floor((a64 - (-math.pi)) / (2 * math.pi))).astype(f32)


def target_angle(degrees: float) -> np.float32:
    return f32(math.pi * float(f32(degrees)) / float(f32(180.0)))


def pad_roi(roi_px: np.ndarray, out_w: int, out_h: int, keep_aspect: bool):
    """PadRoi: roi_px [K, 5] pixels → (padded roi [K, 5], padding [K, 4] l, t, r, b)."""
    roi = roi_px.astype(f32).copy()
    K = roi.shape[0]
    pad = np.zeros((K, 4), f32)
    if not keep_aspect:
        return roi, pad
    ta = f32(out_h) / f32(out_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ra = roi[:, 3] / roi[:, 2]
        return _pad(roi, pad, ta, ra)


def _pad(roi, pad, ta, ra):
    vert = ta > ra
    new_w = np.where(vert, roi[:, 2], roi[:, 3] / ta)
    new_h = np.where(vert, roi[:, 2] * ta, roi[:, 3])
    vp = np.where(vert, (f32(1) - ra / ta) / f32(2), f32(0))
    hp = np.where(vert, f32(0), (f32(1) - ta / ra) / f32(2))
    roi[:, 2] = new_w
    roi[:, 3] = new_h
    pad[:, 0] = hp
    pad[:, 1] = vp
    pad[:, 2] = hp
    pad[:, 3] = vp
    return roi, pad


def rect_to_px(rect: np.ndarray, W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """GetRoi: normalised rect → pixel rotated rect."""
    out = rect.astype(f32).copy()
    out[:, 0] = rect[:, 0] * W
    out[:, 1] = rect[:, 1] * H
    out[:, 2] = rect[:, 2] * W
    out[:, 3] = rect[:, 3] * H
    return out


def transform_rect(rect, W, H, scale_x, scale_y, shift_x=0.0, shift_y=0.0,
                   square_long=True):
    """RectTransformationCalculator::TransformNormalizedRect (no extra rotation)."""
    r = rect.astype(f32).copy()
    width, height, rot = r[:, 2].copy(), r[:, 3].copy(), r[:, 4]
    sx, sy = f32(shift_x), f32(shift_y)
    zero = rot == f32(0)
    c, s = cosf(rot), sinf(rot)
    xs_rot = (W * width * sx * c - H * height * sy * s) / W
    ys_rot = (W * width * sx * s + H * height * sy * c) / H
    r[:, 0] = np.where(zero, r[:, 0] + width * sx, r[:, 0] + xs_rot)
    r[:, 1] = np.where(zero, r[:, 1] + height * sy, r[:, 1] + ys_rot)
    if square_long:
        long_side = np.maximum(width * W, height * H)
        width = long_side / W
        height = long_side / H
    r[:, 2] = width * f32(scale_x)
    r[:, 3] = height * f32(scale_y)
    return r


def rotation_from(x0, y0, x1, y1, W, H, target):
    """DetectionsToRectsCalculator::ComputeRotation on normalised keypoints."""
    px0, py0, px1, py1 = x0 * W, y0 * H, x1 * W, y1 * H
    return normalize_radians(f32(target) - atan2f(-(py1 - py0), px1 - px0))


def alignment_rect(x0, y0, x1, y1, W, H, target):
    """AlignmentPointsRectsCalculator: centre = point 0, size = 2 |p1 - p0| (pixels)."""
    xc, yc = x0 * W, y0 * H
    xs, ys = x1 * W, y1 * H
    box = (np.sqrt((xs - xc) * (xs - xc) + (ys - yc) * (ys - yc)).astype(np.float64) * 2.0).astype(f32)
    rot = rotation_from(x0, y0, x1, y1, W, H, target)
    return np.stack([xc / W, yc / H, box / W, box / H, rot], -1).astype(f32)


def landmarks_bbox_rect(x: np.ndarray, y: np.ndarray):
    """LandmarksToDetection + RectFromBox: x, y [K, n] → centre, size [K] each."""
    xmin, xmax = x.min(1), x.max(1)
    ymin, ymax = y.min(1), y.max(1)
    w = xmax - xmin
    h = ymax - ymin
    return xmin + w / f32(2), ymin + h / f32(2), w, h


def remove_letterbox(x, y, z, pad):
    """LandmarkLetterboxRemovalCalculator; pad [K, 4] broadcast over landmarks [K, n]."""
    left, top = pad[:, 0:1], pad[:, 1:2]
    lr = pad[:, 0:1] + pad[:, 2:3]
    tb = pad[:, 1:2] + pad[:, 3:4]
    return (x - left) / (f32(1) - lr), (y - top) / (f32(1) - tb), z / (f32(1) - lr)


def project(x, y, z, rect):
    """LandmarkProjectionCalculator with a NORM_RECT: rect [K, 5], landmarks [K, n]."""
    xc, yc = x - f32(0.5), y - f32(0.5)
    a = rect[:, 4:5]
    c, s = cosf(a), sinf(a)
    nx = c * xc - s * yc
    ny = s * xc + c * yc
    nx = nx * rect[:, 2:3] + rect[:, 0:1]
    ny = ny * rect[:, 3:4] + rect[:, 1:2]
    return nx, ny, z * rect[:, 2:3]


def subrect_matrix(roi_px: np.ndarray, W, H) -> np.ndarray:
    """GetRotatedSubRectToRectTransformMatrix (no flip): entries m0, m1, m3, m4, m5, m7 [K, 6]."""
    a, b = roi_px[:, 2], roi_px[:, 3]
    c, d = cosf(roi_px[:, 4]), sinf(roi_px[:, 4])
    e, f = roi_px[:, 0], roi_px[:, 1]
    g = f32(1) / W
    h = f32(1) / H
    one, half = f32(1), f32(0.5)
    m0 = a * c * one * g
    m1 = -b * d * g
    m3 = (-half * a * c * one + half * b * d + e) * g
    m4 = a * d * one * h
    m5 = b * c * h
    m7 = (-half * b * c - half * a * d * one + f) * h
    return np.stack([m0, m1, m3, m4, m5, m7], -1).astype(f32)


def refine_from_windows(x, y, windows, hh: int, hw: int, kernel: int, min_conf=0.5):
    """RefineLandmarksFromHeatmapCalculator on [K, n] landmarks, given the raw heatmap values
    of each landmark's kernel×kernel window [K, n, kernel, kernel] (stages.heatmap_windows)
    of heatmaps hh×hw."""
    x, y = x.copy(), y.copy()
    off = (kernel - 1) // 2
    col = np.trunc(x * f32(hw)).astype(np.int64)
    row = np.trunc(y * f32(hh)).astype(np.int64)
    inside = (col >= 0) & (col < hw) & (row >= 0) & (row < hh)
    d = np.arange(-off, off + 1)
    cc = col[..., None] + d  # [K, n, k]
    rr = row[..., None] + d
    vc = (cc >= 0) & (cc < hw)
    vr = (rr >= 0) & (rr < hh)
    conf = sigmoid(windows)
    valid = vr[:, :, :, None] & vc[:, :, None, :]
    conf = np.where(valid, conf, f32(0)).astype(f32)
    K, n = x.shape
    kk = kernel * kernel
    cflat = conf.reshape(K, n, kk)
    # sequential float32 sums in row-major window order, like the C++ loop
    total = np.cumsum(cflat, axis=-1, dtype=f32)[..., -1]
    wcol = np.cumsum((np.broadcast_to(cc[:, :, None, :], conf.shape).astype(f32) * conf)
                     .reshape(K, n, kk), axis=-1, dtype=f32)[..., -1]
    wrow = np.cumsum((np.broadcast_to(rr[:, :, :, None], conf.shape).astype(f32) * conf)
                     .reshape(K, n, kk), axis=-1, dtype=f32)[..., -1]
    mx = cflat.max(-1)
    ok = inside & (mx >= f32(min_conf)) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        nx = wcol / f32(hw) / total
        ny = wrow / f32(hh) / total
    x = np.where(ok, nx, x).astype(f32)
    y = np.where(ok, ny, y).astype(f32)
    return x, y
