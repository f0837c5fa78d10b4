"""The unit of work: one clip, as a dataset reader lists it (nothing decoded yet)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ClipKind = Literal["frames", "video"]


@dataclass(frozen=True)
class Clip:
    """One clip of a dataset.

    ``source`` is the folder holding the clip's frame images (``kind="frames"``) or the
    video file (``kind="video"``). Readers never look inside it: the frames are listed and
    decoded by the worker that processes the clip, so listing a whole dataset stays cheap.
    """

    split: str
    clip_id: str
    source: Path
    kind: ClipKind = "frames"
    signer: str = ""
    gloss: str = ""
    translation: str = ""
    fps: float | None = None


@dataclass(frozen=True)
class Dataset:
    """A dataset as listed by a reader: its clips in dataset order (split by split)."""

    root: Path
    layout: str
    clips: tuple[Clip, ...]

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(clip.split for clip in self.clips))
