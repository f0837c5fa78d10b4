"""The ``torch`` estimator: MediaPipe Holistic's own six networks, batched in PyTorch, on a
GPU (or the CPU). Every frame is a function of its own pixels (a fresh graph per frame, as
``--mode frame``), so any split of the work gives the same bytes on the same device type
and software; it is faithful to MediaPipe within a tolerance, not bit-equal."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from signpose.errors import EstimatorError
from signpose.estimators.base import check_confidences
from signpose.estimators.mediapipe import WORLD, holistic_layout
from signpose.keypoints import ClipKeypoints
from signpose.layout import KeypointLayout

if TYPE_CHECKING:
    from signpose.estimators.torch_holistic.landmarks import Landmarks

INSTALL = "pip install 'signpose[gpu]' (PyTorch)"


def _torch():
    try:
        import torch
    except ImportError as error:
        raise EstimatorError(f"the torch estimator needs PyTorch ({error}): {INSTALL}") from error
    return torch


class TorchHolisticEstimator:
    """Static image mode, model_complexity 1, 468 face points; optionally without the
    body's world landmarks. ``device``: cuda (the default where there is one) or cpu."""

    preload = ("torch",)
    reads_whole_clips = True  # estimate_clip batches a clip's frames: the next clip is decoded whole, ahead

    def __init__(
        self,
        *,
        mode: str = "image",
        refine_face: bool = False,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        world_landmarks: bool = True,
        device: str | None = None,
        batch_size: int = 64,
    ) -> None:
        if mode == "video":
            raise EstimatorError("the torch estimator runs static image mode only (every frame on its own): drop --mode video, or use --estimator mediapipe")
        if mode not in ("image", "frame"):
            raise EstimatorError(f"mode must be image or frame for the torch estimator, not {mode!r}")
        if refine_face:
            raise EstimatorError("the torch estimator has no --refine-face (its attention face model has custom ops): use --estimator mediapipe")
        if model_complexity != 1:
            raise EstimatorError(f"the torch estimator runs model-complexity 1 only, not {model_complexity}")
        check_confidences(min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence)
        if batch_size < 1:
            raise EstimatorError(f"--batch-size must be at least 1, not {batch_size}")
        torch = _torch()
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cuda", "cpu") and not device.startswith("cuda:"):
            raise EstimatorError(f"--device must be cuda or cpu, not {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EstimatorError("--device cuda: PyTorch sees no CUDA device here (use --device cpu, slowly)")
        self.device = device
        # A GPU outruns one decoding core many times over (a 210x260 PNG: ~1 ms); on the CPU
        # the cores are the estimator's.
        self.decode_threads = min(8, os.cpu_count() or 1) if device.startswith("cuda") else 1
        # Clips a worker takes ahead to batch with the current one: on a GPU big batches pay,
        # on the CPU they gain nothing. Of those, up to decode_clips are decoded at once (a
        # video clip decodes on one thread).
        self.clips_ahead = 7 if device.startswith("cuda") else 1
        self.decode_clips = min(4, os.cpu_count() or 1) if device.startswith("cuda") else 1
        self.batch_size = int(batch_size)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.world_landmarks = bool(world_landmarks)
        self._model = None

    @cached_property
    def layout(self) -> KeypointLayout:
        return holistic_layout(refine_face=False, world_landmarks=self.world_landmarks)

    @property
    def model(self):
        if self._model is None:
            from signpose.estimators.torch_holistic import TorchHolistic

            self._model = TorchHolistic(
                device=self.device, batch_size=self.batch_size,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )  # fmt: skip
        return self._model

    def provenance(self) -> dict[str, Any]:
        from importlib import metadata

        torch = _torch()
        cuda = self.device.startswith("cuda")
        return {
            "torch_version": torch.__version__,
            "mediapipe_version": metadata.version("mediapipe"),
            "device": self.device,
            "gpu": torch.cuda.get_device_name(torch.device(self.device)) if cuda else None,
            "cuda_version": torch.version.cuda if cuda else None,
            "cudnn_version": torch.backends.cudnn.version() if cuda else None,
            "dtype": "float32, TF32 off, deterministic algorithms",
            # every network runs on chunks of this many crops, zero-padded: the bits depend on it
            "net_batch": 64 if cuda else 16,
            "model_sha256": _model_sha256(),
        }

    def load(self) -> None:
        """Read the networks onto the device now, not on the first clip."""
        self.model  # noqa: B018 - built on first use

    def close(self) -> None:
        self._model = None

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints:
        return self.estimate_clips([(list(frames), fps)])[0]

    def estimate_clips(self, clips: Sequence[tuple[Sequence[np.ndarray | None], float]]) -> list[ClipKeypoints]:
        """Keypoints of several clips, their frames run in one stream of batches (the bits
        of a frame do not depend on which frames share its batch: fixed shapes)."""
        shown = [image for frames, _ in clips for image in frames if image is not None]
        found = self.model.landmarks(shown)
        out, start = [], 0
        for frames, fps in clips:
            rows = np.array([row for row, image in enumerate(frames) if image is not None], np.int64)
            out.append(self._assemble(frames, fps, rows, found, start))
            start += rows.size
        return out

    def _assemble(self, images: Sequence[np.ndarray | None], fps: float, rows: np.ndarray, found: Landmarks,
                  start: int) -> ClipKeypoints:
        """The clip's keypoints: its shown frames (``rows``) are ``found``'s frames from ``start``."""
        layout = self.layout
        if not images:
            return ClipKeypoints.empty(layout, fps)
        points = np.zeros((len(images), layout.total, 3), np.float32)
        confidence = np.zeros((len(images), layout.total), np.float32)
        present = np.zeros((len(images), len(layout.parts)), bool)
        mine = slice(start, start + rows.size)
        for column, part in enumerate(layout.parts):
            where = layout.slices[part.name]
            seen = found.present[part.name][mine]
            values = found.points[part.name][mine, : part.size]
            points[rows, where] = values[:, :, :3]  # zeros where the part is absent
            # as the mediapipe estimator: visibility for body points, 1 for the rest
            visible = values[:, :, 3] if part.name in ("pose", WORLD) else 1.0
            confidence[rows, where] = np.where(seen[:, None], visible, np.float32(0))
            present[rows, column] = seen
        first = images[rows[0]].shape[:2] if rows.size else (0, 0)
        return ClipKeypoints(points, confidence, present, int(first[1]), int(first[0]), fps, layout)


def _model_sha256() -> dict[str, str]:
    from signpose.estimators.torch_holistic import MODELS

    return {path.rsplit("/", 1)[-1]: digest for path, digest in MODELS.values()}
