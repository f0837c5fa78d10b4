"""What the estimators over signpose's own Holistic graph share (LiteRT on the CPU, PyTorch
on a GPU): the options they take and refuse, the layout, and a clip's keypoints from the
graph's landmarks. Every frame is a function of its own pixels (a fresh graph per frame,
as ``--estimator mediapipe --mode frame``), so no split of the work can change a keypoint."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from signpose.errors import EstimatorError
from signpose.estimators.base import EstimatorBase, check_confidences
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import KeypointLayout

from .landmarks import Landmarks
from .layout import WORLD, holistic_layout

MEDIAPIPE = "--estimator mediapipe (pip install 'signpose[mediapipe]', Python 3.10-3.12)"


def check_options(name: str, *, mode: str, refine_face: bool, model_complexity: int,
                  min_detection_confidence: float, min_tracking_confidence: float) -> None:
    """EstimatorError, in one line naming the way out, for what the graph does not do:
    MediaPipe's image and video modes (state kept from frame to frame), the irises (a face
    model with MediaPipe's own custom ops) and the pose models the mediapipe wheel leaves out."""
    if mode in ("image", "video"):
        raise EstimatorError(
            f"the {name} estimator runs every frame on its own (as --mode frame); MediaPipe's"
            f" --mode {mode}, which carries state from frame to frame, needs {MEDIAPIPE}")
    if mode != "frame":
        raise EstimatorError(f"--mode must be frame for the {name} estimator, not {mode!r}")
    if refine_face:
        raise EstimatorError(f"the {name} estimator has no --refine-face (its face model needs MediaPipe's custom ops): use {MEDIAPIPE}")
    if model_complexity != 1:
        raise EstimatorError(f"the {name} estimator runs --model-complexity 1 only (the model signpose ships), not {model_complexity}")
    check_confidences(min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence)


class GraphEstimator(EstimatorBase):
    """Base of the estimators over the shared graph. A subclass builds the graph
    (``_build``: a ``steps.Graph`` over its runtime) and says what it ran on (``provenance``);
    frames go through the graph ``batch_size`` at a time, so a worker holds that many
    frames of a clip, never the whole clip."""

    name = "graph"
    batch_size = 16

    def __init__(self, *, mode: str = "frame", refine_face: bool = False, model_complexity: int = 1,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 world_landmarks: bool = True) -> None:
        check_options(self.name, mode=mode, refine_face=refine_face, model_complexity=model_complexity,
                      min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.world_landmarks = bool(world_landmarks)
        self._graph = None

    def _build(self):
        raise NotImplementedError

    @property
    def graph(self):
        if self._graph is None:
            self._graph = self._build()
        return self._graph

    @cached_property
    def layout(self) -> KeypointLayout:
        return holistic_layout(refine_face=False, world_landmarks=self.world_landmarks)

    def provenance(self) -> dict[str, Any]:
        raise NotImplementedError

    def load(self) -> None:
        """Read the networks now, not on the first clip."""
        self.graph  # noqa: B018 - built on first use

    def close(self) -> None:
        self._graph = None

    def landmarks(self, images: Sequence[np.ndarray]) -> Landmarks:
        """The graph's landmarks of ``images``, ``batch_size`` at a time."""
        graph, step = self.graph, self.batch_size
        return Landmarks.concat([graph.landmarks(list(images[i : i + step])) for i in range(0, len(images), step)])

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints:
        """One clip's keypoints, its frames read ``batch_size`` shown frames at a time."""
        images: list[np.ndarray | None] = []
        batch: list[np.ndarray] = []
        found: list[Landmarks] = []
        for image in frames:
            images.append(image)
            if image is not None:
                batch.append(image)
                if len(batch) == self.batch_size:
                    found.append(self.landmarks(batch))
                    batch = []
        found.append(self.landmarks(batch))
        rows = np.array([row for row, image in enumerate(images) if image is not None], np.int64)
        return clip_keypoints(self.layout, images, fps, rows, Landmarks.concat(found), 0)

    def estimate_clips(self, clips: Sequence[tuple[Sequence[np.ndarray | None], float]]) -> list[ClipKeypoints]:
        """Keypoints of several clips, their frames run in one stream of batches (a frame's
        bits do not depend on which frames share its batch)."""
        shown = [image for frames, _ in clips for image in frames if image is not None]
        found = self.landmarks(shown)
        out, start = [], 0
        for frames, fps in clips:
            rows = np.array([row for row, image in enumerate(frames) if image is not None], np.int64)
            out.append(clip_keypoints(self.layout, frames, fps, rows, found, start))
            start += rows.size
        return out


def clip_keypoints(layout: KeypointLayout, images: Sequence[np.ndarray | None], fps: float, rows: np.ndarray,
                   found: Landmarks, start: int) -> ClipKeypoints:
    """A clip's keypoints: its shown frames (``rows``) are ``found``'s frames from ``start``."""
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
