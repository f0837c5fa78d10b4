"""Compare two keypoint sources (run folders, folders of .pose files, keypoints pickles,
Parquet exports: whatever ``inputs.open_input`` opens) frame by frame.

Frames are matched by (split, clip id, frame file name), so the same dataset mounted
elsewhere still matches; a folder of bare .pose files has no frame names, so its frames
match by position. Parts are matched by name and compared where both sides have them
(x, y, z, and confidence where both sides keep it); a part only one side has is a
difference, except the parts a keypoints pickle cannot hold. Values are compared as every
input holds them, normalised (x / width, y / height, float32; world parts in metres), so a
Parquet, NPZ or pickle export of a run equals it bit for bit. Clips are read one at a
time; a pickle is in memory whole anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import PARTS as PICKLE_PARTS
from signpose.formats.keypoints_pickle import ClipArrays
from signpose.tools.inputs import Input, open_input
from signpose.tools.verify_report import Examples, Part, PartReport, SourceKind, SplitReport, VerifyReport

__all__ = ["SplitReport", "VerifyReport", "compare_sources"]

EXAMPLES = 5


@dataclass(frozen=True)
class _Loaded:
    clip: ClipArrays | None
    problem: str | None  # why a clip's file cannot be trusted


@dataclass(frozen=True)
class _Side:
    kind: SourceKind
    clips: Mapping[str, Mapping[str, Any]]  # split -> clip id -> anything, in source order
    stats: Mapping[str, Any] | None
    source: Input

    @classmethod
    def of(cls, source: Input) -> "_Side":
        return cls(source.kind, {split: source.clip_ids(split) for split in source.splits}, source.stats(), source)

    def load(self, split: str, clip_id: str) -> _Loaded:
        return _Loaded(*self.source.arrays(split, clip_id))


@dataclass
class _PartTally:
    both: int = 0
    only_a: int = 0
    only_b: int = 0
    neither: int = 0
    max_abs_diff: float | None = None
    max_diff_at: str | None = None
    over_atol: int = 0
    shape_mismatches: int = 0


@dataclass
class _Sample:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, items: Sequence[str]) -> None:
        self.count += len(items)
        self.examples += items[: EXAMPLES - len(self.examples)]

    def freeze(self) -> Examples:
        return Examples(self.count, tuple(self.examples))


def _frame_diffs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest absolute difference per frame; equal values (inf, nan in both) count as 0."""
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
    diff[(a == b) | (np.isnan(a) & np.isnan(b))] = 0.0
    diff[np.isnan(diff)] = np.inf
    return diff.max(axis=1)


def _matched_rows(ca: ClipArrays, cb: ClipArrays, missing: _Sample, extra: _Sample) -> tuple[np.ndarray, np.ndarray]:
    """Rows of A and B holding the same frame; A's unmatched frames are missing in B."""
    if ca.positional or cb.positional:
        common = min(len(ca.names), len(cb.names))
        missing.add(list(ca.paths[common:]))
        extra.add(list(cb.paths[common:]))
        return np.arange(common, dtype=np.int64), np.arange(common, dtype=np.int64)
    index_b = {name: row for row, name in enumerate(cb.names)}
    rows_a = np.array([row for row, name in enumerate(ca.names) if name in index_b], dtype=np.int64)
    rows_b = np.array([index_b[ca.names[row]] for row in rows_a], dtype=np.int64)
    matched_b = set(rows_b.tolist())
    missing.add([ca.paths[row] for row, name in enumerate(ca.names) if name not in index_b])
    extra.add([cb.paths[row] for row in range(len(cb.names)) if row not in matched_b])
    return rows_a, rows_b


def _same_points(ca: ClipArrays, cb: ClipArrays, part: Part) -> bool:
    names_a, names_b = ca.point_names.get(part), cb.point_names.get(part)
    if names_a is not None and names_b is not None:
        return names_a == names_b
    return ca.values[part].shape[1] == cb.values[part].shape[1]


def _compare_clips(
    ca: ClipArrays | None, cb: ClipArrays | None, atol: float,
    parts: dict[Part, _PartTally], missing: _Sample, extra: _Sample,
) -> None:  # fmt: skip
    if ca is None or cb is None:
        missing.add(list(ca.paths) if ca else [])
        extra.add(list(cb.paths) if cb else [])
        return
    rows_a, rows_b = _matched_rows(ca, cb, missing, extra)
    if not len(rows_a):
        return
    for part, tally in parts.items():
        absent = np.zeros(len(rows_a), bool)
        in_a = ca.present[part][rows_a] if part in ca.present else absent
        in_b = cb.present[part][rows_b] if part in cb.present else absent
        both = in_a & in_b
        tally.both += int(both.sum())
        tally.only_a += int((in_a & ~in_b).sum())
        tally.only_b += int((in_b & ~in_a).sum())
        tally.neither += int((~in_a & ~in_b).sum())
        if not both.any():
            continue
        if not _same_points(ca, cb, part):
            tally.shape_mismatches += int(both.sum())
            continue
        va, vb = ca.values[part][rows_a[both]], cb.values[part][rows_b[both]]
        columns = min(va.shape[2], vb.shape[2])  # confidence is compared where both keep it
        diffs = _frame_diffs(va[..., :columns], vb[..., :columns])
        tally.over_atol += int((diffs > atol).sum())
        worst = int(np.argmax(diffs))
        if tally.max_abs_diff is None or diffs[worst] > tally.max_abs_diff:
            tally.max_abs_diff = float(diffs[worst])
            tally.max_diff_at = ca.paths[int(rows_a[both][worst])] if diffs[worst] > 0 else None


def _part_names(a: _Side, b: _Side, loaded: list[ClipArrays]) -> list[Part]:
    """Parts to compare, in first-seen order: those of either side, less the parts a keypoints
    pickle cannot hold when one side is a pickle."""
    names = list(dict.fromkeys(part for clip in loaded for part in clip.values))
    if "pickle" in (a.kind, b.kind):
        names = [part for part in names if part in PICKLE_PARTS]
    return names


def _compare_split(split: str, a: _Side, b: _Side, atol: float) -> SplitReport:
    ids_a, ids_b = list(a.clips.get(split, {})), list(b.clips.get(split, {}))
    in_a, in_b = set(ids_a), set(ids_b)
    order = ids_a + [clip_id for clip_id in ids_b if clip_id not in in_a]
    parts: dict[Part, _PartTally] = {}
    missing, extra, problems_a, problems_b = _Sample(), _Sample(), _Sample(), _Sample()
    frames_a = frames_b = 0
    for clip_id in order:
        got_a = a.load(split, clip_id) if clip_id in in_a else _Loaded(None, None)
        got_b = b.load(split, clip_id) if clip_id in in_b else _Loaded(None, None)
        problems_a.add([got_a.problem] if got_a.problem else [])
        problems_b.add([got_b.problem] if got_b.problem else [])
        frames_a += len(got_a.clip.names) if got_a.clip else 0
        frames_b += len(got_b.clip.names) if got_b.clip else 0
        for part in _part_names(a, b, [clip for clip in (got_a.clip, got_b.clip) if clip]):
            parts.setdefault(part, _PartTally())
        _compare_clips(got_a.clip, got_b.clip, atol, parts, missing, extra)
    return SplitReport(
        split=split, in_a=split in a.clips, in_b=split in b.clips,
        frames_a=frames_a, frames_b=frames_b, clips_a=len(ids_a), clips_b=len(ids_b),
        missing_in_b=missing.freeze(), extra_in_b=extra.freeze(),
        parts=tuple(PartReport(part=part, **vars(tally)) for part, tally in parts.items()),
        # a folder of bare .pose files has no stats: there is nothing to compare them with
        stats_a=None if "pose folder" in (a.kind, b.kind) else (a.stats or {}).get(split),
        stats_b=None if "pose folder" in (a.kind, b.kind) else (b.stats or {}).get(split),
        problems_a=problems_a.freeze(), problems_b=problems_b.freeze(),
    )  # fmt: skip


def compare_sources(a: Path, b: Path, splits: Sequence[str] | None = None, atol: float = 0.0) -> VerifyReport:
    """Compare two inputs (run folders, .pose folders, pickles, Parquet exports); ``atol`` 0
    demands bitwise equal values.

    Raises SourceError for a missing path, an unreadable input or a pickle not of the
    keypoints pickle's schema (UnsafePickleError for one that would run code).
    """
    if not atol >= 0:
        raise SourceError(f"--atol must be a number >= 0, not {atol}")
    side_a, side_b = _Side.of(open_input(a)), _Side.of(open_input(b))
    available = list(dict.fromkeys([*side_a.clips, *side_b.clips]))
    if splits is not None:
        unknown = [split for split in splits if split not in available]
        if unknown:
            known = f"A has {list(side_a.clips)}, B has {list(side_b.clips)}"
            raise SourceError(f"no split {', '.join(map(repr, unknown))} in A or B ({known})")
        available = list(dict.fromkeys(splits))
    reports = tuple(_compare_split(split, side_a, side_b, atol) for split in available)
    return VerifyReport(str(a), str(b), side_a.kind, side_b.kind, float(atol), reports)
