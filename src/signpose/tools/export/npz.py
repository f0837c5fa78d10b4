"""Export to NPZ: one ``<split>.npz`` per split, written as a stream.

An ``.npz`` is a zip of ``.npy`` files. A first pass over the index counts the frames and
the longest names, so every array's header (shape, dtype) is known; the clips are then
read once, one at a time: ``keypoints`` rows go straight into the archive, and every
other array, per frame or per clip, goes to a temporary file beside the output, copied
into the archive after. So memory holds one clip whatever the split's size (a whole
PHOENIX-2014-T train split is ~7 GB of keypoints), and equal inputs give equal bytes.

Arrays: ``keypoints`` float32 [frames, points, 4] (x, y, z, confidence) of the image parts
(normalised: x / width, y / height; points off the image fall outside [0, 1]), ``present``
bool [frames, parts], ``parts`` / ``part_offsets`` (points of part j are
``part_offsets[j]:part_offsets[j+1]``); the world parts, if any, in ``world_keypoints``
float32 [frames, points, 4] (metres), ``world_present``, ``world_parts`` /
``world_part_offsets``; ``clip_ids`` [clips], ``clip_offsets`` int64 [clips + 1] (frames
of clip i are ``clip_offsets[i]:clip_offsets[i+1]``), ``image_paths`` [frames].
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

import numpy as np

from signpose.errors import SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout
from signpose.run.store import atomic_open
from signpose.tools.export.common import ExportSummary, LeftOut, clip_keypoints, output_folder, split_file
from signpose.tools.inputs import Input, InputClip, open_input

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every member's date: the bytes do not depend on the clock
COPY_CHUNK = 1 << 16


@dataclass(frozen=True)
class _Plan:
    """What the headers need, counted from the index before any clip is read."""

    clips: int
    frames: int
    longest_path: int
    longest_id: int


def _plan(source: Input, split: str) -> _Plan:
    clips = frames = longest_path = longest_id = 0
    for clip in source.clips(split):
        if clip.ok:
            clips, frames = clips + 1, frames + len(clip.record.frame_names)
            longest_path = max([longest_path, *map(len, clip.image_paths)])
            longest_id = max(longest_id, len(clip.clip_id))
    return _Plan(clips, frames, max(longest_path, 1), max(longest_id, 1))


class _Spool:
    """Rows of one array, kept in an unnamed temporary file until its member is written."""

    def __init__(self, handle: IO[bytes], name: str, dtype: np.dtype | str, shape: tuple[int, ...]) -> None:
        self.handle, self.name, self.dtype, self.shape = handle, name, np.dtype(dtype), shape

    def add(self, rows: np.ndarray) -> None:
        self.handle.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())

    def chunks(self) -> Iterator[bytes]:
        self.handle.seek(0)
        yield from iter(lambda: self.handle.read(COPY_CHUNK), b"")


class _Member:
    """A zip member being written, counting its bytes."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.written = handle, 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.written += len(data)


@contextmanager
def _member(archive: zipfile.ZipFile, name: str, dtype: np.dtype | str, shape: tuple[int, ...]) -> Iterator[_Member]:
    """One ``.npy`` member, its header written; the caller writes its rows, exactly as many
    as ``shape`` says (checked)."""
    dtype = np.dtype(dtype)
    info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED
    with archive.open(info, "w", force_zip64=True) as handle:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(handle, header)
        member = _Member(handle)
        yield member
    row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    if shape and member.written != shape[0] * row:
        rows = member.written // row if row else 0
        raise SourceError(f"{name}: wrote {rows} rows, {shape[0]} were expected (a file changed while exporting?)")


def _rows(keypoints: ClipKeypoints, layout: KeypointLayout) -> np.ndarray:
    where = np.concatenate([np.arange(keypoints.layout.total)[keypoints.layout.slices[part.name]] for part in layout.parts] or [np.zeros(0, int)])
    return np.concatenate([keypoints.points[:, where], keypoints.confidence[:, where, None]], axis=2)


def _names(values: Sequence[str], width: int | None = None) -> np.ndarray:
    return np.array(list(values), dtype=f"<U{width or max((len(v) for v in values), default=1)}")


def _offsets(layout: KeypointLayout) -> np.ndarray:
    return np.array([0, *(layout.slices[name].stop for name in layout.names)], dtype=np.int64)


def _checked(clips: Iterator[tuple[InputClip, ClipKeypoints]], layout: KeypointLayout) -> Iterator[tuple[InputClip, ClipKeypoints]]:
    for clip, keypoints in clips:
        if keypoints.layout != layout:
            raise SourceError(
                f"clip {clip.clip_id!r} has parts {keypoints.layout.describe()}, earlier clips of its split have"
                f" {layout.describe()}: one NPZ array cannot hold both (export the splits of each layout apart)"
            )
        yield clip, keypoints


def _write_split(handle: IO[bytes], source: Input, split: str, left_out: list[LeftOut], spool_dir: Path) -> tuple[int, int]:
    plan = _plan(source, split)
    clips = clip_keypoints(source, split, left_out)
    first = next(clips, None)
    full = first[1].layout if first else KeypointLayout(())
    image = KeypointLayout(tuple(part for part in full.parts if part.space == "image"))
    world = KeypointLayout(tuple(part for part in full.parts if part.space == "world"))
    columns = [full.index(name) for name in image.names]
    world_columns = [full.index(name) for name in world.names]
    with ExitStack() as stack, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        def spool(name: str, dtype: np.dtype | str, shape: tuple[int, ...]) -> _Spool:
            return _Spool(stack.enter_context(tempfile.TemporaryFile(dir=spool_dir)), name, dtype, shape)

        present = spool("present", bool, (plan.frames, len(columns)))
        world_rows = spool("world_keypoints", np.float32, (plan.frames, world.total, 4)) if world.parts else None
        world_present = spool("world_present", bool, (plan.frames, len(world_columns))) if world.parts else None
        ids = spool("clip_ids", f"<U{plan.longest_id}", (plan.clips,))
        offsets = spool("clip_offsets", np.int64, (plan.clips + 1,))
        paths = spool("image_paths", f"<U{plan.longest_path}", (plan.frames,))
        offsets.add(np.zeros(1, np.int64))
        counts = {"clips": 0, "frames": 0}
        with _member(archive, "keypoints", np.float32, (plan.frames, image.total, 4)) as member:
            for clip, keypoints in _checked(chain([first] if first else [], clips), full):
                member.write(np.ascontiguousarray(_rows(keypoints, image), dtype=np.float32).tobytes())
                present.add(keypoints.present[:, columns])
                if world_rows is not None and world_present is not None:
                    world_rows.add(_rows(keypoints, world))
                    world_present.add(keypoints.present[:, world_columns])
                counts["clips"] += 1
                counts["frames"] += keypoints.num_frames
                ids.add(_names([clip.clip_id], plan.longest_id))
                offsets.add(np.array([counts["frames"]], np.int64))
                paths.add(_names(clip.image_paths, plan.longest_path))
        members: list[_Spool | tuple[str, np.ndarray]] = [present, ("parts", _names(image.names)), ("part_offsets", _offsets(image))]
        if world_rows is not None and world_present is not None:
            members += [world_rows, world_present, ("world_parts", _names(world.names)), ("world_part_offsets", _offsets(world))]
        for item in [*members, ids, offsets, paths]:
            if isinstance(item, _Spool):
                with _member(archive, item.name, item.dtype, item.shape) as member:
                    for chunk in item.chunks():
                        member.write(chunk)
            else:
                name, array = item
                with _member(archive, name, array.dtype, array.shape) as member:
                    member.write(array.tobytes())
    return counts["clips"], counts["frames"]


def export_npz(run: Path, out: Path, *, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write ``<out>/<split>.npz`` per split (``out`` is a folder), ok clips in dataset order."""
    out = output_folder(out, "NPZ")
    source = open_input(run)
    chosen = source.select(splits)
    files: list[Path] = []
    left_out: list[LeftOut] = []
    clips = frames = 0
    for split in chosen:
        target = split_file(out, split, ".npz")
        with atomic_open(target) as handle:
            done_clips, done_frames = _write_split(handle, source, split, left_out, target.parent)
        clips, frames = clips + done_clips, frames + done_frames
        files.append(target)
    return ExportSummary(splits=chosen, clips=clips, frames=frames, files=tuple(files), left_out=tuple(left_out))
