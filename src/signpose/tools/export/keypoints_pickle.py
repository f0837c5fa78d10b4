"""Export a run folder (or a folder of .pose files, or a Parquet export) to the keypoints
pickle of data/extract_phoenix_keypoints*.py.

The pickle is streamed: the outer dict/list opcodes are written here and each frame dict
is pickled on its own; the clips are read from the input one at a time (its index three
times: image paths, keypoints, video ids), so memory holds one clip however large the
dataset. Protocol 3 is used for the frames: like protocol 2 it names memo slots explicitly
(BINPUT n) and has no framing, so a frame's opcodes are self-contained once PROTO and STOP
are cut off; unlike protocol 2 it writes array bytes natively instead of via _codecs.encode.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import STATS_KEY, clip_frames
from signpose.run.guard import check_output_path
from signpose.run.store import atomic_open
from signpose.tools.export.common import ExportSummary, LeftOut, clip_keypoints
from signpose.tools.inputs import Input, InputClip, open_input

__all__ = ["PROTOCOL", "ExportSummary", "export_pickle"]

PROTOCOL = 3
# Opcodes of the outer structure (see pickletools): the frames are pickled by pickle itself.
_MARK, _EMPTY_DICT, _EMPTY_LIST, _APPENDS, _SETITEMS, _STOP = b"(", b"}", b"]", b"e", b"u", b"."
PICKLE_PARTS = ("pose", "face", "left_hand", "right_hand")


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


def _ok(source: Input, split: str) -> Iterator[InputClip]:
    return (clip for clip in source.clips(split) if clip.ok)


def _frame_batches(source: Input, split: str, counted: dict[str, int], left_out: list[LeftOut]) -> Iterator[list[Any]]:
    for _, keypoints in clip_keypoints(source, split, left_out):
        counted["frames"] += keypoints.num_frames
        counted["clips"] += 1
        for part in PICKLE_PARTS:
            key = f"frames_with_{part}"
            counted[key] = counted.get(key, 0) + (keypoints.frames_with(part) if part in keypoints.layout.names else 0)
        yield clip_frames(keypoints)


def export_pickle(run: Path, out: Path, *, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write a run (or a folder of .pose files) as one keypoints pickle at ``out``, frames in
    dataset order; failed clips are left out (and listed in the summary)."""
    out = Path(out)
    check_output_path(out)  # never over a run's own files
    if out.is_dir():
        raise SourceError(
            f"{out}: is a folder; the pickle export writes one file (give a file name such as {out / 'export.pkl'},"
            " or use --format npz or parquet for a folder)"
        )
    source = open_input(run)
    chosen = source.select(splits)
    stats = source.stats(required=True)
    clips = frames = 0
    counted: dict[str, dict[str, int]] = {}
    left_out: list[LeftOut] = []
    with atomic_open(out) as handle:
        handle.write(pickle.PROTO + bytes([PROTOCOL]) + _EMPTY_DICT + _MARK)
        for split in chosen:
            tally = counted[split] = {"clips": 0, "frames": 0}
            handle.write(_body(split) + _EMPTY_DICT + _MARK)
            handle.write(_body("image_paths"))
            _write_list(handle, (list(clip.image_paths) for clip in _ok(source, split)))
            handle.write(_body("keypoints"))
            _write_list(handle, _frame_batches(source, split, tally, left_out))
            handle.write(_body("video_ids"))
            _write_list(handle, ([clip.clip_id] * len(clip.record.frame_names) for clip in _ok(source, split)))
            handle.write(_SETITEMS)
            clips += tally["clips"]
            frames += tally["frames"]
        kept = stats if stats is not None else counted
        handle.write(_body(STATS_KEY) + _body({split: kept[split] for split in chosen if split in kept}))
        handle.write(_SETITEMS + _STOP)
    return ExportSummary(splits=chosen, clips=clips, frames=frames, files=(out,), left_out=tuple(left_out))
