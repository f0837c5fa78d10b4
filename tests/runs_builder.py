"""Tiny run folders built without MediaPipe: seeded random keypoints written as a real run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from signpose.estimators.mediapipe import holistic_layout
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout
from signpose.formats.pose import read_pose_file, to_pose_bytes
from signpose.run.record import ClipResult, ClipStatus
from signpose.formats.keypoints_pickle import clip_frames, image_path
from signpose.run.reader import RunReader
from signpose.run.store import RunStore

SOURCE_ROOT = "/data/phoenix/features/fullFrame-210x260px"
PARTS = ("pose", "face", "left_hand", "right_hand")
Part = str


def holistic(refine: bool = False, world: bool = False) -> KeypointLayout:
    """MediaPipe's layout: the keypoints pickle's four parts (with ``world``, the standard five)."""
    return holistic_layout(refine_face=refine, world_landmarks=world)


@dataclass(frozen=True)
class ClipSpec:
    split: str
    clip_id: str
    keypoints: ClipKeypoints | None  # None: a clip that failed
    frame_names: tuple[str, ...] | None = None  # default 0000.png, 0001.png, ...


def make_keypoints(
    seed: int, frames: int = 5, refine: bool = False, width: int = 640, height: int = 480,
    layout: KeypointLayout | None = None,
) -> ClipKeypoints:
    """Random normalised keypoints; parts absent at random (frame 0 has all, the last frame
    none: a frame where nothing was detected), pose visibility in (0.01, 1)."""
    layout = layout or holistic(refine)
    rng = np.random.default_rng(seed)
    slices = layout.slices
    total = layout.total
    points = rng.uniform(0.05, 0.95, (frames, total, 3)).astype(np.float32)
    points[..., 2] = rng.uniform(-0.3, 0.3, (frames, total)).astype(np.float32)
    confidence = np.ones((frames, total), dtype=np.float32)
    if "pose" in slices:
        pose = slices["pose"]
        confidence[:, pose] = rng.uniform(0.01, 1.0, (frames, pose.stop - pose.start)).astype(np.float32)
    present = rng.random((frames, len(layout.parts))) < 0.7
    present[0] = True
    if frames > 2:
        present[-1] = False
    for column, part in enumerate(layout.names):
        points[~present[:, column], slices[part]] = 0
        confidence[~present[:, column], slices[part]] = 0
    return ClipKeypoints(points=points, confidence=confidence, present=present, width=width, height=height, fps=25.0, layout=layout)


def with_point(keypoints: ClipKeypoints, frame: int, part: Part, point: int, delta: float) -> ClipKeypoints:
    """A copy with one x coordinate moved by ``delta`` (the part must be present there)."""
    assert keypoints.part_present(part)[frame]
    points = keypoints.points.copy()
    points[frame, keypoints.layout.slices[part].start + point, 0] += np.float32(delta)
    return replace(keypoints, points=points)


def without_part(keypoints: ClipKeypoints, frame: int, part: Part) -> ClipKeypoints:
    """A copy where ``part`` was not detected in ``frame``."""
    column, where = keypoints.layout.index(part), keypoints.layout.slices[part]
    points, confidence, present = keypoints.points.copy(), keypoints.confidence.copy(), keypoints.present.copy()
    points[frame, where], confidence[frame, where], present[frame, column] = 0, 0, False
    return replace(keypoints, points=points, confidence=confidence, present=present)


def standard_clips(seed: int = 0, refine: bool = False) -> list[ClipSpec]:
    """train: two ok clips and a failed one; dev: one clip."""
    return [
        ClipSpec("train", "01April_2010_Thursday_heute-6694", make_keypoints(seed, 6, refine)),
        ClipSpec("train", "01April_2010_Thursday_tagesschau-4332", make_keypoints(seed + 1, 4, refine, 210, 260)),
        ClipSpec("train", "broken_clip", None),
        ClipSpec("dev", "03June_2011_Friday_tagesschau-7649", make_keypoints(seed + 2, 3, refine)),
    ]


def append_records(store: RunStore, *records: ClipResult) -> None:
    """Append ``records`` to the run's index as a run does: through the store's journal,
    every line synced when it closes."""
    with store.journal(lambda synced: None) as journal:
        for record in records:
            journal.append(record)


def build_run(root: Path, clips: Sequence[ClipSpec], source_root: str = SOURCE_ROOT) -> Path:
    """Write ``clips`` as a finished run at ``root``. Clips are appended in reverse order, as
    workers finishing out of order would, then the index is put in dataset order."""
    store = RunStore(root)
    store.prepare(overwrite=False)
    records = []
    for spec in reversed(clips):
        source = f"{source_root}/{spec.split}/{spec.clip_id}/1"
        if spec.keypoints is None:
            records.append(ClipResult(spec.split, spec.clip_id, ClipStatus.FAILED, source, error="cannot open"))
            continue
        keypoints = spec.keypoints
        names = spec.frame_names or tuple(f"{index:04d}.png" for index in range(keypoints.num_frames))
        relpath, checksum = store.write_pose(spec.split, spec.clip_id, to_pose_bytes(keypoints))
        result = ClipResult(
            split=spec.split,
            clip_id=spec.clip_id,
            status=ClipStatus.OK,
            source=source,
            frames=keypoints.num_frames,
            detected=keypoints.detected(),
            pose_file=relpath,
            checksum=checksum,
            frame_names=names,
            width=keypoints.width,
            height=keypoints.height,
            fps=keypoints.fps,
        )
        records.append(result)
    append_records(store, *records)
    store.finalize([(spec.split, spec.clip_id) for spec in clips])
    return root


def pickle_dict(run: Path, splits: Sequence[str]) -> dict[str, Any]:
    """A run's keypoints pickle content built the obvious way, everything in memory."""
    store = RunStore(run)
    records = list(store.read_index().values())
    result: dict[str, Any] = {}
    for split in splits:
        entry = result[split] = {"image_paths": [], "keypoints": [], "video_ids": []}
        for record in records:
            if record.split != split or record.status is not ClipStatus.OK:
                continue
            entry["image_paths"] += [image_path(record.source, name) for name in record.frame_names]
            entry["keypoints"] += clip_frames(read_pose_file(run / record.pose_file))
            entry["video_ids"] += [record.clip_id] * len(record.frame_names)
    stats = RunReader(run).require_stats()
    result["stats"] = {split: stats[split] for split in splits}
    return result


def deep_equal(a: Any, b: Any) -> bool:
    """Equality for nested dicts/lists holding numpy arrays (same dtype, shape, values)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
