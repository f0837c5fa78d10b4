"""What processing one clip produced: the record the index keeps per clip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from signpose.model.stats import MAX_COUNT, is_count


class ClipStatus(str, Enum):
    OK = "ok"
    FAILED = "failed"


class ErrorKind(str, Enum):
    """Why a clip failed: its input (missing, broken, unreadable: fix the data), an
    internal error (an unexpected exception: a bug; its traceback is kept in
    ``OUT/logs/``), or its worker kept dying (killed, out of memory)."""

    INPUT = "input"
    INTERNAL = "internal"
    WORKER = "worker"
    # Writing into the run folder failed as it would for every clip (disk full, read-only,
    # no permission): the run stops; such a record is never written to the index.
    OUTPUT = "output"
    # The estimator cannot run in a worker (a model file missing or altered there, its runtime
    # not installed there): every clip would fail alike, so the run stops; never written either.
    ESTIMATOR = "estimator"


@dataclass(frozen=True)
class FrameFailure:
    """A frame that could not be decoded: it has no keypoints, the clip goes on."""

    frame: str
    error: str


@dataclass(frozen=True)
class ClipResult:
    """One clip's line in the index. Small: keypoints live in the clip's .pose file.
    ``detected`` counts the frames with each part, by part name in layout order."""

    split: str
    clip_id: str
    status: ClipStatus
    source: str
    frames: int = 0
    failed_frames: int = 0
    detected: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    error_kind: ErrorKind | None = None
    pose_file: str | None = None  # relative to the run folder
    checksum: str | None = None  # sha256 of the .pose file
    frame_names: tuple[str, ...] = ()
    frame_failures: tuple[FrameFailure, ...] = ()
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frame_rate: str = ""  # exact, as a fraction: "25/1", "30000/1001"
    rotation: int = 0  # degrees clockwise the video's frames were turned to stand upright
    signer: str = ""
    gloss: str = ""
    translation: str = ""
    input_fingerprint: str | None = None  # of the clip's frames or video when done (signpose.sources.fingerprint)

    @property
    def key(self) -> tuple[str, str]:
        return (self.split, self.clip_id)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["status"] = self.status.value
        record["error_kind"] = self.error_kind.value if self.error_kind else None
        return record

    @classmethod
    def from_json(cls, record: Any) -> "ClipResult":
        """A record read back; ValueError for anything not of the record's shape."""
        if not isinstance(record, dict) or not isinstance(record.get("detected"), dict):
            raise ValueError("not an index record")
        for key, kind in _FIELD_TYPES.items():
            if key in record and (not isinstance(record[key], kind) or (isinstance(record[key], bool) and kind is int)):
                raise ValueError(f"index record field {key!r} is a {type(record[key]).__name__}")
        for key in ("frames", "failed_frames", "width", "height"):
            if key in record and not 0 <= record[key] <= MAX_COUNT:
                raise ValueError(f"index record field {key!r} is {record[key]}, not a count")
        if not all(isinstance(name, str) and is_count(count) for name, count in record["detected"].items()):
            raise ValueError("index record field 'detected' is not a mapping of part names to counts")
        if not all(isinstance(name, str) for name in record.get("frame_names", ())):
            raise ValueError("index record field 'frame_names' holds a non-string")
        for failure in record.get("frame_failures", ()):
            if not (isinstance(failure, dict) and set(failure) == {"frame", "error"} and all(isinstance(v, str) for v in failure.values())):
                raise ValueError("index record field 'frame_failures' holds something other than {'frame': str, 'error': str}")
        kind = record.get("error_kind")
        return cls(
            **{
                **record,
                "status": ClipStatus(record["status"]),
                "error_kind": ErrorKind(kind) if kind else None,
                "detected": {str(name): int(count) for name, count in dict(record["detected"]).items()},
                "frame_names": tuple(record["frame_names"]),
                "frame_failures": tuple(FrameFailure(**f) for f in record["frame_failures"]),
            }
        )


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "split": str, "clip_id": str, "status": str, "source": str, "frames": int, "failed_frames": int,
    "error": (str, type(None)), "error_kind": (str, type(None)), "pose_file": (str, type(None)),
    "checksum": (str, type(None)), "frame_names": list, "frame_failures": list, "width": int, "height": int,
    "fps": (int, float), "frame_rate": str, "rotation": int, "signer": str, "gloss": str, "translation": str,
    "input_fingerprint": (str, type(None)),
}
