"""Where the tests find real data: the copies shipped in ``tests/data`` first (files whose
licences allow redistribution, see tests/data/README.md), else ``../shared/testdata``
(research-use data that is never copied into the repo: the PHOENIX annotations and the
AUTSL clip), else the test skips, naming what is missing.

``SIGNPOSE_SHARED_TESTDATA`` overrides where the shared folder is looked for (point it at a
folder that does not exist to see what a fresh clone runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "tests" / "data"
SHARED = Path(os.environ.get("SIGNPOSE_SHARED_TESTDATA") or REPO.parent / "shared" / "testdata").resolve()
RESEARCH_USE = (("phoenix",), ("signing", "autsl"))  # never copied into tests/data


def locate(*parts: str) -> Path:
    """The shipped copy of ``parts`` if there is one, else its place in the shared folder
    (which may not exist either: use ``testdata`` to skip when it does not)."""
    shipped = SHIPPED.joinpath(*parts)
    return shipped if shipped.exists() else SHARED.joinpath(*parts)


def testdata(*parts: str) -> Path:
    """``locate(*parts)``, or skip the calling test naming the missing path."""
    path = locate(*parts)
    if not path.exists():
        if any(parts[: len(prefix)] == prefix for prefix in RESEARCH_USE):
            why = "research-use data, never shipped in tests/data: only in ../shared/testdata"
        else:
            why = "missing from tests/data, which should ship it, and from ../shared/testdata"
        reason = f"needs {path} ({why}; see tests/data/README.md)"
        try:  # report the test's own line, as a skip in a fixture is, rather than this one
            raise pytest.skip.Exception(reason, _use_item_location=True)
        except TypeError:  # a pytest without that keyword
            pytest.skip(reason)
    return path


testdata.__test__ = False  # a helper, not a test, in the test modules that import it


def signing_frames(name: str = "slp_site_asl_different.mp4", *, size: tuple[int, int] | None = (210, 260),
                   first: int = 0, count: int | None = None, step: int = 1):
    """Real signing frames of a shipped video, RGB uint8, resized to ``size`` (width,
    height; PHOENIX's 210x260 by default, None keeps them): ``count`` frames (None: to the
    end) from ``first``, every ``step``-th. Skips the calling test if the video is missing.
    (For PNGs written with cv2.imwrite, reverse the channels: ``frame[..., ::-1]``.)"""
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(str(testdata("signing", name)))
    frames, index = [], 0
    try:
        while count is None or len(frames) < count:
            ok, bgr = capture.read()
            if not ok:
                break
            if index >= first and (index - first) % step == 0:
                image = cv2.resize(bgr, size) if size is not None else bgr
                frames.append(np.ascontiguousarray(image[..., ::-1]))
            index += 1
    finally:
        capture.release()
    assert frames and (count is None or len(frames) == count), f"{name}: {len(frames)} frames decoded"
    return frames
