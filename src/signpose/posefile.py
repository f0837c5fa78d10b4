"""Conversion between ClipKeypoints and pose-format ``.pose`` files.

The file holds pixel coordinates (x × width, y × height, z as MediaPipe gives it), exactly
as pose-format's own Holistic loader writes them, so pose-format's tools read and draw our
files. Reading converts back to MediaPipe's normalised coordinates.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from signpose.keypoints import PARTS, REFINED_FACE_POINTS, FACE_POINTS, ClipKeypoints, part_sizes, part_slices

POSE_FORMAT_VERSION = 0.2


def _header(width: int, height: int, refine_face: bool):
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    extra_face_points = REFINED_FACE_POINTS - FACE_POINTS if refine_face else 0
    components = [c for c in holistic_components("XYZC", extra_face_points) if c.name != "POSE_WORLD_LANDMARKS"]
    return PoseHeader(
        version=POSE_FORMAT_VERSION,
        dimensions=PoseHeaderDimensions(width=width, height=height, depth=0),
        components=components,
    )


def _scale(width: int, height: int) -> np.ndarray:
    return np.array([width, height, 1.0], dtype=np.float64)


def to_pose(keypoints: ClipKeypoints):
    """A pose_format Pose (one person) for these keypoints."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    refine_face = keypoints.points.shape[1] == sum(part_sizes(True).values())
    pixels = (keypoints.points.astype(np.float64) * _scale(keypoints.width, keypoints.height)).astype(np.float32)
    absent = keypoints.confidence == 0
    data = np.ma.masked_array(pixels[:, None], mask=np.repeat(absent[:, None, :, None], 3, axis=3))
    body = NumPyPoseBody(fps=keypoints.fps, data=data, confidence=keypoints.confidence[:, None])
    return Pose(_header(keypoints.width, keypoints.height, refine_face), body)


def to_pose_bytes(keypoints: ClipKeypoints) -> bytes:
    buffer = io.BytesIO()
    to_pose(keypoints).write(buffer)
    return buffer.getvalue()


# What pose-format raises on damaged or foreign bytes (it has no error type of its own).
_UNREADABLE = (struct.error, TypeError, ValueError, EOFError, IndexError, UnicodeDecodeError)


def from_pose_bytes(data: bytes) -> ClipKeypoints:
    """Keypoints of a signpose .pose file; ValueError for anything else or damaged bytes."""
    from pose_format import Pose

    try:
        pose = Pose.read(data)
    except _UNREADABLE as error:
        raise ValueError(f"not a readable .pose file ({type(error).__name__}: {error})") from error
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    names = [component.name for component in pose.header.components]
    expected = ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]
    if names != expected:
        raise ValueError(f"not a signpose Holistic file: components {names}, expected {expected}")
    pixels = np.asarray(pose.body.data.data, dtype=np.float64)[:, 0]
    confidence = np.asarray(pose.body.confidence, dtype=np.float32)[:, 0]
    points = (pixels / _scale(width or 1, height or 1)).astype(np.float32)
    refine_face = len(pose.header.components[1].points) == REFINED_FACE_POINTS
    slices = part_slices(part_sizes(refine_face))
    # A detected body point can have visibility 0, so presence also looks at the coordinates.
    present = np.stack(
        [(confidence[:, slices[p]] > 0).any(axis=1) | (points[:, slices[p]] != 0).any(axis=(1, 2)) for p in PARTS],
        axis=1,
    )
    return ClipKeypoints(points=points, confidence=confidence, present=present, width=width, height=height, fps=float(pose.body.fps))


def read_pose_file(path: Path) -> ClipKeypoints:
    try:
        return from_pose_bytes(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as a signpose .pose file ({error})") from error
