"""The keypoints pickle of data/extract_phoenix_keypoints*.py (its schema), shared by export and verify.

``{split: {'image_paths': [str], 'keypoints': [frame], 'video_ids': [str]}, 'stats': {...}}``
with one entry per frame. A frame is ``{'face': (468|478, 3), 'left_hand': (21, 3),
'right_hand': (21, 3), 'pose': (33, 4)}`` float32 arrays of MediaPipe's normalised
coordinates (pose adds visibility as a 4th column), ``None`` for a part not detected.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signpose.errors import SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.model.stats import check_stats
from signpose.formats.safepickle import load_pickle

Part = str
PARTS: tuple[Part, ...] = ("pose", "face", "left_hand", "right_hand")
POSE_POINTS, FACE_POINTS, REFINED_FACE_POINTS, HAND_POINTS = 33, 468, 478, 21
STATS_KEY = "stats"
SPLIT_KEYS: tuple[str, ...] = ("image_paths", "keypoints", "video_ids")
# Key order of a frame dict as the original scripts wrote it (dict equality ignores it; bytes do not).
FRAME_KEYS: tuple[Part, ...] = ("face", "left_hand", "right_hand", "pose")
SHAPES: dict[Part, tuple[tuple[int, int], ...]] = {
    "pose": ((POSE_POINTS, 4),),
    "face": ((FACE_POINTS, 3), (REFINED_FACE_POINTS, 3)),
    "left_hand": ((HAND_POINTS, 3),),
    "right_hand": ((HAND_POINTS, 3),),
}

Frame = dict[str, "np.ndarray | None"]


def image_path(source: str, frame_name: str) -> str:
    """The image path the keypoints pickle records for one frame of a clip: what
    ``str(Path(source) / frame_name)`` gives, built as a string (pathlib on Python 3.11
    interns every path part it parses, so a table of the interpreter's grows with the
    clips of a dataset)."""
    if os.sep != "/" or "/" in frame_name or frame_name in ("", "."):
        return str(Path(source) / frame_name)
    lead = "//" if source.startswith("//") and not source.startswith("///") else "/" if source.startswith("/") else ""
    folder = lead + "/".join(part for part in source.split("/") if part and part != ".")
    return f"{folder}/{frame_name}" if folder and not folder.endswith("/") else f"{folder}{frame_name}"


def frame_name(path: str) -> str:
    """The file name part of an image path, whichever separator it was written with."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ClipArrays:
    """One clip's frames as arrays, whatever the source, for comparing: ``names`` (frame
    file names, the match key within a clip; ``positional``: the source has none, frames
    match by position), ``paths`` (image paths), per part ``present`` [frames] bool,
    ``values`` [frames, points, 3 or 4] (x, y, z and, where the source has it, confidence),
    zeros where absent, and ``point_names`` (None where the source does not name points)."""

    names: tuple[str, ...]
    paths: tuple[str, ...]
    present: dict[Part, np.ndarray]
    values: dict[Part, np.ndarray]
    point_names: dict[Part, tuple[str, ...] | None]
    positional: bool = False


def clip_arrays(keypoints: ClipKeypoints) -> dict[Part, np.ndarray]:
    """The pickle's four parts, ``[frames, n, 3]`` float32 (pose ``[frames, 33, 4]`` with
    visibility); zeros where a part is absent."""
    missing = [part for part in PARTS if part not in keypoints.layout.names]
    if missing:
        raise SourceError(f"keypoints of layout {keypoints.layout.describe()} lack the keypoints pickle's {', '.join(missing)}")
    arrays: dict[Part, np.ndarray] = {part: keypoints.part(part) for part in PARTS}
    visibility = keypoints.part_confidence("pose")[:, :, None]
    arrays["pose"] = np.concatenate([arrays["pose"], visibility], axis=2).astype(np.float32, copy=False)
    return arrays


def clip_frames(keypoints: ClipKeypoints) -> list[Frame]:
    """One keypoints-pickle frame dict per frame of the clip."""
    arrays = clip_arrays(keypoints)
    present = {part: keypoints.part_present(part) for part in FRAME_KEYS}
    return [
        {part: np.array(arrays[part][index], dtype=np.float32) if present[part][index] else None for part in FRAME_KEYS}
        for index in range(keypoints.num_frames)
    ]


def keypoint_arrays(keypoints: ClipKeypoints, source: str, frame_names: Sequence[str] | None) -> ClipArrays:
    """Every part of the layout as [frames, n, 4] (x, y, z, confidence). Without frame
    names (a bare .pose file) frames are matched by position."""
    positional = frame_names is None
    names = tuple(f"#{i}" for i in range(keypoints.num_frames)) if positional else tuple(frame_names)
    paths = tuple(f"{source}{name}" for name in names) if positional else tuple(image_path(source, n) for n in names)
    values = {
        part.name: np.concatenate([keypoints.part(part.name), keypoints.part_confidence(part.name)[:, :, None]], axis=2)
        for part in keypoints.layout
    }
    return ClipArrays(
        names, paths,
        present={part: keypoints.part_present(part) for part in keypoints.layout.names},
        values=values,
        point_names={part.name: part.points for part in keypoints.layout},
        positional=positional,
    )  # fmt: skip


def frame_arrays(frames: Sequence[Frame], paths: Sequence[str], where: str) -> ClipArrays:
    """Stack checked keypoints-pickle frame dicts (as float64: exact for any float input)."""
    values: dict[Part, np.ndarray] = {}
    present: dict[Part, np.ndarray] = {}
    for part in PARTS:
        shapes = {frame[part].shape for frame in frames if frame[part] is not None}
        if len(shapes) > 1:
            raise SourceError(f"{where} mixes {part} shapes {sorted(shapes)}")
        stacked = np.zeros((len(frames), *(shapes.pop() if shapes else SHAPES[part][0])), dtype=np.float64)
        for row, frame in enumerate(frames):
            if frame[part] is not None:
                stacked[row] = frame[part]
        values[part] = stacked
        present[part] = np.array([frame[part] is not None for frame in frames], dtype=bool)
    names = tuple(frame_name(path) for path in paths)
    return ClipArrays(names, tuple(paths), present, values, {part: None for part in PARTS})


def group_frames(video_ids: Sequence[str], image_paths: Sequence[str], where: str) -> dict[str, list[int]]:
    """Entry numbers per video id, in first-appearance order; a frame listed twice is refused
    because frames are matched by (video id, frame file name)."""
    groups: dict[str, list[int]] = {}
    seen: set[tuple[str, str]] = set()
    for index, (video_id, path) in enumerate(zip(video_ids, image_paths)):
        key = (video_id, frame_name(path))
        if key in seen:
            raise SourceError(f"{where}: frame {path!r} of video {video_id!r} appears twice")
        seen.add(key)
        groups.setdefault(video_id, []).append(index)
    return groups


def check_frame(frame: Any, where: str) -> None:
    """Raise SourceError unless ``frame`` is a keypoints-pickle frame dict; ``where`` names it."""
    if not isinstance(frame, dict):
        raise SourceError(f"{where} is a {type(frame).__name__}, expected a dict of parts")
    if set(frame) != set(FRAME_KEYS):
        missing = sorted(set(FRAME_KEYS) - set(frame))
        extra = sorted(map(repr, set(frame) - set(FRAME_KEYS)))
        detail = "; ".join(
            ([f"missing {', '.join(map(repr, missing))}"] if missing else [])
            + ([f"unexpected {', '.join(extra)}"] if extra else [])
        )
        raise SourceError(f"{where} has keys {sorted(map(repr, frame))}: {detail}")
    for part in FRAME_KEYS:
        value = frame[part]
        if value is None:
            continue
        label = f"{where}[{part!r}]"
        if not isinstance(value, np.ndarray):
            raise SourceError(f"{label} is a {type(value).__name__}, expected a numpy array or None")
        if value.shape not in SHAPES[part]:
            expected = " or ".join(str(shape) for shape in SHAPES[part])
            raise SourceError(f"{label} has shape {value.shape}, expected {expected}")
        if value.dtype.kind != "f":
            raise SourceError(f"{label} has dtype {value.dtype}, expected float32")


def check_split(split: Any, data: Any, where: str) -> None:
    """Raise SourceError unless ``data`` is one split of the keypoints pickle."""
    label = f"{where}: split {split!r}"
    if not isinstance(split, str):
        raise SourceError(f"{label}: split names must be strings")
    if not isinstance(data, dict):
        raise SourceError(f"{label} is a {type(data).__name__}, expected a dict with keys {list(SPLIT_KEYS)}")
    missing = [key for key in SPLIT_KEYS if key not in data]
    if missing:
        raise SourceError(f"{label} has no {', '.join(map(repr, missing))} (keys: {sorted(map(repr, data))})")
    for key in SPLIT_KEYS:
        if not isinstance(data[key], list):
            raise SourceError(f"{label}: {key!r} is a {type(data[key]).__name__}, expected a list")
    lengths = {key: len(data[key]) for key in SPLIT_KEYS}
    if len(set(lengths.values())) != 1:
        raise SourceError(f"{label}: lists differ in length ({lengths}); expected one entry per frame in each")
    for key in ("image_paths", "video_ids"):
        for index, value in enumerate(data[key]):
            if not isinstance(value, str):
                raise SourceError(f"{label}: {key}[{index}] is a {type(value).__name__}, expected a str")
    for index, frame in enumerate(data["keypoints"]):
        check_frame(frame, f"{label}: keypoints[{index}]")


def check_pickle(data: Any, where: str) -> dict[str, dict[str, list[Any]]]:
    """Validate a loaded keypoints pickle; returns its splits (every key but 'stats')."""
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise SourceError(f"{where}: not a keypoint pickle: it holds a {kind}, expected a dict of splits")
    stats = data.get(STATS_KEY, {})
    if not isinstance(stats, dict):
        raise SourceError(f"{where}: 'stats' is a {type(stats).__name__}, expected a dict")
    try:  # before anything compares or prints them: a hostile 'stats' could be deep, cyclic or huge
        check_stats(stats)
    except ValueError as error:
        raise SourceError(f"{where}: 'stats' not of the schema: {error}") from error
    splits = {key: value for key, value in data.items() if key != STATS_KEY}
    for split, value in splits.items():
        check_split(split, value, where)
    return splits


@dataclass(frozen=True)
class KeypointsPickle:
    """A loaded and checked keypoints pickle (the whole file is in memory)."""

    path: Path
    splits: dict[str, dict[str, list[Any]]]
    stats: dict[str, Any] | None
    clips: dict[str, dict[str, list[int]]]  # split -> video id -> entry numbers

    @classmethod
    def load(cls, path: Path) -> "KeypointsPickle":
        """Raises SourceError (UnsafePickleError for a pickle that would run code)."""
        data = load_pickle(path)
        splits = check_pickle(data, str(path))
        clips = {
            split: group_frames(entries["video_ids"], entries["image_paths"], f"{path}: split {split!r}")
            for split, entries in splits.items()
        }
        return cls(Path(path), splits, data.get(STATS_KEY), clips)

    def clip(self, split: str, video_id: str) -> ClipArrays:
        entries, rows = self.splits[split], self.clips[split][video_id]
        paths = [entries["image_paths"][row] for row in rows]
        where = f"{self.path}: split {split!r}: video {video_id!r}"
        return frame_arrays([entries["keypoints"][row] for row in rows], paths, where)
