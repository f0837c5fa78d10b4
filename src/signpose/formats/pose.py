"""Conversion between ClipKeypoints and pose-format ``.pose`` files.

The header is written from the keypoints' layout and read back into one, so any
pose-format file can be read: signpose's own, pose-format's Holistic output (576 points),
older ones (format v0.1, ``XYZKC``). Image parts are stored in pixels (x × width,
y × height, z as given), world parts scaled the same way, exactly as pose-format's own
Holistic loader writes them, so its tools read and draw our files and a file of ours is
byte-identical to its output for the same keypoints.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import WORLD_COMPONENTS, KeypointLayout, PartLayout, part_name

POSE_FORMAT_VERSION = 0.2
POINT_FORMAT = "XYZC"


def _header(keypoints: ClipKeypoints):
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    components = [
        PoseHeaderComponent(
            name=part.component,
            points=list(part.points),
            limbs=[tuple(limb) for limb in part.limbs],
            colors=[tuple(colour) for colour in part.colours],
            point_format=POINT_FORMAT,
        )
        for part in keypoints.layout.parts
    ]
    return PoseHeader(
        version=POSE_FORMAT_VERSION,
        dimensions=PoseHeaderDimensions(width=keypoints.width, height=keypoints.height, depth=0),
        components=components,
    )


def _scale(width: int, height: int) -> np.ndarray:
    return np.array([width, height, 1.0], dtype=np.float64)


def to_pose(keypoints: ClipKeypoints):
    """A pose_format Pose (one person) for these keypoints."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    pixels = (keypoints.points.astype(np.float64) * _scale(keypoints.width, keypoints.height)).astype(np.float32)
    absent = keypoints.confidence == 0
    data = np.ma.masked_array(pixels[:, None], mask=np.repeat(absent[:, None, :, None], 3, axis=3))
    body = NumPyPoseBody(fps=keypoints.fps, data=data, confidence=keypoints.confidence[:, None])
    return Pose(_header(keypoints), body)


def to_pose_bytes(keypoints: ClipKeypoints) -> bytes:
    buffer = io.BytesIO()
    to_pose(keypoints).write(buffer)
    return buffer.getvalue()


# What pose-format raises on damaged or foreign bytes (it has no error type of its own).
_UNREADABLE = (struct.error, TypeError, ValueError, EOFError, IndexError, UnicodeDecodeError, AttributeError, KeyError)


def _layout(components) -> KeypointLayout:
    return KeypointLayout(
        tuple(
            PartLayout(
                name=part_name(component.name),
                component=component.name,
                points=tuple(str(point) for point in component.points),
                limbs=tuple((int(a), int(b)) for a, b in component.limbs),
                colours=tuple(tuple(int(v) for v in colour) for colour in component.colors),
                space="world" if component.name in WORLD_COMPONENTS else "image",
            )
            for component in components
        )
    )


def from_pose_bytes(data: bytes) -> ClipKeypoints:
    """Keypoints of a .pose file (first person), in the layout its header declares;
    ValueError for damaged or unreadable bytes."""
    from pose_format import Pose

    try:
        pose = Pose.read(data)
        layout = _layout(pose.header.components)
        raw = np.asarray(pose.body.data.data, dtype=np.float64)
        confidence = np.asarray(pose.body.confidence, dtype=np.float32)
    except _UNREADABLE as error:
        raise ValueError(f"not a readable .pose file ({type(error).__name__}: {error})") from error
    if raw.ndim != 4 or raw.shape[2] != layout.total or raw.shape[1] < 1 or raw.shape[3] < 2:
        raise ValueError(f"not a readable .pose file (data of shape {raw.shape} for {layout.total} points)")
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    pixels = np.zeros((raw.shape[0], raw.shape[2], 3), np.float64)
    dims = min(raw.shape[3], 3)  # XYZKC: the depth channel K is not a coordinate; XYC has no z
    pixels[:, :, :dims] = raw[:, 0, :, :dims]
    points = (pixels / _scale(width or 1, height or 1)).astype(np.float32)
    confidence = confidence[:, 0]
    # A detected body point can have visibility 0, so presence also looks at the coordinates.
    present = np.stack(
        [
            (confidence[:, where] > 0).any(axis=1) | (points[:, where] != 0).any(axis=(1, 2))
            for where in layout.slices.values()
        ],
        axis=1,
    ).reshape(raw.shape[0], len(layout.parts))
    return ClipKeypoints(
        points=points, confidence=confidence, present=present, width=width, height=height,
        fps=float(pose.body.fps), layout=layout,
    )  # fmt: skip


def read_pose_file(path: Path) -> ClipKeypoints:
    try:
        return from_pose_bytes(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as a .pose file ({error})") from error
