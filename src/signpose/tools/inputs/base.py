"""What every input of the tools answers (``Input``), the clips it lists, and the helpers
its kinds share."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import ClipArrays, image_path
from signpose.model.keypoints import ClipKeypoints
from signpose.run.reader import LoadedClip
from signpose.run.record import ClipResult, ClipStatus
from signpose.tools.verify_report import SourceKind


@dataclass(frozen=True)
class InputClip:
    """One clip as an input lists it: its index record (made up for inputs without an
    index), and whether its frames have no names (``#0``, ``#1`` ...: matched by position)."""

    record: ClipResult
    positional: bool = False

    @property
    def split(self) -> str:
        return self.record.split

    @property
    def clip_id(self) -> str:
        return self.record.clip_id

    @property
    def ok(self) -> bool:
        return self.record.status is ClipStatus.OK

    @property
    def image_paths(self) -> tuple[str, ...]:
        source, names = self.record.source, self.record.frame_names
        return tuple(f"{source}{name}" for name in names) if self.positional else tuple(image_path(source, n) for n in names)


@dataclass(frozen=True)
class InputInfo:
    """What an input says of where its keypoints came from (empty where it does not know)."""

    dataset_layout: str = ""
    estimator: Mapping[str, Any] | None = None
    manifest_labels: bool = False  # clips of a layout without label columns of its own carry some


class Input(Protocol):
    path: Path
    kind: SourceKind

    @property
    def splits(self) -> tuple[str, ...]: ...

    def stats(self, *, required: bool = False) -> Mapping[str, Any] | None:
        """Per split counts; ``required``: a run that never finished is refused."""

    def info(self) -> InputInfo: ...

    def select(self, splits: Sequence[str] | None) -> tuple[str, ...]:
        """The chosen splits in the input's order; SourceError naming unknown ones."""

    def clips(self, split: str) -> Iterator[InputClip]:
        """Every clip of the split in order, failed ones too, one at a time."""

    def load(self, clip: InputClip) -> LoadedClip:
        """One clip's keypoints, or why they cannot be trusted; never raises for a bad file."""

    def find(self, clip_id: str, split: str | None) -> InputClip:
        """An ok clip by id (``split/clip`` too); SourceError naming near misses."""

    def clip_ids(self, split: str) -> Mapping[str, Any]:
        """The ok clips of a split, in order (for comparing)."""

    def arrays(self, split: str, clip_id: str) -> tuple[ClipArrays | None, str | None]:
        """One ok clip as arrays for comparing, and any problem with it."""


def trusted(source: Input, clip: InputClip) -> ClipKeypoints:
    """A clip's keypoints, or SourceError if its file is missing, damaged or changed."""
    loaded = source.load(clip)
    if loaded.problem or loaded.keypoints is None:
        raise SourceError(loaded.problem or f"{clip.split}/{clip.clip_id}: unreadable")
    return loaded.keypoints


def choose(root: Path, available: Sequence[str], splits: Sequence[str] | None, holder: str = "it") -> tuple[str, ...]:
    """``splits`` in ``available``'s order; SourceError naming any not there."""
    if splits is None:
        return tuple(available)
    unknown = [split for split in splits if split not in available]
    if unknown:
        raise SourceError(f"{root}: no split {', '.join(map(repr, unknown))} ({holder} has {list(available)})")
    return tuple(split for split in available if split in splits)


def find_among(root: Path, listing: Mapping[str, Mapping[str, Any]], clip: str, split: str | None) -> tuple[str, str]:
    """(split, clip id) of ``clip`` in an input without an index; SourceError if it is not
    there or in several splits."""
    if split is None and "/" in clip and clip.split("/", 1)[0] in listing:
        split, clip = clip.split("/", 1)
    holders = [name for name, clips in listing.items() if clip in clips and (split is None or name == split)]
    if len(holders) != 1:
        problem = "is in several splits; give split/clip" if holders else "is not there"
        raise SourceError(f"{root}: clip {clip!r} {problem} (splits: {', '.join(listing)})")
    return holders[0], clip
