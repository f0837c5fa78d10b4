"""An estimator for backend tests that batches across clips (as the torch estimator on a
GPU does) and tells the test, through files, what batches it got: the tests' batching toy
estimator, with every batch's size appended to ``<log>/batches-<pid>`` and, to keep a
worker busy while the clips it holds ahead decode, ``frame_seconds`` per frame.

Loaded by name (``EstimatorSpec.of(NAME, ...)``) in every worker: local ones see the
driver's sys.path, Ray's the driver's working folder, the repository root."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.estimators.toy import BatchingToyEstimator

NAME = "tests.backends.batch_helpers:RecordedBatches"


class RecordedBatches(BatchingToyEstimator):
    def __init__(self, *, log: str, frame_seconds: float = 0.0, threshold: float = 100.0) -> None:
        super().__init__(threshold=threshold)
        self.log = Path(log)
        self.frame_seconds = frame_seconds

    def estimate_clips(self, clips):
        with (self.log / f"batches-{os.getpid()}").open("a") as handle:
            handle.write(f"{len(clips)}\n")
        time.sleep(self.frame_seconds * sum(len(frames) for frames, _ in clips))
        return super().estimate_clips(clips)


def batch_sizes(log: Path) -> list[int]:
    """Every batch's size, over all workers."""
    return [int(line) for path in sorted(Path(log).glob("batches-*")) for line in path.read_text().split()]
