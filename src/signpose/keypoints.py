"""Keypoint arrays of one clip and the Holistic point layout they follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Part = Literal["pose", "face", "left_hand", "right_hand"]
PARTS: tuple[Part, ...] = ("pose", "face", "left_hand", "right_hand")

# Component names exactly as pose-format's own Holistic output spells them, so its tools
# (readers, visualizer) recognise our files.
COMPONENTS: dict[Part, str] = {
    "pose": "POSE_LANDMARKS",
    "face": "FACE_LANDMARKS",
    "left_hand": "LEFT_HAND_LANDMARKS",
    "right_hand": "RIGHT_HAND_LANDMARKS",
}

POSE_POINTS = 33
FACE_POINTS = 468
REFINED_FACE_POINTS = 478
HAND_POINTS = 21


def part_sizes(refine_face: bool) -> dict[Part, int]:
    face = REFINED_FACE_POINTS if refine_face else FACE_POINTS
    return {"pose": POSE_POINTS, "face": face, "left_hand": HAND_POINTS, "right_hand": HAND_POINTS}


def part_slices(sizes: dict[Part, int]) -> dict[Part, slice]:
    slices: dict[Part, slice] = {}
    start = 0
    for part in PARTS:
        slices[part] = slice(start, start + sizes[part])
        start += sizes[part]
    return slices


@dataclass(frozen=True)
class ClipKeypoints:
    """Holistic keypoints of every frame of one clip.

    ``points`` are MediaPipe's normalised coordinates (x / width, y / height, z as
    returned), ``[frames, points, 3]`` float32, parts concatenated in ``PARTS`` order.
    ``confidence`` is ``[frames, points]`` float32: pose visibility for body points, 1 for
    detected face and hand points, 0 wherever a part was not detected (its points are 0).
    ``present`` is ``[frames, 4]`` bool, one column per part.
    """

    points: np.ndarray
    confidence: np.ndarray
    present: np.ndarray
    width: int
    height: int
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def sizes(self) -> dict[Part, int]:
        return part_sizes(self.points.shape[1] == sum(part_sizes(True).values()))

    def part(self, name: Part) -> np.ndarray:
        """``[frames, n, 3]`` normalised coordinates of one part."""
        return self.points[:, part_slices(self.sizes)[name]]

    def part_confidence(self, name: Part) -> np.ndarray:
        return self.confidence[:, part_slices(self.sizes)[name]]

    def frames_with(self, name: Part) -> int:
        return int(self.present[:, PARTS.index(name)].sum())
