"""MediaPipe's own keypoints for the shipped real frames, kept in the repository so the
fidelity tests run where mediapipe cannot be installed (Python 3.13+, numpy 2).

Made once with mediapipe 0.10.21, a fresh Holistic graph per frame (``--estimator
mediapipe --mode frame``, the state-free reference), on every frame of the shipped sources
(tests/data: the four signing clips, MediaPipe's oracle images and videos), decoded as
signpose decodes them; each file also keeps the sha256 of every decoded frame, so a decoder
that gives other pixels is caught instead of compared. Remake them (where mediapipe runs):

    .venv/bin/python -m tests.estimators.references
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata

import numpy as np

from signpose.estimators.holistic.layout import holistic_layout
from signpose.model.keypoints import ClipKeypoints
from tests.estimators.faithful import Source, available_sources
from tests.testdata import SHIPPED

FOLDER = SHIPPED / "mediapipe_frame_mode"
SHIPPED_GROUPS = ("signing", "oracle")  # the research-use sources are never stored


def path_of(source: Source):
    return FOLDER / f"{source.name}.npz"


def frame_digests(frames: list[np.ndarray]) -> np.ndarray:
    return np.array([hashlib.sha256(frame.tobytes()).hexdigest() for frame in frames])


def stored(source: Source, frames: list[np.ndarray], fps: float) -> ClipKeypoints | None:
    """The stored reference of ``source`` (None if there is none); AssertionError if
    ``frames`` are not the pixels it was made from."""
    path = path_of(source)
    if not path.is_file():
        return None
    with np.load(path) as data:
        digests = frame_digests(frames)
        assert digests.shape == data["frame_sha256"].shape and (digests == data["frame_sha256"]).all(), (
            f"{source.name}: the frames decode to other pixels than the reference was made from"
            f" ({int((digests != data['frame_sha256']).sum()) if digests.shape == data['frame_sha256'].shape else 'another count of'} frames differ)")
        return ClipKeypoints(data["points"], data["confidence"], data["present"], int(data["width"]), int(data["height"]),
                             fps, holistic_layout())  # fmt: skip


def main() -> int:
    from signpose.estimators import EstimatorSpec, make_estimator

    reference = make_estimator(EstimatorSpec.of("mediapipe", {"mode": "frame"}))
    FOLDER.mkdir(parents=True, exist_ok=True)
    for source in available_sources():
        if source.group not in SHIPPED_GROUPS:
            continue
        frames, fps = source.frames()
        clip = reference.estimate_clip(frames, fps)
        np.savez_compressed(path_of(source), points=clip.points, confidence=clip.confidence, present=clip.present,
                            width=clip.width, height=clip.height, frame_sha256=frame_digests(frames),
                            mediapipe=metadata.version("mediapipe"))  # fmt: skip
        print(f"{path_of(source).relative_to(SHIPPED.parent.parent)}: {len(frames)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
