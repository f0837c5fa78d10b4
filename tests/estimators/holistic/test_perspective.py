"""The crop matrices of the graph (holistic/perspective.py) against OpenCV itself: the
corners of a rotated rect as cv::boxPoints gives them, and the matrix warpPerspective
applies (getPerspectiveTransform, then invert with DECOMP_LU), bit for bit, for every rect
at once, on rects like the graph's and on awkward ones.

The reference is OpenCV up to 4.12 (what MediaPipe 0.10.21 crops with): OpenCV 4.13 changed
getPerspectiveTransform's arithmetic and 4.14 the corners, so with a newer cv2 installed these
comparisons skip (signpose computes both itself: the installed OpenCV only warps)."""

from __future__ import annotations

import math

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from signpose.estimators.holistic import perspective  # noqa: E402

OPENCV = tuple(int(v) for v in cv2.__version__.split(".")[:2])


def needs_opencv_before(version: tuple[int, int], what: str) -> None:
    if OPENCV >= version:
        pytest.skip(f"OpenCV {cv2.__version__} changed {what} (from {version[0]}.{version[1]}); the reference is OpenCV <= 4.12, as MediaPipe 0.10.21's")

CORNERS = {(224, 224): np.array([[0, 224], [0, 0], [224, 0], [224, 224]], np.float32),
           (192, 192): np.array([[0, 192], [0, 0], [192, 0], [192, 192]], np.float32),
           (256, 128): np.array([[0, 128], [0, 0], [256, 0], [256, 128]], np.float32)}


def rects(seed: int, count: int) -> np.ndarray:
    """Rotated rects in pixels (centre, size, radians): crops of a body, a face, a hand in
    frames up to 1280 px, plus axis-aligned, quarter-turn, square, tiny and huge ones."""
    rng = np.random.default_rng(seed)
    roi = np.stack([rng.uniform(-100, 1400, count), rng.uniform(-100, 800, count),
                    rng.uniform(1, 900, count), rng.uniform(1, 900, count),
                    rng.uniform(-math.pi, math.pi, count)], -1).astype(np.float32)  # fmt: skip
    roi[0::7, 4] = 0.0
    roi[1::7, 4] = np.float32(math.pi / 2)
    roi[2::7, 4] = np.float32(-math.pi)
    roi[3::7, 3] = roi[3::7, 2]
    roi[4::7, 2:4] = rng.uniform(1e-3, 1e-1, (roi[4::7].shape[0], 2))
    roi[5::7, 2:4] = rng.uniform(1e4, 1e6, (roi[5::7].shape[0], 2))
    return roi


def opencv_corners(r: np.ndarray) -> np.ndarray:
    angle = np.float32(float(np.float32(r[4]) * np.float32(180.0)) / math.pi)  # rotation * 180.f / M_PI
    return cv2.boxPoints(((float(r[0]), float(r[1])), (float(r[2]), float(r[3])), float(angle)))


@pytest.mark.parametrize("seed", [0, 1])
def test_corners_are_opencvs(seed):
    needs_opencv_before((4, 14), "cv::RotatedRect::points")
    roi = rects(seed, 500)
    got = perspective.box_points(roi)
    want = np.stack([opencv_corners(r) for r in roi])
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("size", sorted(CORNERS))
def test_crop_matrices_are_opencvs_bit_for_bit(size):
    needs_opencv_before((4, 13), "getPerspectiveTransform")
    roi = rects(sum(size), 3000)
    got = perspective.crop_matrices(roi, *size)
    corners = perspective.box_points(roi)
    want = np.stack([cv2.invert(cv2.getPerspectiveTransform(c, CORNERS[size]), flags=cv2.DECOMP_LU)[1]
                     for c in corners])  # fmt: skip
    assert got.dtype == np.float64 and got.shape == want.shape
    mismatched = np.nonzero(~(got == want).all((1, 2)))[0]
    assert mismatched.size == 0, f"{mismatched.size} of {len(roi)} differ, e.g. {roi[mismatched[:3]]}"


def test_one_rect_alone_or_among_others_gives_the_same_bits():
    roi = rects(7, 64)
    together = perspective.crop_matrices(roi, 224, 224)
    alone = np.concatenate([perspective.crop_matrices(roi[i:i + 1], 224, 224) for i in range(len(roi))])
    assert together.tobytes() == alone.tobytes()


def test_degenerate_rects_give_what_opencv_gives():
    """All four corners on one point or one line: OpenCV's solve fails (m22 = 1, the rest
    0), its inverse fails too, and the matrix is all zeros."""
    needs_opencv_before((4, 13), "getPerspectiveTransform")
    roi = np.array([[5, 5, 0, 0, 0], [5, 5, 0, 3, 0], [10, 20, 1e-30, 1e-30, 0.3]], np.float32)
    got = perspective.crop_matrices(roi, 224, 224)
    for corners, matrix in zip(perspective.box_points(roi), got):
        want = cv2.invert(cv2.getPerspectiveTransform(corners, CORNERS[(224, 224)]), flags=cv2.DECOMP_LU)[1]
        assert matrix.tobytes() == want.tobytes()
    assert not got.any()
