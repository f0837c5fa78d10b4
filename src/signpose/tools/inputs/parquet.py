"""A Parquet export as an input (see ``inputs``): a folder of ``<split>.parquet`` files as
``signpose export --format parquet`` writes them, or one such file. Each file holds one
split; its rows are clips, found by id through the ``clip_id`` column alone, and read one
row at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signpose.errors import SourceError
from signpose.files import natural_key
from signpose.formats.keypoints_pickle import ClipArrays, keypoint_arrays
from signpose.formats.parquet import FIELDS, SUFFIX, Listed, check_schema, layout_from_json, load_pyarrow, read_document, read_fields, read_keypoints
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout
from signpose.run.reader import LoadedClip
from signpose.run.record import ClipResult, ClipStatus
from signpose.tools.inputs.base import InputClip, InputInfo, choose, find_among
from signpose.tools.verify_report import SourceKind

LABEL_FIELDS = ("signer", "gloss", "translation")  # the index record's fields a label column may hold


def holds_parquet(folder: Path) -> bool:
    """Does the folder hold ``*.parquet`` files directly in it?"""
    with os.scandir(folder) as entries:
        return any(e.name.endswith(SUFFIX) and not e.name.startswith(".") and e.is_file() for e in entries)


@dataclass(frozen=True)
class _Split:
    path: Path
    doc: Mapping[str, Any]
    layout: KeypointLayout
    labels: tuple[str, ...]  # label columns, in order
    fields: Mapping[str, str]  # label column -> the record field it holds
    rows: Mapping[str, tuple[int, int]]  # clip id -> (row group, row in it), in file order
    handle: Any  # the open pyarrow.parquet.ParquetFile


def _unreadable(path: Path, error: Exception) -> SourceError:
    return SourceError(f"{path}: not a readable Parquet file ({type(error).__name__}: {error})")


def _open_file(path: Path) -> _Split:
    pa, pq = load_pyarrow()
    try:
        handle = pq.ParquetFile(path)
        doc = read_document(handle.metadata.metadata, str(path))
        layout = layout_from_json(doc.get("parts"), str(path))
        labels = check_schema(handle.schema_arrow, layout, str(path))
        rows: dict[str, tuple[int, int]] = {}
        for group in range(handle.num_row_groups):
            for row, clip_id in enumerate(handle.read_row_group(group, columns=["clip_id"]).column(0).to_pylist()):
                if clip_id in rows or not isinstance(clip_id, str):
                    raise SourceError(f"{path}: clip {clip_id!r} appears twice (or is not a name)")
                rows[clip_id] = (group, row)
    except (OSError, pa.ArrowException) as error:
        raise _unreadable(path, error) from error
    declared = doc.get("label_columns") if isinstance(doc.get("label_columns"), dict) else {}
    fields = {column: declared[column] for column in labels if declared.get(column) in LABEL_FIELDS}
    return _Split(Path(path), doc, layout, labels, fields, rows, handle)


class ParquetInput:
    """One Parquet file, or a folder of them (one split each). Listing a split reads its
    small columns only; a clip's arrays are read when it is loaded."""

    kind: SourceKind = "parquet"

    def __init__(self, path: Path, splits: Mapping[str, _Split]) -> None:
        self.path = Path(path)
        self._splits = dict(splits)
        self._last: tuple[tuple[str, str], ClipKeypoints] | None = None

    @classmethod
    def open(cls, path: Path) -> "ParquetInput":
        path = Path(path)
        files = [path] if path.is_file() else sorted(
            (p for p in path.iterdir() if p.suffix == SUFFIX and not p.name.startswith(".") and p.is_file()),
            key=lambda p: natural_key(p.name),
        )  # fmt: skip
        opened: dict[str, _Split] = {}
        for file in files:
            split = _open_file(file)
            name = split.doc["split"]
            if name in opened:
                raise SourceError(f"{path}: split {name!r} is in both {opened[name].path.name} and {file.name}")
            opened[name] = split
        order = opened[next(iter(opened))].doc.get("splits") if opened else None
        ranks = {name: rank for rank, name in enumerate(order)} if isinstance(order, list) else {}
        return cls(path, dict(sorted(opened.items(), key=lambda item: ranks.get(item[0], len(ranks)))))

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self._splits)

    def stats(self, *, required: bool = False) -> Mapping[str, Any] | None:
        stats = {name: s.doc["stats"] for name, s in self._splits.items() if isinstance(s.doc.get("stats"), dict)}
        return stats or None

    def info(self) -> InputInfo:
        doc = next(iter(self._splits.values())).doc if self._splits else {}
        layout = doc.get("dataset_layout") if isinstance(doc.get("dataset_layout"), str) else ""
        estimator = doc.get("estimator") if isinstance(doc.get("estimator"), dict) else None
        labelled = any(s.fields for s in self._splits.values())
        return InputInfo(dataset_layout=layout, estimator=estimator, manifest_labels=labelled)

    def select(self, splits: Sequence[str] | None) -> tuple[str, ...]:
        return choose(self.path, self.splits, splits)

    def _clip(self, part: _Split, listed: Listed) -> InputClip:
        found = listed.row
        if found.split != part.doc["split"]:
            raise SourceError(f"{part.path}: clip {found.clip_id!r} of split {found.split!r} in the file of {part.doc['split']!r}")
        labels = {part.fields[column]: value for column, value in found.labels if column in part.fields}
        names = found.frame_names or tuple(f"#{i}" for i in range(listed.frames))
        record = ClipResult(
            found.split, found.clip_id, ClipStatus.OK, source=found.source, frames=listed.frames, frame_names=names,
            width=listed.width, height=listed.height, fps=found.fps, **labels,
        )  # fmt: skip
        return InputClip(record, positional=found.frame_names is None)

    def _table(self, part: _Split, group: int, *, arrays: bool) -> Any:
        pa, _ = load_pyarrow()
        try:
            return part.handle.read_row_group(group, columns=None if arrays else [*FIELDS, *part.labels])
        except (OSError, pa.ArrowException) as error:
            raise _unreadable(part.path, error) from error

    def _listed(self, split: str, clip_id: str) -> InputClip:
        part = self._splits[split]
        group, row = part.rows[clip_id]
        return self._clip(part, read_fields(self._table(part, group, arrays=False), row, part.labels, str(part.path)))

    def clips(self, split: str) -> Iterator[InputClip]:
        part = self._splits[split]
        for group in range(part.handle.num_row_groups):
            table = self._table(part, group, arrays=False)
            for row in range(table.num_rows):
                yield self._clip(part, read_fields(table, row, part.labels, str(part.path)))

    def _keypoints(self, split: str, clip_id: str) -> ClipKeypoints:
        if self._last is None or self._last[0] != (split, clip_id):
            part = self._splits[split]
            group, row = part.rows[clip_id]
            table = self._table(part, group, arrays=True)
            listed = read_fields(table, row, part.labels, str(part.path))
            self._last = ((split, clip_id), read_keypoints(table, row, listed, part.layout, str(part.path)))
        return self._last[1]

    def load(self, clip: InputClip) -> LoadedClip:
        try:
            return LoadedClip(self._keypoints(clip.split, clip.clip_id), None)
        except SourceError as error:
            return LoadedClip(None, str(error))
        except KeyError:
            return LoadedClip(None, f"{self.path}: no clip {clip.split}/{clip.clip_id}")

    def find(self, clip_id: str, split: str | None) -> InputClip:
        listing = {name: s.rows for name, s in self._splits.items()}
        return self._listed(*find_among(self.path, listing, clip_id, split))

    def clip_ids(self, split: str) -> Mapping[str, Any]:
        return self._splits[split].rows

    def arrays(self, split: str, clip_id: str) -> tuple[ClipArrays | None, str | None]:
        try:
            clip, keypoints = self._listed(split, clip_id), self._keypoints(split, clip_id)
        except SourceError as error:
            return None, str(error)
        names = None if clip.positional else clip.record.frame_names
        return keypoint_arrays(keypoints, clip.record.source, names), None
