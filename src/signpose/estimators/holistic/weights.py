"""The six networks of MediaPipe Holistic 0.10.21 (model_complexity 1), shipped with signpose
(``models/``, Apache-2.0, see ``models/NOTICE``): where they are and their sha256, checked
before a runtime reads them. Nothing is downloaded, and mediapipe is not needed."""

from __future__ import annotations

import hashlib
from enum import Enum
from pathlib import Path

from signpose.errors import EstimatorError

MODELS_DIR = Path(__file__).resolve().parent / "models"


class Network(str, Enum):
    """A network of the graph, by the role it plays; ``.value`` is its name in records."""

    POSE_DETECTION = "pose_detection"
    POSE_LANDMARK = "pose_landmark"
    FACE_DETECTION = "face_detection"
    FACE_LANDMARK = "face_landmark"
    HAND_RECROP = "hand_recrop"
    HAND_LANDMARK = "hand_landmark"


# file in models/ (as named in the mediapipe wheel), sha256, input size (width = height)
MODELS: dict[Network, tuple[str, str, int]] = {
    Network.POSE_DETECTION: ("pose_detection.tflite", "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", 224),
    Network.POSE_LANDMARK: ("pose_landmark_full.tflite", "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", 256),
    Network.FACE_DETECTION: ("face_detection_short_range.tflite", "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 128),
    Network.FACE_LANDMARK: ("face_landmark.tflite", "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 192),
    Network.HAND_RECROP: ("hand_recrop.tflite", "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d", 256),
    Network.HAND_LANDMARK: ("hand_landmark_full.tflite", "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3", 224),
}  # fmt: skip


def model_sha256() -> dict[str, str]:
    """What ``run.json`` records: file name -> sha256 (the same names the mediapipe estimator records)."""
    return {file: digest for file, digest, _ in MODELS.values()}


def read_model(network: Network, models_dir: Path = MODELS_DIR) -> bytes:
    """The network's file, checked against its sha256: EstimatorError naming the file when
    it is missing or altered."""
    file, digest, _ = MODELS[network]
    path = models_dir / file
    try:
        content = path.read_bytes()
    except OSError as error:
        raise EstimatorError(f"{path}: model file missing or unreadable ({error.strerror or error}); reinstall signpose") from error
    found = hashlib.sha256(content).hexdigest()
    if found != digest:
        raise EstimatorError(f"{path}: model file altered (sha256 {found[:16]}..., expected {digest[:16]}...); reinstall signpose")
    return content


def input_size(network: Network) -> int:
    return MODELS[network][2]
