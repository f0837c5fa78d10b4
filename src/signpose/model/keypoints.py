"""Keypoint arrays of one clip, with the layout that says what they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from signpose.model.layout import KeypointLayout


@dataclass(frozen=True)
class ClipKeypoints:
    """Keypoints of every frame of one clip.

    ``points`` ``[frames, layout.total, 3]`` float32, parts concatenated in layout order:
    image parts in normalised coordinates (x / width, y / height, z as the estimator gives
    it), world parts as they are (metres). ``confidence`` ``[frames, points]`` float32
    (for MediaPipe: visibility for body points, 1 for detected face and hand points), 0
    wherever a part was not detected (its points are 0). ``present`` ``[frames, parts]`` bool.
    """

    points: np.ndarray
    confidence: np.ndarray
    present: np.ndarray
    width: int
    height: int
    fps: float
    layout: KeypointLayout

    def __post_init__(self) -> None:
        frames, total = self.points.shape[0], self.layout.total
        if self.points.shape != (frames, total, 3) or self.confidence.shape != (frames, total):
            raise ValueError(
                f"keypoint arrays {self.points.shape} / {self.confidence.shape} do not fit the layout"
                f" ({total} points: {self.layout.describe()})"
            )
        if self.present.shape != (frames, len(self.layout.parts)):
            raise ValueError(f"present {self.present.shape} does not fit {len(self.layout.parts)} parts")

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    def part(self, name: str) -> np.ndarray:
        """``[frames, n, 3]`` coordinates of one part."""
        return self.points[:, self.layout.slices[name]]

    def part_confidence(self, name: str) -> np.ndarray:
        return self.confidence[:, self.layout.slices[name]]

    def part_present(self, name: str) -> np.ndarray:
        return self.present[:, self.layout.index(name)]

    def frames_with(self, name: str) -> int:
        return int(self.part_present(name).sum())

    def detected(self) -> dict[str, int]:
        """Frames with each part, by part name (layout order)."""
        return {name: self.frames_with(name) for name in self.layout.names}

    @classmethod
    def empty(cls, layout: KeypointLayout, fps: float) -> "ClipKeypoints":
        return cls(
            points=np.zeros((0, layout.total, 3), np.float32),
            confidence=np.zeros((0, layout.total), np.float32),
            present=np.zeros((0, len(layout.parts)), bool),
            width=0, height=0, fps=fps, layout=layout,
        )  # fmt: skip
