"""A folder of .pose files (no index) as an input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import ClipArrays, keypoint_arrays
from signpose.formats.posefolder import PoseFolder
from signpose.model.keypoints import ClipKeypoints
from signpose.run.reader import LoadedClip
from signpose.run.record import ClipResult, ClipStatus
from signpose.tools.inputs.base import InputClip, InputInfo, choose, find_among
from signpose.tools.verify_report import SourceKind


@dataclass(frozen=True)
class _Counted:
    frames: int
    width: int
    height: int
    fps: float


class PoseFolderInput:
    """A folder of .pose files without an index: its frames have no names. Listing a
    clip reads its file once (for the frame count), and that one clip is kept for ``load``."""

    kind: SourceKind = "pose folder"

    def __init__(self, path: Path) -> None:
        self.folder = PoseFolder.open(path)
        self.path = self.folder.root
        self._counted: dict[tuple[str, str], _Counted] = {}
        self._last: tuple[tuple[str, str], ClipKeypoints] | None = None

    @property
    def splits(self) -> tuple[str, ...]:
        return self.folder.splits

    def stats(self, *, required: bool = False) -> Mapping[str, Any] | None:
        return None

    def info(self) -> InputInfo:
        return InputInfo()

    def select(self, splits: Sequence[str] | None) -> tuple[str, ...]:
        return choose(self.path, self.splits, splits)

    def _read(self, split: str, clip_id: str) -> ClipKeypoints:
        if self._last is None or self._last[0] != (split, clip_id):
            self._last = ((split, clip_id), self.folder.load(split, clip_id))
        return self._last[1]

    def _clip(self, split: str, clip_id: str) -> InputClip:
        counted = self._counted.get((split, clip_id))
        if counted is None:
            keypoints = self._read(split, clip_id)
            counted = _Counted(keypoints.num_frames, keypoints.width, keypoints.height, keypoints.fps)
            self._counted[(split, clip_id)] = counted
        names = tuple(f"#{i}" for i in range(counted.frames))
        record = ClipResult(split, clip_id, ClipStatus.OK, source=f"{split}/{clip_id}.pose", frames=counted.frames,
                            frame_names=names, width=counted.width, height=counted.height, fps=counted.fps)  # fmt: skip
        return InputClip(record, positional=True)

    def clips(self, split: str) -> Iterator[InputClip]:
        for clip_id in self.folder.clips[split]:
            yield self._clip(split, clip_id)

    def load(self, clip: InputClip) -> LoadedClip:
        try:
            return LoadedClip(self._read(clip.split, clip.clip_id), None)
        except SourceError as error:
            return LoadedClip(None, str(error))

    def find(self, clip_id: str, split: str | None) -> InputClip:
        return self._clip(*find_among(self.path, self.folder.clips, clip_id, split))

    def clip_ids(self, split: str) -> Mapping[str, Any]:
        return self.folder.clips[split]

    def arrays(self, split: str, clip_id: str) -> tuple[ClipArrays | None, str | None]:
        try:
            keypoints = self.folder.load(split, clip_id)
        except SourceError as error:
            return None, str(error)
        return keypoint_arrays(keypoints, f"{split}/{clip_id}.pose", None), None
