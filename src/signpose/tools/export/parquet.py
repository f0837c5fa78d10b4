"""Export to Parquet, for training: one ``<split>.parquet`` per split in a folder, one row
per clip (its labels, size, rate, frame names, and its keypoints, confidences and
presence as nested lists; ``formats.parquet`` has the columns).

Streamed: clips are read one at a time and each is written as its own row group with
``pyarrow.parquet.ParquetWriter``, so memory holds one clip whatever the dataset's size
(the file's footer grows by ~1 KB per clip, never per frame). Each file is written under a
temporary name and renamed when whole (``atomic_open``). A clip that failed at extraction,
or whose .pose file cannot be read, is not in the file: it is listed in the file's
metadata (``left_out``) and in the summary. Equal inputs give equal bytes (no clock, no
host, no path of the output in the file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from signpose.errors import SourceError
from signpose.formats.parquet import STATISTICS, SUFFIX, Row, clip_batch, document, label_columns, load_pyarrow, schema
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout
from signpose.run.record import ClipResult
from signpose.run.store import atomic_open
from signpose.tools.export.common import ExportSummary, LeftOut, clip_keypoints, output_folder, split_file
from signpose.tools.inputs import Input, InputClip, InputInfo, open_input

COMPRESSION = "zstd"


def _label(record: ClipResult, field: str) -> str:
    return {"signer": record.signer, "gloss": record.gloss, "translation": record.translation}[field]


def _layout(source: Input, splits: Sequence[str]) -> KeypointLayout:
    """The export's one layout: its first clip that loads (empty if none does)."""
    for split in splits:
        for clip in source.clips(split):
            if clip.ok and (keypoints := source.load(clip).keypoints) is not None:
                return keypoints.layout
    return KeypointLayout(())


def _row(clip: InputClip, keypoints: ClipKeypoints, info: InputInfo, labels: Sequence[tuple[str, str]]) -> Row:
    record = clip.record
    return Row(
        split=clip.split, clip_id=clip.clip_id, labels=tuple((column, _label(record, field)) for column, field in labels),
        dataset_layout=info.dataset_layout, fps=float(record.fps or keypoints.fps), source=record.source,
        frame_names=None if clip.positional else tuple(record.frame_names),
    )  # fmt: skip


def _count(counted: dict[str, int], keypoints: ClipKeypoints) -> None:
    counted["clips"] += 1
    counted["frames"] += keypoints.num_frames
    for part, frames in keypoints.detected().items():
        counted[f"frames_with_{part}"] = counted.get(f"frames_with_{part}", 0) + frames


def _write_split(
    handle: IO[bytes], source: Input, split: str, layout: KeypointLayout, fields: Mapping[str, Any], left_out: list[LeftOut],
) -> dict[str, int]:  # fmt: skip
    """One split's file; returns what was counted (clips, frames, frames with each part)."""
    _, pq = load_pyarrow()
    info: InputInfo = fields["info"]
    labels = label_columns(info.dataset_layout, manifest_labels=info.manifest_labels)
    table_schema = schema(layout, [column for column, _ in labels])
    counted = {"clips": 0, "frames": 0}
    left: list[LeftOut] = []
    writer = pq.ParquetWriter(handle, table_schema, compression=COMPRESSION, use_dictionary=False,
                              write_statistics=[*STATISTICS, *(column for column, _ in labels)])  # fmt: skip
    try:
        for clip, keypoints in clip_keypoints(source, split, left, strict=False):
            if keypoints.layout != layout:
                raise SourceError(
                    f"clip {clip.clip_id!r} has parts {keypoints.layout.describe()}, earlier clips have {layout.describe()}:"
                    " one Parquet column cannot hold both (export the clips of each layout apart)"
                )
            writer.write_batch(clip_batch(table_schema, _row(clip, keypoints, info, labels), keypoints))  # its own row group
            _count(counted, keypoints)
        stats = fields["stats"]
        doc = {"splits": fields["splits"], "split": split, "stats": stats.get(split) if stats is not None else counted,
               "dataset_layout": info.dataset_layout, "label_columns": dict(labels), "estimator": info.estimator,
               "clips": counted["clips"], "frames": counted["frames"], "left_out": [clip.to_json() for clip in left]}  # fmt: skip
        writer.add_key_value_metadata({"signpose": document(doc, layout).decode("utf-8")})
    finally:
        writer.close()  # on an error too: the temporary file is then removed
    left_out += left
    return counted


def export_parquet(run: Path, out: Path, *, splits: Sequence[str] | None = None) -> ExportSummary:
    """Write ``<out>/<split>.parquet`` per split (``out`` is a folder), clips in dataset order."""
    load_pyarrow()  # a missing pyarrow is said before anything else
    out = output_folder(out, "Parquet")
    source = open_input(run)
    chosen = source.select(splits)
    fields = {"splits": list(chosen), "stats": source.stats(required=True), "info": source.info()}
    layout = _layout(source, chosen)
    files: list[Path] = []
    left_out: list[LeftOut] = []
    clips = frames = 0
    for split in chosen:
        target = split_file(out, split, SUFFIX)
        with atomic_open(target) as handle:
            counted = _write_split(handle, source, split, layout, fields, left_out)
        clips, frames = clips + counted["clips"], frames + counted["frames"]
        files.append(target)
    return ExportSummary(splits=chosen, clips=clips, frames=frames, files=tuple(files), left_out=tuple(left_out))
