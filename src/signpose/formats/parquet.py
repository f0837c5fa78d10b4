"""signpose's Parquet keypoints: one row per clip, for training.

Columns, in order: ``split``, ``clip_id``, the dataset's own label columns (``LABELS``),
``dataset_layout``, ``layout`` (the keypoints' layout by name: its parts and their points), ``frames``, ``fps``, ``width``, ``height``, ``source`` (the clip's frame
folder or video), ``frame_names`` (null where the frames have no names: a bare .pose file),
``keypoints`` [frames][points][3] float32, ``confidence`` [frames][points] float32 and
``present`` [frames][parts] bool. Points are those of the layout, parts concatenated in
its order; image parts in normalised coordinates (x / width, y / height, z as the
estimator gives it), world parts in metres: ``ClipKeypoints`` as it is, so every value is
bit for bit what the NPZ and pickle exports hold.

The key-value metadata ``signpose`` of the file is one JSON document (``document``): the
layout (every part's points, limbs, colours, offset), the estimator spec, signpose's
version, the split's stats and the clips left out. This module knows nothing of run
folders; ``pyarrow`` is imported only when a function needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signpose.errors import DependencyError, SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout, PartLayout

INSTALL = "pip install 'signpose[parquet]'"
FORMAT = "signpose keypoints"
FORMAT_VERSION = 1
METADATA_KEY = b"signpose"
MAGIC = b"PAR1"
SUFFIX = ".parquet"
# The dataset's own label columns per layout: (column, the index record's field).
LABELS: dict[str, tuple[tuple[str, str], ...]] = {
    "phoenix-2014-t": (("speaker", "signer"), ("orth", "gloss"), ("translation", "translation")),
    "phoenix-2014": (("signer", "signer"), ("annotation", "gloss")),
}
# Other layouts (frame folders, videos) have none, unless a video manifest gave some.
MANIFEST_LABELS: tuple[tuple[str, str], ...] = (("signer", "signer"), ("gloss", "gloss"), ("translation", "translation"))
COLUMNS: dict[str, str] = {
    "split": "the split", "clip_id": "the clip's id in its split",
    "dataset_layout": "the dataset's layout: phoenix-2014-t, phoenix-2014, folder or video ('' if unknown)",
    "layout": "the keypoints' layout: its points and parts, as '576 points: pose 33, face 468, ...' (the metadata has every point's name)",
    "frames": "number of frames", "fps": "frames per second", "width": "frame width, pixels", "height": "frame height, pixels",
    "source": "the clip's frame folder or video, as extracted",
    "frame_names": "file name (or video frame number) of every frame; null where frames have no names",
    "keypoints": "[frames][points][x, y, z] float32: image parts x / width, y / height (normalised), z as the estimator"
                 " gives it; world parts in metres",
    "confidence": "[frames][points] float32: the body's visibility, 1 for detected face and hand points, 0 where not detected",
    "present": "[frames][parts] bool: whether each part was detected in the frame",
}
STATISTICS = ("split", "clip_id", "dataset_layout", "frames", "fps", "width", "height")  # min/max kept for these only


def load_pyarrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or DependencyError with the install command."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:
        raise DependencyError(f"Parquet needs pyarrow, which is not installed ({error}): {INSTALL}") from error
    return pyarrow, pyarrow.parquet


def is_parquet(path: Path) -> bool:
    """Does the (regular) file start with Parquet's magic bytes?"""
    with Path(path).open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


@dataclass(frozen=True)
class Row:
    """What one row says of its clip besides the keypoints."""

    split: str
    clip_id: str
    labels: tuple[tuple[str, str], ...]  # (column, value), in column order
    dataset_layout: str
    fps: float
    source: str
    frame_names: tuple[str, ...] | None


def label_columns(dataset_layout: str, *, manifest_labels: bool) -> tuple[tuple[str, str], ...]:
    """(column, record field) of a layout's labels; ``manifest_labels``: the clips of a
    layout without its own carry signer / gloss / translation (a video manifest's)."""
    return LABELS.get(dataset_layout, MANIFEST_LABELS if manifest_labels else ())


def _point_types(pa: Any, layout: KeypointLayout) -> tuple[Any, Any, Any]:
    """keypoints, confidence, present column types; fixed sizes where the layout has points."""
    def fixed(item: Any, size: int) -> Any:
        return pa.list_(item, size) if size else pa.list_(item)

    return (
        pa.list_(fixed(fixed(pa.float32(), 3), layout.total)),
        pa.list_(fixed(pa.float32(), layout.total)),
        pa.list_(fixed(pa.bool_(), len(layout.parts))),
    )


def schema(layout: KeypointLayout, labels: Sequence[str]) -> Any:
    pa, _ = load_pyarrow()
    keypoints, confidence, present = _point_types(pa, layout)
    return pa.schema(
        [("split", pa.string()), ("clip_id", pa.string()), *((name, pa.string()) for name in labels),
         ("dataset_layout", pa.string()), ("layout", pa.string()), ("frames", pa.int32()), ("fps", pa.float64()), ("width", pa.int32()),
         ("height", pa.int32()), ("source", pa.string()), ("frame_names", pa.list_(pa.string())),
         ("keypoints", keypoints), ("confidence", confidence), ("present", present)]
    )  # fmt: skip


def clip_batch(table_schema: Any, row: Row, keypoints: ClipKeypoints) -> Any:
    """One clip as a one-row record batch of ``table_schema``."""
    pa, _ = load_pyarrow()
    frames = keypoints.num_frames
    offsets = pa.array([0, frames], pa.int32())

    def nested(values: np.ndarray, *sizes: int) -> Any:
        array = pa.array(np.ascontiguousarray(values).reshape(-1))
        for size in reversed(sizes):
            array = pa.FixedSizeListArray.from_arrays(array, size)
        return pa.ListArray.from_arrays(offsets, array)

    names = None if row.frame_names is None else list(row.frame_names)
    columns = [
        pa.array([row.split], pa.string()), pa.array([row.clip_id], pa.string()),
        *(pa.array([value], pa.string()) for _, value in row.labels),
        pa.array([row.dataset_layout], pa.string()), pa.array([layout_name(keypoints.layout)], pa.string()),
        pa.array([frames], pa.int32()), pa.array([row.fps], pa.float64()),
        pa.array([keypoints.width], pa.int32()), pa.array([keypoints.height], pa.int32()),
        pa.array([row.source], pa.string()), pa.array([names], pa.list_(pa.string())),
        nested(keypoints.points.astype(np.float32, copy=False), keypoints.layout.total, 3),
        nested(keypoints.confidence.astype(np.float32, copy=False), keypoints.layout.total),
        nested(keypoints.present.astype(bool, copy=False), len(keypoints.layout.parts)),
    ]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, schema=table_schema)


def layout_name(layout: KeypointLayout) -> str:
    """The ``layout`` column: '576 points: pose 33, face 468, left_hand 21, right_hand 21, pose_world 33'."""
    return f"{layout.total} points: " + ", ".join(f"{part.name} {part.size}" for part in layout)


def layout_json(layout: KeypointLayout) -> list[dict[str, Any]]:
    return [
        {"name": part.name, "component": part.component, "space": part.space, "offset": layout.slices[part.name].start,
         "points": list(part.points), "limbs": [list(limb) for limb in part.limbs],
         "colours": [list(colour) for colour in part.colours]}
        for part in layout
    ]  # fmt: skip


def layout_from_json(parts: Any, where: str) -> KeypointLayout:
    """The layout a file's metadata declares; SourceError if it is not of the schema."""
    try:
        layout = KeypointLayout(tuple(
            PartLayout(
                name=str(part["name"]), component=str(part["component"]),
                points=tuple(_strings(part["points"])),
                limbs=tuple((int(a), int(b)) for a, b in part["limbs"]),
                colours=tuple((int(r), int(g), int(b)) for r, g, b in part["colours"]),
                space={"image": "image", "world": "world"}[part["space"]],
            )
            for part in parts
        ))  # fmt: skip
    except (TypeError, KeyError, ValueError) as error:
        raise SourceError(f"{where}: signpose metadata unreadable (its layout: {type(error).__name__}: {error})") from error
    if [part["offset"] for part in parts] != [layout.slices[name].start for name in layout.names]:
        raise SourceError(f"{where}: signpose metadata unreadable (part offsets do not follow the point counts)")
    return layout


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TypeError("point names must be a list of strings")
    return values


def document(fields: Mapping[str, Any], layout: KeypointLayout) -> bytes:
    """The ``signpose`` metadata: ``fields`` (split, estimator, stats, left_out ...) with the
    format, the layout and the column descriptions; sorted keys, so equal inputs give equal bytes."""
    from signpose import __version__

    doc = {**fields, "format": FORMAT, "format_version": FORMAT_VERSION, "signpose_version": __version__,
           "parts": layout_json(layout), "points": layout.total, "columns": COLUMNS}  # fmt: skip
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_document(metadata: Mapping[bytes, bytes] | None, where: str) -> dict[str, Any]:
    """A file's ``signpose`` metadata; SourceError for a Parquet file signpose did not write."""
    raw = (metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise SourceError(f"{where}: a Parquet file without signpose's metadata (not written by signpose export --format parquet)")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise SourceError(f"{where}: signpose metadata unreadable ({type(error).__name__}: {error})") from error
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("split"), str):
        raise SourceError(f"{where}: signpose metadata unreadable (not a {FORMAT!r} document with its split)")
    if doc.get("format_version") != FORMAT_VERSION:
        raise SourceError(f"{where}: written as format version {doc.get('format_version')!r}; this signpose reads {FORMAT_VERSION}")
    return doc


def check_schema(file_schema: Any, layout: KeypointLayout, where: str) -> tuple[str, ...]:
    """The label columns of a file whose columns are of the schema for ``layout``."""
    names = list(file_schema.names)
    try:
        labels = names[2 : names.index("dataset_layout")]
        expected = schema(layout, labels)
    except ValueError:
        raise SourceError(f"{where}: not of signpose's Parquet schema (its columns: {', '.join(names)})") from None
    if not file_schema.remove_metadata().equals(expected):
        wrong = [field.name for field in expected if field.name not in names or file_schema.field(field.name).type != field.type]
        raise SourceError(f"{where}: not of signpose's Parquet schema for its layout ({', '.join(wrong) or 'column order'} differ)")
    return tuple(labels)


def _flat(column: Any) -> np.ndarray:
    """The values of a one-row column of nested lists (a table's), flat."""
    pa, _ = load_pyarrow()
    array = column.combine_chunks().flatten()  # the row's list of frames
    while pa.types.is_fixed_size_list(array.type) or pa.types.is_list(array.type):
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False)


FIELDS = ("split", "clip_id", "dataset_layout", "frames", "fps", "width", "height", "source", "frame_names")  # all but the arrays


@dataclass(frozen=True)
class Listed:
    """A row's fields without its arrays (what reading ``FIELDS`` and the labels gives)."""

    row: Row
    frames: int
    width: int
    height: int


def read_fields(table: Any, index: int, labels: Sequence[str], where: str) -> Listed:
    """Row ``index`` of ``table`` (holding at least ``FIELDS`` and ``labels``), less its arrays."""
    value = {name: table.column(name)[index].as_py() for name in (*FIELDS, *labels)}
    if not isinstance(value["clip_id"], str) or not all(isinstance(value[k], int) and value[k] >= 0 for k in ("frames", "width", "height")):
        raise SourceError(f"{where}: row {index} is not of the schema (clip id, frames, width, height)")
    names = value["frame_names"]
    if names is not None and len(names) != value["frames"]:
        raise SourceError(f"{where}: clip {value['clip_id']!r}: {len(names)} frame names for {value['frames']} frames")
    row = Row(
        split=value["split"] or "", clip_id=value["clip_id"], labels=tuple((name, value[name] or "") for name in labels),
        dataset_layout=value["dataset_layout"] or "", fps=float(value["fps"] or 0.0), source=value["source"] or "",
        frame_names=None if names is None else tuple(names),
    )  # fmt: skip
    return Listed(row, value["frames"], value["width"], value["height"])


def read_keypoints(table: Any, index: int, listed: Listed, layout: KeypointLayout, where: str) -> ClipKeypoints:
    """Row ``index`` of ``table`` (of the schema for ``layout``) back as keypoints."""
    row = table.slice(index, 1)
    frames, total, parts = listed.frames, layout.total, len(layout.parts)
    try:
        points = _flat(row.column("keypoints")).astype(np.float32, copy=False).reshape(frames, total, 3)
        confidence = _flat(row.column("confidence")).astype(np.float32, copy=False).reshape(frames, total)
        present = _flat(row.column("present")).astype(bool, copy=False).reshape(frames, parts)
        return ClipKeypoints(points=points, confidence=confidence, present=present, width=listed.width,
                             height=listed.height, fps=listed.row.fps, layout=layout)  # fmt: skip
    except (ValueError, TypeError) as error:
        raise SourceError(f"{where}: clip {listed.row.clip_id!r}: arrays do not fit its {frames} frames ({error})") from error
