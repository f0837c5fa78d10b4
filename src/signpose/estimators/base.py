"""What every estimator offers, and how a run names the one it uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from signpose.errors import EstimatorError
from signpose.keypoints import ClipKeypoints
from signpose.layout import KeypointLayout


class Estimator(Protocol):
    """Frames in, keypoints out; no file I/O.

    Built cheaply (in the driver too: ``provenance`` and option checks happen before any
    work); models load on the first clip, in the worker. ``estimate_clip`` gets one clip's
    frames in order (``None`` for a frame that could not be decoded: it gets no keypoints)
    and must give a result that depends on that clip alone.
    """

    @property
    def layout(self) -> KeypointLayout: ...

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints: ...

    def close(self) -> None: ...

    def provenance(self) -> dict[str, Any]:
        """What a reader needs to judge the output: versions, model file hashes, device."""
        ...


@dataclass(frozen=True)
class EstimatorSpec:
    """An estimator by name and options; what resume compares and ``run.json`` records.
    ``params`` are (name, value) pairs sorted by name, so equal options give equal specs."""

    name: str = "mediapipe"
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
