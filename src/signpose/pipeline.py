"""One clip, start to finish, inside a worker: list frames, decode, estimate, write.

``ClipProcessor`` is the picklable function every backend runs. It builds its estimator
once per worker (as the worker starts, or on its first clip) and keeps it for the worker's
life; told which clip comes next, it lists and decodes that clip's first frames while the
current clip's last frames are estimated. Whatever goes
wrong with a clip is caught here, once, and becomes a failed ClipResult, so one bad clip
never ends a run. Bad input (a missing folder, a broken video, an unsafe name) is told
apart from an unexpected exception, a bug: that one keeps its traceback in ``OUT/logs/``.
"""

from __future__ import annotations

import itertools
import os
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from signpose.backends import heartbeat
from signpose.clip import Clip
from signpose.errors import ClipError, SignposeError
from signpose.estimators import Estimator, EstimatorSpec, estimator_modules, make_estimator
from signpose.posefile import to_pose_bytes
from signpose.results import ClipResult, ClipStatus, ErrorKind, FrameFailure
from signpose.sources import FrameLimits, FrameSource, open_frames
from signpose.sources.fingerprint import input_fingerprint
from signpose.store import RunStore

# What bad input raises on its way in: reported as the clip's error, no traceback needed.
INPUT_ERRORS = (ClipError, SignposeError, OSError)
# Frames of the next clip decoded ahead, while the current clip finishes.
PRIMED_FRAMES = 2


def _describe(error: Exception) -> str:
    text = str(error)
    return text if isinstance(error, (ClipError, FileNotFoundError, SignposeError)) and text else f"{type(error).__name__}: {text}"


def failed_result(clip: Clip, error: str | None = None, kind: ErrorKind | None = None) -> ClipResult:
    """A clip's index record before (or instead of) any result: failed, with its metadata."""
    return ClipResult(
        split=clip.split,
        clip_id=clip.clip_id,
        status=ClipStatus.FAILED,
        source=str(clip.source),
        error=error,
        error_kind=kind,
        signer=clip.signer,
        gloss=clip.gloss,
        translation=clip.translation,
    )


class ClipProcessor:
    """Processes clips into ``.pose`` files in ``out_dir``; returns the index record."""

    def __init__(self, spec: EstimatorSpec, out_dir: Path, limits: FrameLimits = FrameLimits()) -> None:
        self.spec = spec
        self.out_dir = Path(out_dir)
        self.limits = limits
        self._estimator: Estimator | None = None
        self._ahead: ThreadPoolExecutor | None = None
        self._prepared: dict[tuple[str, str], Future] = {}

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "out_dir": self.out_dir, "limits": self.limits}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["spec"], state["out_dir"], state["limits"])

    @property
    def estimator(self) -> Estimator:
        if self._estimator is None:
            self._estimator = make_estimator(self.spec)
        return self._estimator

    @property
    def preload(self) -> tuple[str, ...]:
        """Modules a worker needs (the estimator's), for a backend to import once for all."""
        return estimator_modules(self.spec)

    def start(self) -> None:
        """Build the estimator and load its models now: a worker calls this as it starts,
        so its first clip does not wait for them."""
        try:
            load = getattr(self.estimator, "load", None)
            if load is not None:
                load()
        except Exception:  # noqa: BLE001 - the first clip meets the same error and records it with its traceback
            pass

    def prepare(self, clip: Clip) -> None:
        """Start listing ``clip`` and decoding its first frames on a helper thread; the
        call for that clip takes them up. A backend calls this as soon as it knows the clip
        is next for this worker."""
        if self._ahead is None:
            self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signpose-next")
        self._prepared[(clip.split, clip.clip_id)] = self._ahead.submit(self._open, clip)

    def _open(self, clip: Clip) -> tuple[str | None, FrameSource]:
        RunStore(self.out_dir).pose_relpath(clip.split, clip.clip_id)  # refuse unsafe ids before any work
        # taken before reading: a change while the clip is processed shows at the next resume
        fingerprint = input_fingerprint(clip)
        source = open_frames(clip, max_pixels=self.limits.max_pixels, max_bytes=self.limits.max_bytes)
        first = list(itertools.islice(source.frames, PRIMED_FRAMES))
        return fingerprint, replace(source, frames=itertools.chain(first, source.frames))

    def __call__(self, clip: Clip) -> ClipResult:
        base = failed_result(clip)
        try:
            return self._process(clip, base)
        except INPUT_ERRORS as error:  # the one per-clip catch: record it, the run goes on
            return replace(base, error=_describe(error), error_kind=ErrorKind.INPUT)
        except Exception as error:  # a bug, not bad data: keep the traceback to find it
            return replace(base, error=self._internal(clip, error), error_kind=ErrorKind.INTERNAL)

    def _internal(self, clip: Clip, error: Exception) -> str:
        text = f"internal error: {type(error).__name__}: {error}"
        try:
            log = RunStore(self.out_dir).write_log(clip.split, clip.clip_id, "".join(traceback.format_exception(error)))
        except (OSError, SignposeError):
            return text + " (its traceback could not be saved)"
        return f"{text} (traceback in {log})"

    def _process(self, clip: Clip, base: ClipResult) -> ClipResult:
        prepared = self._prepared.pop((clip.split, clip.clip_id), None)
        fingerprint, source = prepared.result() if prepared is not None else self._open(clip)
        base = replace(base, input_fingerprint=fingerprint)
        failures: list[FrameFailure] = []
        names: list[str] = []

        def images():
            for frame in source.frames:
                heartbeat()  # progress, for the backend's watchdog: a hung worker is one that stops asking
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
            detected=keypoints.detected(),
            width=keypoints.width,
            height=keypoints.height,
            fps=source.fps,
            frame_rate=source.frame_rate,
            rotation=source.rotation,
        )
        if len(failures) == keypoints.num_frames:
            error = f"{clip.source}: none of the {keypoints.num_frames} frames could be decoded"
            return replace(counted, error=error, error_kind=ErrorKind.INPUT)
        pose_file, checksum = RunStore(self.out_dir).write_pose(clip.split, clip.clip_id, to_pose_bytes(keypoints))
        return replace(counted, status=ClipStatus.OK, pose_file=pose_file, checksum=checksum)


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
