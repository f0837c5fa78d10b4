"""What processing one clip produced: the record the index keeps per clip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class ClipStatus(str, Enum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class FrameFailure:
    """A frame that could not be decoded: it has no keypoints, the clip goes on."""

    frame: str
    error: str


@dataclass(frozen=True)
class PartCounts:
    pose: int = 0
    face: int = 0
    left_hand: int = 0
    right_hand: int = 0


@dataclass(frozen=True)
class ClipResult:
    """One clip's line in the index. Small: keypoints live in the clip's .pose file."""

    split: str
    clip_id: str
    status: ClipStatus
    source: str
    frames: int = 0
    failed_frames: int = 0
    detected: PartCounts = field(default_factory=PartCounts)
    error: str | None = None
    pose_file: str | None = None  # relative to the run folder
    checksum: str | None = None  # sha256 of the .pose file
    frame_names: tuple[str, ...] = ()
    frame_failures: tuple[FrameFailure, ...] = ()
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frame_rate: str = ""  # exact, as a fraction: "25/1", "30000/1001"
    signer: str = ""
    gloss: str = ""
    translation: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.split, self.clip_id)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["status"] = self.status.value
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "ClipResult":
        return cls(
            **{
                **record,
                "status": ClipStatus(record["status"]),
                "detected": PartCounts(**record["detected"]),
                "frame_names": tuple(record["frame_names"]),
                "frame_failures": tuple(FrameFailure(**f) for f in record["frame_failures"]),
            }
        )
