"""Export a run folder to the seed's pickle schema or to per-split NPZ arrays.

The pickle is streamed: the outer dict/list opcodes are written here and each frame dict
is pickled on its own, so memory holds one clip at a time however large the dataset.
Protocol 3 is used for the frames: like protocol 2 it names memo slots explicitly (BINPUT n)
and has no framing, so a frame's opcodes are self-contained once PROTO and STOP are cut
off; unlike protocol 2 it writes array bytes natively instead of via _codecs.encode.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from signpose.keypoints import PARTS, ClipKeypoints, part_sizes, part_slices
from signpose.posefile import from_pose_bytes
from signpose.results import ClipResult, ClipStatus
from signpose.safepickle import SourceError
from signpose.seedschema import STATS_KEY, clip_frames, image_path
from signpose.store import INDEX, RunStore, StoreError, atomic_open, safe_name

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
class RunContents:
    """A run folder's index (dataset order) and stats; stats is None if the run never finished."""

    root: Path
    records: tuple[ClipResult, ...]
    stats: dict[str, Any] | None

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(record.split for record in self.records))

    def ok_clips(self, split: str) -> list[ClipResult]:
        return [r for r in self.records if r.split == split and r.status is ClipStatus.OK]


@dataclass(frozen=True)
class ClipRead:
    """One clip's .pose as read back; ``problem`` says why it cannot be trusted (or None)."""

    keypoints: ClipKeypoints | None
    problem: str | None


def open_run(run: Path) -> RunContents:
    """Read a run folder's index and stats; SourceError if it is not a run folder."""
    run = Path(run)
    if not (run / INDEX).is_file():
        raise SourceError(f"{run}: not a signpose run folder (no index.jsonl)")
    store = RunStore(run)
    try:
        stats = store.read_stats()
    except FileNotFoundError:
        stats = None
    except (OSError, ValueError) as error:
        raise SourceError(f"{run}: cannot read stats.json ({error})") from error
    return RunContents(root=run, records=tuple(store.read_index().values()), stats=stats)


def read_clip(root: Path, record: ClipResult) -> ClipRead:
    """Read one ok clip's .pose, checking it against the index (checksum, frame count).
    Keypoints are returned whenever the file parses, even if its checksum is wrong."""
    path = root / (record.pose_file or "")
    try:
        data = path.read_bytes() if record.pose_file else None
    except OSError as error:
        return ClipRead(None, f"{path}: cannot read ({error.strerror or error})")
    if data is None:
        return ClipRead(None, f"clip {record.clip_id!r}: the index names no .pose file")
    problem = None
    if hashlib.sha256(data).hexdigest() != record.checksum:
        problem = f"{path}: sha256 differs from the index checksum (the file changed after the run wrote it)"
    try:
        keypoints = from_pose_bytes(data)
    except ValueError as error:
        return ClipRead(None, f"{path}: {error}")
    if keypoints.num_frames != len(record.frame_names):
        return ClipRead(None, f"{path}: has {keypoints.num_frames} frames, the index lists {len(record.frame_names)}")
    return ClipRead(keypoints, problem)


def _trusted_clip(root: Path, record: ClipResult) -> ClipKeypoints:
    read = read_clip(root, record)
    if read.problem or read.keypoints is None:
        raise SourceError(read.problem or f"{record.clip_id}: unreadable")
    return read.keypoints


def _select(contents: RunContents, splits: Sequence[str] | None) -> tuple[str, ...]:
    available = contents.splits
    if splits is None:
        return available
    unknown = [split for split in splits if split not in available]
    if unknown:
        raise SourceError(f"{contents.root}: no split {', '.join(map(repr, unknown))} (the run has {list(available)})")
    # run order, not argument order: the output bytes should not depend on how splits were listed
    return tuple(split for split in available if split in splits)


def _require_stats(contents: RunContents) -> dict[str, Any]:
    if contents.stats is None:
        raise SourceError(f"{contents.root}: no stats.json: the run did not finish; resume it before exporting")
    return contents.stats


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


def _frame_batches(contents: RunContents, clips: list[ClipResult]) -> Iterator[list[Any]]:
    for record in clips:
        yield clip_frames(_trusted_clip(contents.root, record))


def export_pickle(run: Path, out: Path, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write the run as one seed-schema pickle at ``out``, frames in dataset order."""
    contents = open_run(run)
    stats = _require_stats(contents)
    chosen = _select(contents, splits)
    out = Path(out)
    clips = frames = 0
    with atomic_open(out) as handle:
        handle.write(pickle.PROTO + bytes([PROTOCOL]) + _EMPTY_DICT + _MARK)
        for split in chosen:
            records = contents.ok_clips(split)
            handle.write(_body(split) + _EMPTY_DICT + _MARK)
            handle.write(_body("image_paths"))
            _write_list(handle, ([image_path(r.source, name) for name in r.frame_names] for r in records))
            handle.write(_body("keypoints"))
            _write_list(handle, _frame_batches(contents, records))
            handle.write(_body("video_ids"))
            _write_list(handle, ([r.clip_id] * len(r.frame_names) for r in records))
            handle.write(_SETITEMS)
            clips += len(records)
            frames += sum(len(r.frame_names) for r in records)
        handle.write(_body(STATS_KEY) + _body({split: stats[split] for split in chosen if split in stats}))
        handle.write(_SETITEMS + _STOP)
    return ExportSummary(splits=chosen, clips=clips, frames=frames, files=(out,))


def _split_arrays(contents: RunContents, records: list[ClipResult]) -> dict[str, np.ndarray]:
    """One split's NPZ arrays; the keypoints array is allocated whole (frames × points × 4 floats)."""
    total = sum(len(r.frame_names) for r in records)
    keypoints: np.ndarray | None = None
    present = np.zeros((total, len(PARTS)), dtype=bool)
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    start = 0
    for number, record in enumerate(records):
        clip = _trusted_clip(contents.root, record)
        if keypoints is None:
            keypoints = np.zeros((total, clip.points.shape[1], 4), dtype=np.float32)
        if clip.points.shape[1] != keypoints.shape[1]:
            raise SourceError(
                f"{contents.root}: clip {record.clip_id!r} has {clip.points.shape[1]} points per frame, earlier "
                f"clips of split {record.split!r} have {keypoints.shape[1]} (refined and plain face mixed)"
            )
        end = start + clip.num_frames
        keypoints[start:end, :, :3] = clip.points
        keypoints[start:end, :, 3] = clip.confidence
        present[start:end] = clip.present
        offsets[number + 1] = end
        start = end
    refined = keypoints is not None and keypoints.shape[1] == sum(part_sizes(True).values())
    sizes = part_sizes(refined)
    if keypoints is None:
        keypoints = np.zeros((0, sum(sizes.values()), 4), dtype=np.float32)
    slices = part_slices(sizes)
    return {
        "keypoints": keypoints,
        "present": present,
        "clip_ids": np.array([r.clip_id for r in records], dtype=str),
        "clip_offsets": offsets,
        "image_paths": np.array([image_path(r.source, n) for r in records for n in r.frame_names], dtype=str),
        "parts": np.array(PARTS, dtype=str),
        "part_offsets": np.array([0] + [slices[p].stop for p in PARTS], dtype=np.int64),
    }


def export_npz(run: Path, out: Path, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write ``<out>/<split>.npz`` per split (``out`` is a folder), ok clips in dataset order.

    Arrays: ``keypoints`` float32 [frames, 543 (553 with refined face), 4] (x, y, z,
    confidence; normalised), ``present`` bool [frames, 4] (columns = ``parts``),
    ``clip_ids`` str [clips], ``clip_offsets`` int64 [clips + 1] (frames of clip i are
    ``clip_offsets[i]:clip_offsets[i+1]``), ``image_paths`` str [frames], ``parts`` str [4],
    ``part_offsets`` int64 [5] (points of part j are ``part_offsets[j]:part_offsets[j+1]``).
    One split's arrays are built in memory: keypoints take frames × 543 × 4 × 4 bytes
    (~8.7 kB a frame).
    """
    contents = open_run(run)
    chosen = _select(contents, splits)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SourceError(f"{out}: NPZ export writes one file per split into a folder; this path is a file")
    files: list[Path] = []
    clips = frames = 0
    for split in chosen:
        try:
            name = safe_name(split, "split")
        except StoreError as error:
            raise SourceError(str(error)) from error
        records = contents.ok_clips(split)
        arrays = _split_arrays(contents, records)
        target = out / f"{name}.npz"
        with atomic_open(target) as handle:
            np.savez(handle, **arrays)
        files.append(target)
        clips += len(records)
        frames += int(arrays["present"].shape[0])
    return ExportSummary(splits=chosen, clips=clips, frames=frames, files=tuple(files))
