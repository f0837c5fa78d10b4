"""A second estimator, written only for the tests, with a layout of its own (two parts of
5 and 7 points): it proves the seam is real. Keypoints are cheap functions of the pixels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from signpose.errors import EstimatorError
from signpose.estimators.base import EstimatorBase, Hints
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout, PartLayout

LAYOUT = KeypointLayout(
    (
        PartLayout("star", "STAR", tuple(f"S{i}" for i in range(5)), ((0, 1), (1, 2), (2, 3), (3, 4)), ((250, 60, 60),)),
        PartLayout("comet", "COMET", tuple(f"C{i}" for i in range(7)), ((0, 6),), ((60, 60, 250),)),
    )
)


class ToyEstimator(EstimatorBase):
    """``star``: five points spread from the image's brightest column; ``comet``: present
    only on frames brighter than ``threshold`` (mean pixel value)."""

    def __init__(self, *, threshold: float = 100.0) -> None:
        self.threshold = threshold
        self.layout = LAYOUT
        self.closed = False

    def provenance(self) -> dict[str, Any]:
        return {"toy_version": "1"}

    def close(self) -> None:
        self.closed = True

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints:
        points, confidence, present = [], [], []
        width = height = 0
        for image in frames:
            frame_points = np.zeros((LAYOUT.total, 3), np.float32)
            frame_confidence = np.zeros(LAYOUT.total, np.float32)
            frame_present = np.zeros(2, bool)
            if image is not None:
                height, width = image.shape[:2]
                column = float(np.argmax(image.mean(axis=(0, 2)))) / width
                mean = float(image.mean())
                frame_points[:5, 0] = column
                frame_points[:5, 1] = np.linspace(0.1, 0.9, 5)
                frame_confidence[:5] = 1.0
                frame_present[0] = True
                if mean > self.threshold:
                    frame_points[5:, 0] = np.linspace(0.2, 0.8, 7)
                    frame_points[5:, 1] = mean / 255
                    frame_points[5:, 2] = -0.5
                    frame_confidence[5:] = 0.75
                    frame_present[1] = True
            points.append(frame_points)
            confidence.append(frame_confidence)
            present.append(frame_present)
        if not points:
            return ClipKeypoints.empty(LAYOUT, fps)
        return ClipKeypoints(np.stack(points), np.stack(confidence), np.stack(present), width, height, fps, LAYOUT)


class BatchingToyEstimator(ToyEstimator):
    """The toy estimator with ``estimate_clips`` (several clips in one batch, as the torch
    estimator on a GPU), which fails a whole batch holding a frame ``poison`` pixels wide;
    ``batches`` records the size of every batch it was given."""

    hints = Hints(clips_ahead=3, reads_whole_clips=True, batches_clips=True)

    def __init__(self, *, threshold: float = 100.0, poison: int = 13) -> None:
        super().__init__(threshold=threshold)
        self.poison = poison
        self.batches: list[int] = []

    def estimate_clips(self, clips):
        self.batches.append(len(clips))
        if any(image is not None and image.shape[1] == self.poison for frames, _ in clips for image in frames):
            raise ValueError(f"a frame {self.poison} pixels wide")
        return [self.estimate_clip(frames, fps) for frames, fps in clips]


class ModelMissingToyEstimator(ToyEstimator):
    """The toy estimator as on a worker where its model file is missing: built (and asked for
    its provenance) fine, it cannot estimate anything."""

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints:
        raise EstimatorError("/nowhere/toy.tflite: model file missing or unreadable (No such file or directory); reinstall signpose")
