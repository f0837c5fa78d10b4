"""What the exports share: the summary they return, the clips they leave out, and the
stream of one split's clips with their keypoints (one clip in memory at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from signpose.errors import SourceError, StoreError
from signpose.model.keypoints import ClipKeypoints
from signpose.run.guard import check_output_path
from signpose.run.store import safe_name
from signpose.tools.inputs import Input, InputClip

@dataclass(frozen=True)
class LeftOut:
    """A clip of the input that is not in the export: ``failed`` at extraction (its error),
    or ``unreadable`` (its .pose file missing, damaged or changed since the run)."""

    split: str
    clip_id: str
    kind: Literal["failed", "unreadable"]
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"split": self.split, "clip_id": self.clip_id, "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class ExportSummary:
    splits: tuple[str, ...]
    clips: int
    frames: int
    files: tuple[Path, ...]
    left_out: tuple[LeftOut, ...] = ()

    @property
    def unreadable(self) -> tuple[LeftOut, ...]:
        return tuple(clip for clip in self.left_out if clip.kind == "unreadable")


def split_file(out: Path, split: str, suffix: str) -> Path:
    """``out/<split><suffix>``; SourceError for a split name that would leave the folder."""
    try:
        return out / f"{safe_name(split, 'split')}{suffix}"
    except StoreError as error:
        raise SourceError(str(error)) from error


def output_folder(out: Path, what: str) -> Path:
    """Check a folder output (one file per split): never a run's, never a file."""
    out = Path(out)
    check_output_path(out)  # never into a run folder, nor over its files
    if out.exists() and not out.is_dir():
        raise SourceError(f"{out}: {what} export writes one file per split into a folder; this path is a file")
    return out


def clip_keypoints(
    source: Input, split: str, left_out: list[LeftOut], *, strict: bool = True,
) -> Iterator[tuple[InputClip, ClipKeypoints]]:  # fmt: skip
    """The split's ok clips with their keypoints, in order; failed clips go to ``left_out``.
    A clip whose file cannot be trusted raises SourceError (``strict``) or is left out too."""
    for clip in source.clips(split):
        if not clip.ok:
            left_out.append(LeftOut(split, clip.clip_id, "failed", clip.record.error or "failed"))
            continue
        loaded = source.load(clip)
        if loaded.problem or loaded.keypoints is None:
            problem = loaded.problem or f"clip {clip.clip_id!r}: unreadable"
            if strict:
                raise SourceError(problem)
            left_out.append(LeftOut(split, clip.clip_id, "unreadable", problem))
            continue
        if loaded.keypoints.num_frames != len(clip.record.frame_names):
            raise SourceError(f"clip {clip.clip_id!r}: has {loaded.keypoints.num_frames} frames, {len(clip.record.frame_names)} were listed")
        yield clip, loaded.keypoints
