"""The matrices of MediaPipe's crops, for many crops at once, with OpenCV 4.x's arithmetic.

MediaPipe's ImageToTensorCalculator crops a rotated rect by `cv::getPerspectiveTransform`
from the rect's `cv::boxPoints` (float32) to the output corners, then
`cv::warpPerspective` inverts it (`cv::invert`, DECOMP_LU). This module does the same
float32 and float64 operations in the same order, as numpy array operations over all crops
(OpenCV 4.11's `hal::LUImpl` with partial pivoting for the 8×8 system, and its closed-form
3×3 inverse), so the matrices are bit-identical to cv2's (tested against cv2 on random and
real rects) without a Python loop per crop. OpenCV itself changed since: 4.13 solves the
system otherwise and 4.14 computes the corners otherwise, so the matrices are computed here,
never by the installed cv2, which only warps (its warp gives 4.11's bytes in 4.12 to 4.14).
"""

from __future__ import annotations

import math

import numpy as np

from . import mathf

f32 = np.float32
LU_EPSILON = np.finfo(np.float64).eps * 100  # hal::LU64f


def box_points(roi: np.ndarray) -> np.ndarray:
    """cv::boxPoints(cv::RotatedRect(centre, size, rotation*180.f/M_PI)) for rects [K, 5]
    (pixels: centre x, y, width, height, rotation in radians): float32 [K, 4, 2]."""
    cx, cy, w, h, rotation = (roi[:, i].astype(f32) for i in range(5))
    angle = ((rotation * f32(180.0)).astype(np.float64) / math.pi).astype(f32)
    radians = angle.astype(np.float64) * math.pi / 180.0
    b = mathf.cos(radians).astype(f32) * f32(0.5)
    a = mathf.sin(radians).astype(f32) * f32(0.5)
    p = np.empty((roi.shape[0], 4, 2), f32)
    p[:, 0, 0] = cx - a * h - b * w
    p[:, 0, 1] = cy + b * h - a * w
    p[:, 1, 0] = cx + a * h - b * w
    p[:, 1, 1] = cy - b * h - a * w
    p[:, 2, 0] = f32(2) * cx - p[:, 0, 0]
    p[:, 2, 1] = f32(2) * cy - p[:, 0, 1]
    p[:, 3, 0] = f32(2) * cx - p[:, 1, 0]
    p[:, 3, 1] = f32(2) * cy - p[:, 1, 1]
    return p


def perspective_transforms(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """cv::getPerspectiveTransform(src[k], dst) (DECOMP_LU) for src float32 [K, 4, 2] and
    one dst float32 [4, 2]: float64 [K, 3, 3]; like OpenCV, zeros but m22 = 1 where the
    system is singular."""
    K = src.shape[0]
    a = np.zeros((K, 8, 8))
    b = np.zeros((K, 8))
    for i in range(4):
        x, y = src[:, i, 0], src[:, i, 1]
        a[:, i, 0] = a[:, i + 4, 3] = x
        a[:, i, 1] = a[:, i + 4, 4] = y
        a[:, i, 2] = a[:, i + 4, 5] = 1.0
        a[:, i, 6] = -x * dst[i, 0]  # float32 products, as in OpenCV
        a[:, i, 7] = -y * dst[i, 0]
        a[:, i + 4, 6] = -x * dst[i, 1]
        a[:, i + 4, 7] = -y * dst[i, 1]
        b[:, i] = dst[i, 0]
        b[:, i + 4] = dst[i, 1]
    solution, solved = _lu_solve(a, b)
    m = np.zeros((K, 9))
    m[:, :8] = np.where(solved[:, None], solution, 0.0)
    m[:, 8] = 1.0
    return m.reshape(K, 3, 3)


def _lu_solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """hal::LUImpl on every system at once: a [K, m, m], b [K, m] float64 (overwritten)."""
    K, m, _ = a.shape
    rows = np.arange(K)
    solved = np.ones(K, bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for i in range(m):
            # the first row with the largest |a[j, i]| (OpenCV scans with a strict >)
            k = i + np.argmax(np.abs(a[:, i:, i]), axis=1)
            solved &= ~(np.abs(a[rows, k, i]) < LU_EPSILON)
            swap = rows[k != i]
            if swap.size:
                ks = k[swap]
                a[swap, i, i:], a[swap, ks, i:] = a[swap, ks, i:], a[swap, i, i:].copy()
                b[swap, i], b[swap, ks] = b[swap, ks], b[swap, i].copy()
            d = -1.0 / a[:, i, i]
            alpha = a[:, i + 1:, i] * d[:, None]
            a[:, i + 1:, i + 1:] += alpha[:, :, None] * a[:, i, None, i + 1:]
            b[:, i + 1:] += alpha * b[:, i, None]
        for i in range(m - 1, -1, -1):
            s = b[:, i].copy()
            for k in range(i + 1, m):  # subtracted in this order, as in OpenCV
                s -= a[:, i, k] * b[:, k]
            b[:, i] = s / a[:, i, i]
    return b, solved


def invert3(m: np.ndarray) -> np.ndarray:
    """cv::invert(m[k], DECOMP_LU) for float64 [K, 3, 3]: the closed form OpenCV uses for
    3×3 matrices; zeros where the determinant is 0."""
    s = [[m[:, r, c] for c in range(3)] for r in range(3)]
    det = (s[0][0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1])
           - s[0][1] * (s[1][0] * s[2][2] - s[1][2] * s[2][0])
           + s[0][2] * (s[1][0] * s[2][1] - s[1][1] * s[2][0]))  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = 1.0 / det
        t = np.stack([
            (s[1][1] * s[2][2] - s[1][2] * s[2][1]) * d,
            (s[0][2] * s[2][1] - s[0][1] * s[2][2]) * d,
            (s[0][1] * s[1][2] - s[0][2] * s[1][1]) * d,
            (s[1][2] * s[2][0] - s[1][0] * s[2][2]) * d,
            (s[0][0] * s[2][2] - s[0][2] * s[2][0]) * d,
            (s[0][2] * s[1][0] - s[0][0] * s[1][2]) * d,
            (s[1][0] * s[2][1] - s[1][1] * s[2][0]) * d,
            (s[0][1] * s[2][0] - s[0][0] * s[2][1]) * d,
            (s[0][0] * s[1][1] - s[0][1] * s[1][0]) * d,
        ], -1).reshape(-1, 3, 3)  # fmt: skip
    t[det == 0] = 0.0
    return t


def crop_matrices(roi: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """The dst->src matrices warpPerspective uses to crop rotated rects [K, 5] (pixels) to
    out_w×out_h: float64 [K, 3, 3] (zeros where OpenCV's inversion fails)."""
    corners = np.array([[0, out_h], [0, 0], [out_w, 0], [out_w, out_h]], f32)
    return invert3(perspective_transforms(box_points(roi), corners))
