"""MediaPipe Holistic wrapper: frames in, keypoint arrays out. No file I/O here."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from signpose.keypoints import PARTS, ClipKeypoints, part_sizes, part_slices

Mode = Literal["image", "video"]

_POSE_LANDMARK_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}


@dataclass(frozen=True)
class EstimatorOptions:
    """How Holistic runs. ``image`` treats every frame on its own (static image mode);
    ``video`` tracks from frame to frame (faster, smoother). Both are deterministic per clip."""

    mode: Mode = "image"
    refine_face: bool = False
    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


class ModelUnavailable(Exception):
    """A model file Holistic needs is not in the installed mediapipe package."""


def mediapipe_root() -> Path:
    # Located, not imported: importing mediapipe costs the driver 0.3 s and 50 MB for nothing.
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("mediapipe is not installed: pip install 'mediapipe==0.10.21'")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def model_files(options: EstimatorOptions) -> list[Path]:
    """The model files Holistic opens for these options (measured with strace on 0.10.21)."""
    modules = mediapipe_root() / "modules"
    face = "face_landmark_with_attention.tflite" if options.refine_face else "face_landmark.tflite"
    return [
        modules / "pose_detection" / "pose_detection.tflite",
        modules / "pose_landmark" / _POSE_LANDMARK_MODELS[options.model_complexity],
        modules / "face_detection" / "face_detection_short_range.tflite",
        modules / "face_landmark" / face,
        modules / "holistic_landmark" / "hand_recrop.tflite",
        modules / "hand_landmark" / "hand_landmark_full.tflite",
    ]


def check_models(options: EstimatorOptions) -> None:
    """Fail before any work when a model is missing: mediapipe would try to download it
    (model_complexity 0 and 2 are not in the 0.10.21 wheel), which cannot work offline
    and would otherwise fail inside every worker."""
    if options.model_complexity not in _POSE_LANDMARK_MODELS:
        raise ModelUnavailable(f"model_complexity must be 0, 1 or 2, not {options.model_complexity}")
    missing = [path for path in model_files(options) if not path.is_file()]
    if missing:
        raise ModelUnavailable(
            "model file(s) missing from the installed mediapipe: "
            + ", ".join(str(path) for path in missing)
            + f". mediapipe 0.10.21 ships only model_complexity=1; for {options.model_complexity}"
            " place the file there yourself (it is published with MediaPipe's models), or use"
            " --model-complexity 1."
        )


def model_checksums(options: EstimatorOptions) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in model_files(options)}


@contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """MediaPipe's C++ side writes warnings straight to file descriptor 2 whenever a graph
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


def _landmarks(landmark_list, count: int) -> np.ndarray:
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark[:count]], dtype=np.float32)


class HolisticEstimator:
    """One Holistic graph, reused clip after clip.

    A Holistic graph keeps state between calls even in static image mode, so each clip
    starts on a reset graph and its frames go in order: a clip's keypoints then depend on
    that clip alone, never on which worker ran it or what it ran before.
    """

    def __init__(self, options: EstimatorOptions) -> None:
        check_models(options)
        from mediapipe.python.solutions.holistic import Holistic

        self.options = options
        self._sizes = part_sizes(options.refine_face)
        self._slices = part_slices(self._sizes)
        with _quiet_native_logs():
            self._holistic = Holistic(
                static_image_mode=options.mode == "image",
                model_complexity=options.model_complexity,
                refine_face_landmarks=options.refine_face,
                min_detection_confidence=options.min_detection_confidence,
                min_tracking_confidence=options.min_tracking_confidence,
            )

    def close(self) -> None:
        self._holistic.close()

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints:
        """Keypoints for one clip's frames, in order. ``None`` marks a frame that could not
        be decoded: it gets no keypoints (confidence 0) and is not shown to the model."""
        with _quiet_native_logs():
            self._holistic.reset()
        points: list[np.ndarray] = []
        confidence: list[np.ndarray] = []
        present: list[np.ndarray] = []
        width = height = 0
        total = sum(self._sizes.values())
        for image in frames:
            frame_points = np.zeros((total, 3), np.float32)
            frame_confidence = np.zeros(total, np.float32)
            frame_present = np.zeros(len(PARTS), bool)
            if image is not None:
                if not width:
                    height, width = image.shape[:2]
                    with _quiet_native_logs():  # the graph's models load on the first frame
                        results = self._holistic.process(image)
                else:
                    results = self._holistic.process(image)
                self._fill(results, frame_points, frame_confidence, frame_present)
            points.append(frame_points)
            confidence.append(frame_confidence)
            present.append(frame_present)
        return ClipKeypoints(
            points=np.stack(points) if points else np.zeros((0, total, 3), np.float32),
            confidence=np.stack(confidence) if confidence else np.zeros((0, total), np.float32),
            present=np.stack(present) if present else np.zeros((0, len(PARTS)), bool),
            width=width,
            height=height,
            fps=fps,
        )

    def _fill(self, results, points: np.ndarray, confidence: np.ndarray, present: np.ndarray) -> None:
        found = {
            "pose": results.pose_landmarks,
            "face": results.face_landmarks,
            "left_hand": results.left_hand_landmarks,
            "right_hand": results.right_hand_landmarks,
        }
        for column, part in enumerate(PARTS):
            landmarks = found[part]
            if landmarks is None:
                continue
            where = self._slices[part]
            points[where] = _landmarks(landmarks, self._sizes[part])
            if part == "pose":
                confidence[where] = [p.visibility for p in landmarks.landmark]
            else:
                confidence[where] = 1.0
            present[column] = True
