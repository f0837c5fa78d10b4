"""Export a run folder (or a folder of .pose files) to the seed's pickle schema, or to
per-split NPZ arrays (``npz.py``).

The pickle is streamed: the outer dict/list opcodes are written here and each frame dict
is pickled on its own, so memory holds one clip at a time however large the dataset.
Protocol 3 is used for the frames: like protocol 2 it names memo slots explicitly (BINPUT n)
and has no framing, so a frame's opcodes are self-contained once PROTO and STOP are cut
off; unlike protocol 2 it writes array bytes natively instead of via _codecs.encode.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from signpose.errors import SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.formats.posefolder import PoseFolder
from signpose.run.reader import RunReader
from signpose.formats.keypoints_pickle import STATS_KEY, clip_frames, image_path
from signpose.run.guard import check_output_path
from signpose.run.store import INDEX, atomic_open

PROTOCOL = 3
# Opcodes of the outer structure (see pickletools): the frames are pickled by pickle itself.
_MARK, _EMPTY_DICT, _EMPTY_LIST, _APPENDS, _SETITEMS, _STOP = b"(", b"}", b"]", b"e", b"u", b"."


@dataclass(frozen=True)
class ExportSummary:
    splits: tuple[str, ...]
    clips: int
    frames: int
    files: tuple[Path, ...]


@dataclass(frozen=True)
class ExportClip:
    """One clip to export: its frames' image paths and how to load its keypoints."""

    clip_id: str
    image_paths: tuple[str, ...]
    load: Callable[[], ClipKeypoints]


@dataclass(frozen=True)
class ExportSource:
    """What export reads: the chosen splits, each with its clips in order, and the stats
    (a run's stats.json; for a folder of .pose files, None: counted while exporting)."""

    root: Path
    splits: dict[str, list[ExportClip]]
    stats: dict[str, Any] | None


def _from_run(run: RunReader, splits: Sequence[str] | None) -> ExportSource:
    stats = run.require_stats()
    chosen = run.select_splits(splits)

    def clip(record) -> ExportClip:
        paths = tuple(image_path(record.source, name) for name in record.frame_names)
        return ExportClip(record.clip_id, paths, lambda: run.trusted_clip(record))

    return ExportSource(run.root, {split: [clip(r) for r in run.ok_clips(split)] for split in chosen}, stats)


def _from_pose_folder(folder: PoseFolder, splits: Sequence[str] | None) -> ExportSource:
    unknown = [split for split in splits or () if split not in folder.clips]
    if unknown:
        raise SourceError(f"{folder.root}: no split {', '.join(map(repr, unknown))} (it has {list(folder.clips)})")
    chosen = [split for split in folder.clips if splits is None or split in splits]

    def clip(split: str, clip_id: str) -> ExportClip:
        keypoints = folder.load(split, clip_id)  # frames have no names: the count is in the file
        paths = tuple(f"{split}/{clip_id}.pose#{i}" for i in range(keypoints.num_frames))
        return ExportClip(clip_id, paths, lambda: folder.load(split, clip_id))

    return ExportSource(folder.root, {split: [clip(split, c) for c in folder.clips[split]] for split in chosen}, None)


def open_source(path: Path, splits: Sequence[str] | None = None) -> ExportSource:
    """A run folder, or a folder of .pose files; SourceError for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise SourceError(f"{path}: not a folder (export reads a signpose run folder or a folder of .pose files)")
    if (path / INDEX).is_file():
        return _from_run(RunReader(path), splits)
    return _from_pose_folder(PoseFolder.open(path), splits)


def _body(value: Any) -> bytes:
    """``value`` pickled without its PROTO header and STOP, to splice into a larger stream.
    Its memo slots are numbered from 0 and only read back within these bytes, so splices
    overwriting each other's slots is harmless."""
    data = pickle.dumps(value, protocol=PROTOCOL)
    assert data[:2] == bytes([pickle.PROTO[0], PROTOCOL]) and data[-1:] == _STOP
    return data[2:-1]


def _write_list(handle: IO[bytes], batches: Iterator[list[Any]]) -> None:
    handle.write(_EMPTY_LIST)
    for batch in batches:
        if batch:
            handle.write(_MARK + b"".join(_body(item) for item in batch) + _APPENDS)


def _frame_batches(clips: list[ExportClip], counted: dict[str, int]) -> Iterator[list[Any]]:
    for clip in clips:
        keypoints = clip.load()
        if keypoints.num_frames != len(clip.image_paths):
            raise SourceError(f"clip {clip.clip_id!r}: has {keypoints.num_frames} frames, {len(clip.image_paths)} were listed")
        counted["frames"] += keypoints.num_frames
        for part in ("pose", "face", "left_hand", "right_hand"):
            key = f"frames_with_{part}"
            counted[key] = counted.get(key, 0) + (keypoints.frames_with(part) if part in keypoints.layout.names else 0)
        yield clip_frames(keypoints)


def export_pickle(run: Path, out: Path, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write a run (or a folder of .pose files) as one seed-schema pickle at ``out``,
    frames in dataset order."""
    out = Path(out)
    check_output_path(out)  # never over a run's own files
    if out.is_dir():
        raise SourceError(
            f"{out}: is a folder; the pickle export writes one file (give a file name such as {out / 'export.pkl'},"
            " or use --format npz for a folder)"
        )
    source = open_source(run, splits)
    clips = frames = 0
    counted: dict[str, dict[str, int]] = {}
    with atomic_open(out) as handle:
        handle.write(pickle.PROTO + bytes([PROTOCOL]) + _EMPTY_DICT + _MARK)
        for split, chosen in source.splits.items():
            counted[split] = {"clips": len(chosen), "frames": 0}
            handle.write(_body(split) + _EMPTY_DICT + _MARK)
            handle.write(_body("image_paths"))
            _write_list(handle, (list(clip.image_paths) for clip in chosen))
            handle.write(_body("keypoints"))
            _write_list(handle, _frame_batches(chosen, counted[split]))
            handle.write(_body("video_ids"))
            _write_list(handle, ([clip.clip_id] * len(clip.image_paths) for clip in chosen))
            handle.write(_SETITEMS)
            clips += len(chosen)
            frames += sum(len(clip.image_paths) for clip in chosen)
        stats = source.stats if source.stats is not None else counted
        handle.write(_body(STATS_KEY) + _body({split: stats[split] for split in source.splits if split in stats}))
        handle.write(_SETITEMS + _STOP)
    return ExportSummary(splits=tuple(source.splits), clips=clips, frames=frames, files=(out,))


