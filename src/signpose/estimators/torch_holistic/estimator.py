"""The ``torch`` estimator: signpose's Holistic graph with its six networks batched in
PyTorch, on a GPU (or the CPU). Every frame is a function of its own pixels (a fresh graph
per frame, as ``--mode frame``), so any split of the work gives the same bytes on the same
device type and software; it is faithful to MediaPipe within a tolerance, not bit-equal."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from signpose.errors import EstimatorError
from signpose.estimators.base import Hints
from signpose.estimators.holistic.estimator import GraphEstimator
from signpose.estimators.holistic.landmarks import Landmarks
from signpose.estimators.holistic.steps import Graph
from signpose.estimators.holistic.weights import model_sha256

INSTALL = "pip install 'signpose[gpu]' (PyTorch)"


def _torch():
    try:
        import torch
    except ImportError as error:
        raise EstimatorError(f"the torch estimator needs PyTorch ({error}): {INSTALL}") from error
    return torch


class TorchHolisticEstimator(GraphEstimator):
    """``device``: cuda (the default where there is one) or cpu; ``batch_size`` frames go
    through the graph at a time."""

    name = "torch"

    def __init__(self, *, mode: str = "frame", refine_face: bool = False, model_complexity: int = 1,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 world_landmarks: bool = True, device: str | None = None, batch_size: int = 64) -> None:
        super().__init__(mode=mode, refine_face=refine_face, model_complexity=model_complexity,
                         min_detection_confidence=min_detection_confidence,
                         min_tracking_confidence=min_tracking_confidence, world_landmarks=world_landmarks)
        if batch_size < 1:
            raise EstimatorError(f"--batch-size must be at least 1, not {batch_size}")
        from .runtime import prepare_determinism

        prepare_determinism()  # before anything starts CUDA
        torch = _torch()
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cuda", "cpu") and not device.startswith("cuda:"):
            raise EstimatorError(f"--device must be cuda or cpu, not {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EstimatorError("--device cuda: PyTorch sees no CUDA device here (use --device cpu, slowly)")
        self.device = device
        cuda = device.startswith("cuda")
        # A GPU outruns one decoding core many times over (a 210x260 PNG: ~1 ms): frames
        # are decoded on threads, several clips at once (a video clip decodes on one
        # thread), and clips ahead join the current one's batches. On the CPU the cores
        # are the estimator's, and big batches gain nothing.
        cores = os.cpu_count() or 1
        self.hints = Hints(
            preload=("torch",), worker_memory=2 * 2**30, reads_whole_clips=True, batches_clips=True,
            decode_threads=min(8, cores) if cuda else 1, decode_clips=min(4, cores) if cuda else 1,
            clips_ahead=7 if cuda else 1,
        )  # fmt: skip
        self.batch_size = int(batch_size)
        self.net_batch = 64 if cuda else 16  # every network runs on chunks of this many crops: the bits depend on it

    def _build(self) -> Graph:
        import cv2

        from .runtime import TorchRuntime

        # The worker's frames are decoded on its own threads (decode_threads, several clips
        # at once): OpenCV's pool inside each decode would only contend with them.
        cv2.setNumThreads(1)
        return Graph(TorchRuntime(device=self.device, net_batch=self.net_batch), self.min_detection_confidence,
                     self.min_tracking_confidence)  # fmt: skip

    def landmarks(self, images: Sequence[np.ndarray]) -> Landmarks:
        from .runtime import strict_numerics

        with strict_numerics():
            return super().landmarks(images)

    def provenance(self) -> dict[str, Any]:
        torch = _torch()
        cuda = self.device.startswith("cuda")
        return {
            "runtime": "torch",
            "torch_version": torch.__version__,
            "device": self.device,
            "gpu": torch.cuda.get_device_name(torch.device(self.device)) if cuda else None,
            "cuda_version": torch.version.cuda if cuda else None,
            "cudnn_version": torch.backends.cudnn.version() if cuda else None,
            "dtype": "float32, TF32 off, deterministic algorithms",
            "net_batch": self.net_batch,
            "graph": "signpose's MediaPipe Holistic 0.10.21 graph, static image mode, a fresh graph per frame",
            "model_sha256": model_sha256(),
        }
