"""Export to NPZ: one ``<split>.npz`` per split, written as a stream.

An ``.npz`` is a zip of ``.npy`` files. Each array's header (shape, dtype) is written
first and its rows then follow clip by clip, so memory holds one clip at a time however
large the split (a whole PHOENIX-2014-T train split is ~7 GB of keypoints).

Arrays: ``keypoints`` float32 [frames, points, 4] (x, y, z, confidence) of the image parts
(normalised: x / width, y / height; points off the image fall outside [0, 1]), ``present``
bool [frames, parts], ``parts`` / ``part_offsets`` (points of part j are
``part_offsets[j]:part_offsets[j+1]``); the world parts, if any, in ``world_keypoints``
float32 [frames, points, 4] (metres), ``world_present``, ``world_parts`` /
``world_part_offsets``; ``clip_ids`` [clips], ``clip_offsets`` int64 [clips + 1] (frames
of clip i are ``clip_offsets[i]:clip_offsets[i+1]``), ``image_paths`` [frames].
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from signpose.errors import SourceError, StoreError
from signpose.tools.export_pickle import ExportClip, ExportSummary, open_source
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout
from signpose.run.guard import check_output_path
from signpose.run.store import atomic_open, safe_name


def _write_array(archive: zipfile.ZipFile, name: str, dtype: np.dtype, shape: tuple[int, ...], chunks: Iterator[np.ndarray]) -> None:
    """One ``.npy`` member, its header first, then ``chunks`` (rows, in order)."""
    dtype = np.dtype(dtype)
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(member, header)
        written = 0
        for chunk in chunks:
            chunk = np.ascontiguousarray(chunk, dtype=dtype)
            if chunk.shape[1:] != tuple(shape[1:]):
                raise SourceError(f"{name}: rows of shape {chunk.shape[1:]}, {tuple(shape[1:])} were expected")
            member.write(chunk.tobytes())
            written += chunk.shape[0] if chunk.ndim else 1
        if shape and written != shape[0]:
            raise SourceError(f"{name}: wrote {written} rows, {shape[0]} were expected (a file changed while exporting?)")


def _whole(array: np.ndarray) -> Iterator[np.ndarray]:
    yield array


def _checked(clips: list[ExportClip], layout: KeypointLayout) -> Iterator[ClipKeypoints]:
    for clip in clips:
        keypoints = clip.load()
        if keypoints.layout != layout:
            raise SourceError(
                f"clip {clip.clip_id!r} has parts {keypoints.layout.describe()}, earlier clips of its split have"
                f" {layout.describe()}: one NPZ array cannot hold both (export the splits of each layout apart)"
            )
        if keypoints.num_frames != len(clip.image_paths):
            raise SourceError(f"clip {clip.clip_id!r}: has {keypoints.num_frames} frames, {len(clip.image_paths)} were listed")
        yield keypoints


def _rows(keypoints: ClipKeypoints, layout: KeypointLayout) -> np.ndarray:
    where = np.concatenate([np.arange(keypoints.layout.total)[keypoints.layout.slices[part.name]] for part in layout.parts] or [np.zeros(0, int)])
    return np.concatenate([keypoints.points[:, where], keypoints.confidence[:, where, None]], axis=2)


def _names(values: Sequence[str]) -> np.ndarray:
    return np.array(list(values), dtype=f"<U{max((len(v) for v in values), default=1)}")


def _offsets(layout: KeypointLayout) -> np.ndarray:
    return np.array([0, *(layout.slices[name].stop for name in layout.names)], dtype=np.int64)


def _write_split(handle: IO[bytes], clips: list[ExportClip]) -> int:
    frames = sum(len(clip.image_paths) for clip in clips)
    full = clips[0].load().layout if clips else KeypointLayout(())
    image = KeypointLayout(tuple(part for part in full.parts if part.space == "image"))
    world = KeypointLayout(tuple(part for part in full.parts if part.space == "world"))
    present: list[np.ndarray] = []  # frames × parts bools: small enough to keep

    def image_rows() -> Iterator[np.ndarray]:
        for keypoints in _checked(clips, full):
            present.append(keypoints.present)
            yield _rows(keypoints, image)

    longest = max((len(path) for clip in clips for path in clip.image_paths), default=1)
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        _write_array(archive, "keypoints", np.float32, (frames, image.total, 4), image_rows())
        mask = np.concatenate(present) if present else np.zeros((0, len(full.parts)), bool)
        for prefix, layout in (("", image), ("world_", world)):
            if prefix and not layout.parts:
                continue
            if prefix:  # a second pass: the world points are their own array
                rows = (_rows(keypoints, world) for keypoints in _checked(clips, full))
                _write_array(archive, "world_keypoints", np.float32, (frames, world.total, 4), rows)
            columns = [full.index(name) for name in layout.names]
            _write_array(archive, f"{prefix}present", bool, (frames, len(columns)), _whole(mask[:, columns]))
            _write_array(archive, f"{prefix}parts", _names(layout.names).dtype, (len(columns),), _whole(_names(layout.names)))
            _write_array(archive, f"{prefix}part_offsets", np.int64, (len(columns) + 1,), _whole(_offsets(layout)))
        ids = _names([clip.clip_id for clip in clips])
        _write_array(archive, "clip_ids", ids.dtype, ids.shape, _whole(ids))
        counts = np.cumsum([0, *(len(clip.image_paths) for clip in clips)], dtype=np.int64)
        _write_array(archive, "clip_offsets", np.int64, counts.shape, _whole(counts))
        paths = (np.array(clip.image_paths, dtype=f"<U{longest}").reshape(-1) for clip in clips)
        _write_array(archive, "image_paths", f"<U{longest}", (frames,), paths)
    return frames


def export_npz(run: Path, out: Path, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write ``<out>/<split>.npz`` per split (``out`` is a folder), ok clips in dataset order."""
    out = Path(out)
    check_output_path(out)  # never into a run folder, nor over its files
    if out.exists() and not out.is_dir():
        raise SourceError(f"{out}: NPZ export writes one file per split into a folder; this path is a file")
    source = open_source(run, splits)
    files: list[Path] = []
    clips = frames = 0
    for split, chosen in source.splits.items():
        try:
            name = safe_name(split, "split")
        except StoreError as error:
            raise SourceError(str(error)) from error
        target = out / f"{name}.npz"
        with atomic_open(target) as handle:
            frames += _write_split(handle, chosen)
        files.append(target)
        clips += len(chosen)
    return ExportSummary(splits=tuple(source.splits), clips=clips, frames=frames, files=tuple(files))
