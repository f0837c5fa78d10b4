"""The layout of pose-format's own Holistic files (``pose_format.utils.holistic.holistic_components``):
component names, point names, limbs and colours, kept in ``layout.json`` so that neither
pose-format's Holistic module nor mediapipe (which it imports) is needed to write
byte-identical headers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from signpose.model.layout import KeypointLayout, PartLayout, part_name

WORLD = "pose_world"  # the body's world landmarks (metres)
IRIS_POINTS = 10  # --refine-face: 478 face points


@cache
def _components() -> dict:
    return json.loads((Path(__file__).resolve().parent / "layout.json").read_text())


@cache
def holistic_layout(*, refine_face: bool = False, world_landmarks: bool = True) -> KeypointLayout:
    """The 576 points (body, face, hands, body world), 586 with the irises; without world
    landmarks 543 (or 553) points."""
    data = _components()
    parts = []
    for component in data["components"]:
        points, limbs = component["points"], component["limbs"]
        if component["name"] == "FACE_LANDMARKS" and refine_face:
            points = [str(i) for i in range(len(points) + IRIS_POINTS)]
            limbs = limbs + data["face_irises"]
        parts.append(
            PartLayout(
                name=part_name(component["name"]),
                component=component["name"],
                points=tuple(points),
                limbs=tuple((int(a), int(b)) for a, b in limbs),
                colours=tuple(tuple(int(v) for v in colour) for colour in component["colors"]),
                space="world" if component["name"] == "POSE_WORLD_LANDMARKS" else "image",
            )
        )
    layout = KeypointLayout(tuple(parts))
    return layout if world_landmarks else layout.without(WORLD)
