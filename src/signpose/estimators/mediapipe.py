"""MediaPipe Holistic (the default estimator): body 33, face 468 or 478, two hands 21 each,
and the body's world landmarks (33, metres), as pose-format's own Holistic output lays
them out."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from signpose.errors import EstimatorError
from signpose.estimators.base import EstimatorBase, Hints, check_confidences, quiet_native_logs
from signpose.model.keypoints import ClipKeypoints
from signpose.estimators.holistic.layout import WORLD, holistic_layout
from signpose.model.layout import KeypointLayout

Mode = Literal["image", "video", "frame"]
MODES = ("image", "video", "frame")
# A frame with no person in it. After it, no face or hand rectangle of an earlier frame
# survives in the graph, so a static-image-mode graph is bitwise in a fresh graph's state
# (a test checks it on the real test clips), far cheaper than reset()'s re-initialisation
# (README, "The determinism guarantee"). In video mode the landmark smoothing filters
# keep state through it: there, only reset() gives a fresh graph.
CLEAR_FRAME = np.zeros((8, 8, 3), np.uint8)
_POSE_LANDMARK_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
# Where MediaPipe publishes the pose models its wheel leaves out.
_MODEL_STORAGE = "https://storage.googleapis.com/mediapipe-assets/"


def mediapipe_root() -> Path:
    # Located, not imported: importing mediapipe costs the driver 0.3 s and 50 MB for nothing.
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise EstimatorError("the mediapipe estimator needs mediapipe 0.10.21 (Python 3.10-3.12): pip install 'signpose[mediapipe]'")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def model_files(*, model_complexity: int = 1, refine_face: bool = False) -> list[Path]:
    """The model files Holistic opens for these options (measured with strace on 0.10.21)."""
    modules = mediapipe_root() / "modules"
    face = "face_landmark_with_attention.tflite" if refine_face else "face_landmark.tflite"
    return [
        modules / "pose_detection" / "pose_detection.tflite",
        modules / "pose_landmark" / _POSE_LANDMARK_MODELS[model_complexity],
        modules / "face_detection" / "face_detection_short_range.tflite",
        modules / "face_landmark" / face,
        modules / "holistic_landmark" / "hand_recrop.tflite",
        modules / "hand_landmark" / "hand_landmark_full.tflite",
    ]


def check_models(*, model_complexity: int = 1, refine_face: bool = False) -> None:
    """Fail before any work when a model is missing: mediapipe would try to download it
    (model_complexity 0 and 2 are not in the 0.10.21 wheel), which cannot work offline
    and would otherwise fail inside every worker."""
    if model_complexity not in _POSE_LANDMARK_MODELS:
        raise EstimatorError(f"model-complexity must be 0, 1 or 2, not {model_complexity}")
    missing = [path for path in model_files(model_complexity=model_complexity, refine_face=refine_face) if not path.is_file()]
    if missing:
        names = ", ".join(path.name for path in missing)
        raise EstimatorError(
            f"model file(s) missing from the installed mediapipe: {', '.join(map(str, missing))}."
            f" mediapipe 0.10.21 ships only model_complexity=1; for {model_complexity} download"
            f" {names} from MediaPipe's public model storage ({_MODEL_STORAGE}{missing[0].name}) and place"
            " it at that path, or use --model-complexity 1."
        )


class MediaPipeHolistic(EstimatorBase):
    """One Holistic graph, reused clip after clip.

    A Holistic graph keeps state between calls even in static image mode, so each clip
    starts on a graph in a fresh graph's state (a blank frame, or reset() in video mode) and
    its frames go in order: a clip's keypoints then depend on that clip alone, never on
    which worker ran it or what it ran before.
    """

    # One graph keeps more than a core busy when it can: 1.5 workers per core on machines
    # above 4 cores, ~0.55 GB each (README, "Choosing --workers").
    hints = Hints(preload=("mediapipe.python.solutions.holistic",), workers_per_core=1.5, worker_memory=int(0.55 * 2**30))

    def __init__(
        self,
        *,
        mode: Mode = "image",
        refine_face: bool = False,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        world_landmarks: bool = True,
    ) -> None:
        if mode not in MODES:
            raise EstimatorError(f"mode must be image, video or frame, not {mode!r}")
        check_confidences(min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence)
        self.mode = mode
        self.refine_face = bool(refine_face)
        self.model_complexity = model_complexity
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.world_landmarks = bool(world_landmarks)
        check_models(model_complexity=model_complexity, refine_face=self.refine_face)
        self._holistic = None
        self._fresh = True  # the graph has seen no frame since it was built or cleared

    # -- models -----------------------------------------------------------------------------
    def model_files(self) -> list[Path]:
        return model_files(model_complexity=self.model_complexity, refine_face=self.refine_face)

    def provenance(self) -> dict[str, Any]:
        from importlib import metadata

        return {
            "mediapipe_version": metadata.version("mediapipe"),
            "model_sha256": {path.name: _sha256(path) for path in self.model_files()},
        }

    @cached_property
    def layout(self) -> KeypointLayout:
        return holistic_layout(refine_face=self.refine_face, world_landmarks=self.world_landmarks)

    # -- work -------------------------------------------------------------------------------
    @property
    def holistic(self):
        if self._holistic is None:
            from mediapipe.python.solutions.holistic import Holistic

            with quiet_native_logs():
                self._holistic = Holistic(
                    static_image_mode=self.mode != "video",
                    model_complexity=self.model_complexity,
                    refine_face_landmarks=self.refine_face,
                    min_detection_confidence=self.min_detection_confidence,
                    min_tracking_confidence=self.min_tracking_confidence,
                )
        return self._holistic

    def load(self) -> None:
        """Build the graph and load its models now (they load on a graph's first frame),
        leaving it in a fresh graph's state."""
        if self._holistic is not None:
            return
        with quiet_native_logs():
            self.holistic.process(CLEAR_FRAME)
            if self.mode == "video":
                self.holistic.reset()  # a blank frame leaves video mode's smoothing state
        self._fresh = True

    def close(self) -> None:
        if self._holistic is not None:
            self._holistic.close()
            self._holistic = None
            self._fresh = True

    def _clear(self) -> None:
        """Put the graph in a fresh graph's state (bitwise): a blank frame in the static
        modes, reset() in video mode (see CLEAR_FRAME)."""
        if self._fresh:
            return
        with quiet_native_logs():
            if self.mode == "video":
                self.holistic.reset()
            else:
                self.holistic.process(CLEAR_FRAME)
        self._fresh = True

    def _process(self, image: np.ndarray):
        if self.mode == "frame":
            self._clear()  # each frame on a fresh graph: a function of its own pixels alone
        self._fresh = False
        return self.holistic.process(image)

    def estimate_clip(self, frames: Iterable[np.ndarray | None], fps: float) -> ClipKeypoints:
        """Keypoints for one clip's frames, in order. ``None`` marks a frame that could not
        be decoded: it gets no keypoints (confidence 0) and is not shown to the model."""
        self._clear()  # the clip's keypoints depend on the clip alone
        layout = self.layout
        points: list[np.ndarray] = []
        confidence: list[np.ndarray] = []
        present: list[np.ndarray] = []
        width = height = 0
        for image in frames:
            frame_points = np.zeros((layout.total, 3), np.float32)
            frame_confidence = np.zeros(layout.total, np.float32)
            frame_present = np.zeros(len(layout.parts), bool)
            if image is not None:
                if not width:
                    height, width = image.shape[:2]
                    with quiet_native_logs():  # the graph's models load on the first frame
                        results = self._process(image)
                else:
                    results = self._process(image)
                self._fill(results, frame_points, frame_confidence, frame_present)
            points.append(frame_points)
            confidence.append(frame_confidence)
            present.append(frame_present)
        if self.mode == "video":
            # reset() restarts the graph asynchronously: done now, its ~70 ms of set-up
            # overlaps writing this clip and decoding the next one.
            self._fresh = False
            self._clear()
        if not points:
            return ClipKeypoints.empty(layout, fps)
        return ClipKeypoints(
            points=np.stack(points), confidence=np.stack(confidence), present=np.stack(present),
            width=width, height=height, fps=fps, layout=layout,
        )  # fmt: skip

    def _fill(self, results, points: np.ndarray, confidence: np.ndarray, present: np.ndarray) -> None:
        found = {
            "pose": results.pose_landmarks,
            "face": results.face_landmarks,
            "left_hand": results.left_hand_landmarks,
            "right_hand": results.right_hand_landmarks,
            WORLD: results.pose_world_landmarks,
        }
        layout = self.layout
        for column, part in enumerate(layout.parts):
            landmarks = found[part.name]
            if landmarks is None:
                continue
            where = layout.slices[part.name]
            marks = landmarks.landmark[: part.size]
            points[where] = [(p.x, p.y, p.z) for p in marks]
            # As pose-format's Holistic output: visibility for body points, 1 for the rest.
            confidence[where] = [p.visibility for p in marks] if part.name in ("pose", WORLD) else 1.0
            present[column] = True


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
