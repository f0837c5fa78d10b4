"""A run folder as an input: its clips streamed from the index."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import ClipArrays, keypoint_arrays
from signpose.formats.parquet import LABELS
from signpose.run.reader import LoadedClip, RunReader
from signpose.run.record import ClipResult, ClipStatus
from signpose.tools.inputs.base import InputClip, InputInfo, choose
from signpose.tools.verify_report import SourceKind


class RunInput:
    """A run folder. Its clips are streamed from the index (only each clip's line number
    is held), in the order ``RunReader.records`` gives them."""

    kind: SourceKind = "run folder"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.reader = RunReader(self.path)
        self._lines: dict[tuple[str, str], int] | None = None
        self._in_order = True
        self._ok: dict[str, dict[str, ClipResult]] | None = None

    def _latest(self) -> dict[tuple[str, str], int]:
        """Each clip's latest index line, in first-seen order (one pass, no records held)."""
        if self._lines is None:
            lines: dict[tuple[str, str], int] = {}
            for number, record in enumerate(self.reader.iter_records()):
                self._in_order = self._in_order and record.key not in lines
                lines[record.key] = number
            self._lines = lines
        return self._lines

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(split for split, _ in self._latest()))

    def stats(self, *, required: bool = False) -> Mapping[str, Any] | None:
        return self.reader.require_stats() if required else self.reader.stats()

    def info(self) -> InputInfo:
        info = self.reader.run_info() or {}
        estimator = info.get("estimator") if isinstance(info.get("estimator"), dict) else None
        layout = info.get("layout") if isinstance(info.get("layout"), str) else ""
        labelled = layout not in LABELS and any(r.signer or r.gloss or r.translation for r in self.reader.iter_records())
        return InputInfo(dataset_layout=layout, estimator=estimator, manifest_labels=labelled)

    def select(self, splits: Sequence[str] | None) -> tuple[str, ...]:
        return choose(self.path, self.splits, splits, "the run")

    def clips(self, split: str) -> Iterator[InputClip]:
        latest = self._latest()
        if not self._in_order:  # a clip recorded twice (an interrupted resume): the reader's order
            yield from (InputClip(r) for r in self.reader.records if r.split == split)
            return
        for number, record in enumerate(self.reader.iter_records()):
            if record.split == split and latest.get(record.key) == number:
                yield InputClip(record)

    def load(self, clip: InputClip) -> LoadedClip:
        return self.reader.load_clip(clip.record)

    def find(self, clip_id: str, split: str | None) -> InputClip:
        record = self.reader.find_clip(clip_id, split)
        if record.status is not ClipStatus.OK or not record.pose_file:
            raise SourceError(f"{self.path}: clip {record.split}/{record.clip_id} failed, nothing to draw: {record.error}")
        return InputClip(record)

    def clip_ids(self, split: str) -> Mapping[str, Any]:
        """(Verify reads clips by id: here the reader holds every record.)"""
        if self._ok is None:
            self._ok = {name: {r.clip_id: r for r in self.reader.ok_clips(name)} for name in self.reader.splits}
        return self._ok.get(split, {})

    def arrays(self, split: str, clip_id: str) -> tuple[ClipArrays | None, str | None]:
        record = self.clip_ids(split)[clip_id]
        loaded = self.reader.load_clip(record)
        if loaded.keypoints is None:
            return None, loaded.problem
        return keypoint_arrays(loaded.keypoints, record.source, record.frame_names), loaded.problem
