"""One clip, start to finish, inside a worker: list frames, decode, estimate, write.

``ClipProcessor`` is the picklable function every backend runs. It builds its Holistic
graph on the first clip a worker gives it and keeps it for the worker's life. Whatever
goes wrong with a clip is caught here, once, and becomes a failed ClipResult, so one bad
clip never ends a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from signpose.clip import Clip
from signpose.decode import DecodedFrame, decode_frames
from signpose.estimator import EstimatorOptions, HolisticEstimator
from signpose.keypoints import PARTS, ClipKeypoints
from signpose.posefile import to_pose_bytes
from signpose.results import ClipResult, ClipStatus, FrameFailure, PartCounts
from signpose.store import RunStore

DEFAULT_FPS = 25.0


class ClipError(Exception):
    """A clip that cannot be processed at all (no frames, missing folder...)."""


@dataclass(frozen=True)
class FrameSource:
    """A clip's frames, ready to stream (each carries its name for the index), and the
    frame rate as a float (for the .pose file) and exactly (``frame_rate``, a fraction)."""

    frames: Iterator[DecodedFrame]
    fps: float
    frame_rate: str


def open_frames(clip: Clip) -> FrameSource:
    if clip.kind == "video":
        from signpose.video import open_video_frames

        return open_video_frames(clip)
    from signpose.datasets import list_frames

    paths = list_frames(clip.source)
    if not paths:
        raise ClipError(f"{clip.source}: no image frames in the clip folder")
    fps = Fraction(clip.fps or DEFAULT_FPS).limit_denominator(1001)
    return FrameSource(decode_frames(paths), float(fps), f"{fps.numerator}/{fps.denominator}")


def _describe(error: Exception) -> str:
    text = str(error)
    return text if isinstance(error, (ClipError, FileNotFoundError)) and text else f"{type(error).__name__}: {text}"


def failed_result(clip: Clip, error: str | None = None) -> ClipResult:
    """A clip's index record before (or instead of) any result: failed, with its metadata."""
    return ClipResult(
        split=clip.split,
        clip_id=clip.clip_id,
        status=ClipStatus.FAILED,
        source=str(clip.source),
        error=error,
        signer=clip.signer,
        gloss=clip.gloss,
        translation=clip.translation,
    )


class ClipProcessor:
    """Processes clips into ``.pose`` files in ``out_dir``; returns the index record."""

    def __init__(self, options: EstimatorOptions, out_dir: Path) -> None:
        self.options = options
        self.out_dir = Path(out_dir)
        self._estimator: HolisticEstimator | None = None

    def __getstate__(self) -> dict:
        return {"options": self.options, "out_dir": self.out_dir}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["options"], state["out_dir"])

    @property
    def estimator(self) -> HolisticEstimator:
        if self._estimator is None:
            self._estimator = HolisticEstimator(self.options)
        return self._estimator

    def __call__(self, clip: Clip) -> ClipResult:
        base = failed_result(clip)
        try:
            return self._process(clip, base)
        except Exception as error:  # the one per-clip catch: record it, the run goes on
            return replace(base, error=_describe(error))

    def _process(self, clip: Clip, base: ClipResult) -> ClipResult:
        store = RunStore(self.out_dir)
        store.pose_relpath(clip.split, clip.clip_id)  # refuse unsafe ids before any work
        source = open_frames(clip)
        failures: list[FrameFailure] = []
        names: list[str] = []

        def images():
            for frame in source.frames:
                names.append(frame.name)
                if frame.error is not None:
                    failures.append(FrameFailure(frame.name, frame.error))
                yield frame.image

        keypoints = self.estimator.estimate_clip(images(), source.fps)
        counted = replace(
            base,
            frames=keypoints.num_frames,
            failed_frames=len(failures),
            frame_failures=tuple(failures),
            frame_names=tuple(names),
            detected=_counts(keypoints),
            width=keypoints.width,
            height=keypoints.height,
            fps=source.fps,
            frame_rate=source.frame_rate,
        )
        if len(failures) == keypoints.num_frames:
            return replace(counted, error=f"{clip.source}: none of the {keypoints.num_frames} frames could be decoded")
        pose_file, checksum = store.write_pose(clip.split, clip.clip_id, to_pose_bytes(keypoints))
        return replace(counted, status=ClipStatus.OK, pose_file=pose_file, checksum=checksum)


def _counts(keypoints: ClipKeypoints) -> PartCounts:
    return PartCounts(**{part: keypoints.frames_with(part) for part in PARTS})


def check_access(dataset_path: Path, out_dir: Path) -> None:
    """Can this machine read the dataset and write the run folder? On a cluster every node
    must see both (a shared filesystem); this names what is missing where."""
    import socket

    host = socket.gethostname()
    if not os.access(dataset_path, os.R_OK):
        raise OSError(
            f"on {host}: cannot read the dataset at {dataset_path} (every worker must see the dataset:"
            " is it on a shared filesystem mounted at the same path?)"
        )
    RunStore(out_dir).write_probe(host)
