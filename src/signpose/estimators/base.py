"""What every estimator offers, and how a run names the one it uses."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from signpose.errors import EstimatorError
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout


@dataclass(frozen=True)
class Hints:
    """How a worker feeds an estimator best; the defaults feed it one clip at a time."""

    preload: tuple[str, ...] = ()  # modules a backend imports once for all its workers (a fork server)
    workers_per_core: float = 1.0  # workers per core on machines above SMALL_MACHINE cores
    worker_memory: int = 300 * 2**20  # peak resident set of one worker (bytes): caps the worker count
    decode_threads: int = 1  # threads decoding one clip's image files
    reads_whole_clips: bool = False  # estimate_clip reads the whole clip before it answers: decode the next one whole, ahead
    decode_clips: int = 1  # clips decoded at once ahead of the current one
    clips_ahead: int = 1  # clips a worker holds (and decodes) beyond the current one
    batches_clips: bool = False  # estimate_clips runs the clips decoded ahead in the current one's batches


@runtime_checkable
class Estimator(Protocol):
    """Frames in, keypoints out; no file I/O.

    Built cheaply (in the driver too: ``provenance``, ``hints`` and option checks happen
    before any work); models load in ``load`` (a worker calls it as it starts) or on the
    first clip. ``estimate_clip`` gets one clip's frames in order (``None`` for a frame
    that could not be decoded: it gets no keypoints) and must give a result that depends
    on that clip alone; ``estimate_clips`` several clips at once (``EstimatorBase`` does
    them one by one), each result depending on its own clip alone.
    """

    @property
    def layout(self) -> KeypointLayout: ...

    @property
    def hints(self) -> Hints: ...

    def load(self) -> None: ...

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints: ...

    def estimate_clips(self, clips: Sequence[tuple[Sequence[np.ndarray | None], float]]) -> list[ClipKeypoints]: ...

    def close(self) -> None: ...

    def provenance(self) -> dict[str, Any]:
        """What a reader needs to judge the output: versions, model file hashes, device."""
        ...


class EstimatorBase:
    """The optional parts of the protocol, for an estimator that needs none of them: plain
    hints, nothing to load ahead, clips estimated one by one."""

    hints = Hints()

    def load(self) -> None:
        return None

    def estimate_clips(self, clips: Sequence[tuple[Sequence[np.ndarray | None], float]]) -> list[ClipKeypoints]:
        return [self.estimate_clip(frames, fps) for frames, fps in clips]


@dataclass(frozen=True)
class EstimatorSpec:
    """An estimator by name and options; what resume compares and ``run.json`` records.
    ``params`` are (name, value) pairs sorted by name, so equal options give equal specs."""

    name: str = "litert"
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, params: Mapping[str, Any] | None = None) -> "EstimatorSpec":
        return cls(name, tuple(sorted((params or {}).items())))

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.params)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.options}

    def describe(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.params)
        return f"{self.name}({shown})"


def check_confidences(**thresholds: float) -> None:
    """EstimatorError unless every threshold is within 0..1 (named as the CLI spells it)."""
    for name, value in thresholds.items():
        if not 0.0 <= value <= 1.0:
            raise EstimatorError(f"{name.replace('_', '-')} must be between 0 and 1, not {value}")


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """A native library (MediaPipe, LiteRT) writes warnings straight to file descriptor 2 whenever a graph
    starts (one per model, every clip); on a long run they would bury the progress and the
    real errors. Errors still surface as Python exceptions."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
