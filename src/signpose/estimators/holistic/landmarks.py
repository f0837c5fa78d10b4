"""What the batched Holistic gives: every part's landmarks for a batch of frames as arrays
(`Landmarks`), and per frame (`HolisticResult`, for callers that want MediaPipe's shape)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# part -> (landmarks, values per landmark): x/W, y/H, z (+ visibility for the body);
# pose_world in metres
PART_SHAPES = {"pose": (33, 4), "pose_world": (33, 4), "face": (468, 3),
               "left_hand": (21, 3), "right_hand": (21, 3)}  # fmt: skip


@dataclass
class HolisticResult:
    """One frame's arrays (float32), None where MediaPipe gives no landmarks."""

    pose: np.ndarray | None  # [33, 4] x/W, y/H, z, visibility
    pose_world: np.ndarray | None  # [33, 4] metres x, y, z, visibility
    face: np.ndarray | None  # [468, 3]
    left_hand: np.ndarray | None  # [21, 3]
    right_hand: np.ndarray | None  # [21, 3]


@dataclass(frozen=True)
class Landmarks:
    """Landmarks of N frames: ``points[part]`` float32 [N, *PART_SHAPES[part]] (zeros where
    the part is absent) and ``present[part]`` bool [N]. The stages fill them in place."""

    points: dict[str, np.ndarray]
    present: dict[str, np.ndarray]

    @classmethod
    def absent(cls, frames: int) -> "Landmarks":
        return cls(
            points={part: np.zeros((frames, *shape), np.float32) for part, shape in PART_SHAPES.items()},
            present={part: np.zeros(frames, bool) for part in PART_SHAPES},
        )  # fmt: skip

    @classmethod
    def concat(cls, batches: list["Landmarks"]) -> "Landmarks":
        if not batches:
            return cls.absent(0)
        return cls(
            points={part: np.concatenate([b.points[part] for b in batches]) for part in PART_SHAPES},
            present={part: np.concatenate([b.present[part] for b in batches]) for part in PART_SHAPES},
        )  # fmt: skip

    def put(self, part: str, frames: np.ndarray, values: np.ndarray) -> None:
        """``values`` [len(frames), n, c] are the landmarks of ``part`` found in ``frames``."""
        self.points[part][frames] = values
        self.present[part][frames] = True

    @property
    def frames(self) -> int:
        return int(self.present["pose"].shape[0])

    def results(self) -> list[HolisticResult]:
        """Per frame, as MediaPipe gives them (copies)."""
        parts = {part: [values[i].copy() if self.present[part][i] else None for i in range(self.frames)]
                 for part, values in self.points.items()}  # fmt: skip
        return [HolisticResult(**{part: parts[part][i] for part in PART_SHAPES}) for i in range(self.frames)]


def to_arrays(results: list[HolisticResult]) -> dict[str, np.ndarray]:
    """Stack per-frame results: for each part a float32 [N, n, c] array (NaN where absent) and
    a bool [N] array `<part>_present`."""
    out: dict[str, np.ndarray] = {}
    n = len(results)
    for part, shape in PART_SHAPES.items():
        arr = np.full((n,) + shape, np.nan, np.float32)
        present = np.zeros(n, bool)
        for i, r in enumerate(results):
            v = getattr(r, part)
            if v is not None:
                arr[i] = v
                present[i] = True
        out[part] = arr
        out[part + "_present"] = present
    return out
