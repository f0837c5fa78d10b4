"""The graph's float32 functions are the C library's (what MediaPipe's C++ calls), bit for
bit, on many inputs: expf through float64 with its fallback, cosf, sinf, atan2f."""

from __future__ import annotations

import numpy as np

from signpose.estimators.holistic import mathf


def _libm(name, *arrays):
    return mathf._each(getattr(mathf._libm(), name), *arrays)


def test_expf_is_the_c_library_s_everywhere() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-20, 20, 100_000), rng.uniform(-104, 89, 50_000), [0, -0.0, 88.72, 88.73, -87.3, -103.9, -150, 100]]).astype(np.float32)
    assert mathf.expf(x).tobytes() == _libm("expf", x).tobytes()
    assert mathf.sigmoid(x).tobytes() == (np.float32(1) / (np.float32(1) + _libm("expf", -x))).tobytes()


def test_rotations_are_the_c_library_s() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(-7, 7, 2000).astype(np.float32)
    y, x = rng.uniform(-300, 300, (2, 2000)).astype(np.float32)
    assert mathf.cosf(a).tobytes() == np.array([mathf._libm().cosf(float(v)) for v in a], np.float32).tobytes()
    assert mathf.sinf(a).tobytes() == np.array([mathf._libm().sinf(float(v)) for v in a], np.float32).tobytes()
    assert mathf.atan2f(y, x).tobytes() == np.array([mathf._libm().atan2f(float(p), float(q)) for p, q in zip(y, x)], np.float32).tobytes()
    assert mathf.cosf(a.reshape(40, 50)).shape == (40, 50)
