"""What processing one clip produced: the record the index keeps per clip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


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
        if not all(isinstance(name, str) and _is_count(count) for name, count in record["detected"].items()):
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


# The largest count a record or stats may hold (an int64: anything larger is not a count).
MAX_COUNT = 2**63 - 1
# Stats hold one entry per split and one count per name: no run has more than this.
MAX_STATS_ENTRIES = 10_000


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def check_stats(stats: Any, limit: int = MAX_STATS_ENTRIES) -> dict[str, dict[str, int]]:
    """``stats`` if it is ``{split: {name: count}}`` (strings to non-negative ints, at most
    ``limit`` splits and names per split, nothing nested deeper); else ValueError saying
    what is wrong. Checked before anything compares or prints stats from an untrusted file."""
    if not isinstance(stats, dict):
        raise ValueError(f"stats are a {type(stats).__name__}, expected {{split: {{name: count}}}}")
    if len(stats) > limit:
        raise ValueError(f"stats have {len(stats)} splits, more than {limit}")
    for split, counts in stats.items():
        if not isinstance(split, str):
            raise ValueError(f"stats have a split named by a {type(split).__name__}, expected a str")
        if not isinstance(counts, dict):
            raise ValueError(f"stats of split {split[:80]!r} are a {type(counts).__name__}, expected {{name: count}}")
        if len(counts) > limit:
            raise ValueError(f"stats of split {split[:80]!r} have {len(counts)} entries, more than {limit}")
        for name, count in counts.items():
            if not isinstance(name, str):
                raise ValueError(f"stats of split {split[:80]!r} have a name that is a {type(name).__name__}, expected a str")
            if not _is_count(count):
                shown = type(count).__name__ if not isinstance(count, int) or isinstance(count, bool) else "out of range"
                raise ValueError(f"stats of split {split[:80]!r}: {name[:80]!r} is not a count ({shown})")
    return stats


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "split": str, "clip_id": str, "status": str, "source": str, "frames": int, "failed_frames": int,
    "error": (str, type(None)), "error_kind": (str, type(None)), "pose_file": (str, type(None)),
    "checksum": (str, type(None)), "frame_names": list, "frame_failures": list, "width": int, "height": int,
    "fps": (int, float), "frame_rate": str, "rotation": int, "signer": str, "gloss": str, "translation": str,
    "input_fingerprint": (str, type(None)),
}
