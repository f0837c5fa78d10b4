"""What the keypoint arrays mean: parts, their points, limbs and colours.

A ``KeypointLayout`` travels with the data: an estimator declares it, ``ClipKeypoints``
carries it, the ``.pose`` header is written from it and read back into it, and stats,
export, verify, render and report iterate its parts. Nothing guesses a layout from a
point count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

Space = Literal["image", "world"]
Colour = tuple[int, int, int]

# Part names for pose-format's own component names (its Holistic and OpenPose outputs);
# a component not listed keeps its name, lower-cased.
KNOWN_COMPONENTS: dict[str, str] = {
    "POSE_LANDMARKS": "pose",
    "FACE_LANDMARKS": "face",
    "LEFT_HAND_LANDMARKS": "left_hand",
    "RIGHT_HAND_LANDMARKS": "right_hand",
    "POSE_WORLD_LANDMARKS": "pose_world",
}
# Components whose coordinates are not image positions (metres around the hips).
WORLD_COMPONENTS = frozenset({"POSE_WORLD_LANDMARKS"})


@dataclass(frozen=True)
class PartLayout:
    """One part: ``points`` names its points in order; ``limbs`` are pairs of point indices;
    ``colours`` as pose-format stores them (one per limb, or one for all). ``space`` says
    whether coordinates are image positions (normalised x / width, y / height) or world
    coordinates (metres), which are never scaled by the image size in memory."""

    name: str
    component: str
    points: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...] = ()
    colours: tuple[Colour, ...] = ((255, 255, 255),)
    space: Space = "image"

    @property
    def size(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class KeypointLayout:
    """Parts in the order their points are concatenated in every array."""

    parts: tuple[PartLayout, ...]

    def __post_init__(self) -> None:
        names = [part.name for part in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"layout has repeated part names: {names}")

    def __iter__(self) -> Iterator[PartLayout]:
        return iter(self.parts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(part.name for part in self.parts)

    @property
    def total(self) -> int:
        return sum(part.size for part in self.parts)

    @cached_property
    def slices(self) -> dict[str, slice]:
        slices: dict[str, slice] = {}
        start = 0
        for part in self.parts:
            slices[part.name] = slice(start, start + part.size)
            start += part.size
        return slices

    def part(self, name: str) -> PartLayout:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"no part {name!r} in this layout (it has {list(self.names)})")

    def index(self, name: str) -> int:
        return self.names.index(name)

    def without(self, *names: str) -> "KeypointLayout":
        return KeypointLayout(tuple(part for part in self.parts if part.name not in names))

    def describe(self) -> str:
        return ", ".join(f"{part.component} ({part.size})" for part in self.parts)


def part_name(component: str) -> str:
    return KNOWN_COMPONENTS.get(component, component.lower())
