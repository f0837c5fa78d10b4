"""A keypoints pickle as an input (verify compares it; export and render refuse it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import ClipArrays, KeypointsPickle
from signpose.run.reader import LoadedClip
from signpose.tools.inputs.base import InputClip, InputInfo, choose
from signpose.tools.verify_report import SourceKind


class PickleInput:
    """A keypoints pickle (whole in memory): compared by verify, never exported or drawn,
    since it knows neither the frames' size nor their rate."""

    kind: SourceKind = "pickle"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.pickle = KeypointsPickle.load(self.path)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.pickle.clips)

    def stats(self, *, required: bool = False) -> Mapping[str, Any] | None:
        return self.pickle.stats

    def info(self) -> InputInfo:
        return InputInfo()

    def select(self, splits: Sequence[str] | None) -> tuple[str, ...]:
        return choose(self.path, self.splits, splits)

    def _refuse(self) -> SourceError:
        return SourceError(
            f"{self.path}: a keypoints pickle holds neither the frames' size nor their rate; export and render read a run"
            " folder, a folder of .pose files or a Parquet export"
        )

    def clips(self, split: str) -> Iterator[InputClip]:
        raise self._refuse()

    def load(self, clip: InputClip) -> LoadedClip:
        raise self._refuse()

    def find(self, clip_id: str, split: str | None) -> InputClip:
        raise self._refuse()

    def clip_ids(self, split: str) -> Mapping[str, Any]:
        return self.pickle.clips[split]

    def arrays(self, split: str, clip_id: str) -> tuple[ClipArrays | None, str | None]:
        return self.pickle.clip(split, clip_id), None
