"""The float32 functions of MediaPipe's C++ (``std::exp``, ``std::cos``, ``std::sin``,
``std::atan2`` on floats: the C library's ``expf``, ``cosf``, ``sinf``, ``atan2f``), and the
double ``cos`` and ``sin`` of OpenCV's rotated rects, over arrays.

numpy's own float32 functions are vectorised approximations that differ from the C library's
in the last bit on a large share of inputs, and one bit in a detection score or a rect's
rotation moves a crop. So these call the C library
that MediaPipe calls: ``cosf``, ``sinf`` and ``atan2f`` element by element (a few per crop),
and ``expf`` (thousands per frame: scores, heatmaps) through float64 ``exp``, which rounds to
the same float as the C library's ``expf`` (within 0.502 ulp of exact) everywhere but near
the middle between two floats: there, and outside the normal range, the C library is asked.
Results then depend on the C library, as MediaPipe's do, and not on numpy's version.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import numpy as np

f32 = np.float32
# float64 -> float32 drops 29 bits: where they lie within this share of an ulp of the
# midpoint, rounding the float64 value may differ from the C library's expf
_MIDPOINT_MARGIN = 0.02
_LOW_BITS = (1 << 29) - 1
_HALF = 1 << 28
_NEAR = int(_MIDPOINT_MARGIN * (1 << 29))


@cache
def _libm() -> ctypes.CDLL:
    name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    lib = ctypes.CDLL(name)
    for unary in ("expf", "cosf", "sinf"):
        function = getattr(lib, unary)
        function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    lib.atan2f.restype, lib.atan2f.argtypes = ctypes.c_float, [ctypes.c_float, ctypes.c_float]
    for unary in ("cos", "sin"):
        function = getattr(lib, unary)
        function.restype, function.argtypes = ctypes.c_double, [ctypes.c_double]
    return lib


def _each(function, *arrays: np.ndarray, dtype=f32) -> np.ndarray:
    args = np.broadcast_arrays(*(np.asarray(a, dtype) for a in arrays))
    out = np.empty(args[0].shape, dtype)
    flat = [a.ravel().tolist() for a in args]
    out.ravel()[:] = [function(*values) for values in zip(*flat)]
    return out


def cosf(x: np.ndarray) -> np.ndarray:
    return _each(_libm().cosf, x)


def sinf(x: np.ndarray) -> np.ndarray:
    return _each(_libm().sinf, x)


def cos(x: np.ndarray) -> np.ndarray:
    """The C library's double ``cos`` (OpenCV's ``RotatedRect::points`` calls it)."""
    return _each(_libm().cos, x, dtype=np.float64)


def sin(x: np.ndarray) -> np.ndarray:
    return _each(_libm().sin, x, dtype=np.float64)


def atan2f(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _each(_libm().atan2f, y, x)


def expf(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, f32)
    wide = np.exp(x.astype(np.float64))
    with np.errstate(over="ignore"):  # beyond float32: inf, as expf gives
        out = wide.astype(f32)
    bits = wide.view(np.int64) & _LOW_BITS
    odd = (np.abs(bits - _HALF) < _NEAR) | ~(np.abs(wide) >= 2.0**-126) | ~(wide < 3.0e38)
    if odd.any():
        out[odd] = _each(_libm().expf, x[odd])
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1.0f / (1.0f + std::exp(-x))``, MediaPipe's sigmoid."""
    return f32(1) / (f32(1) + expf(-np.asarray(x, f32)))
