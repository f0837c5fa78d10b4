"""One clip, start to finish, inside a worker: list frames, decode, estimate, write.

``ClipProcessor`` is the picklable function every backend runs. It builds its estimator
once per worker (as the worker starts, or on its first clip) and keeps it for the worker's
life. Told which clips come next, it lists and decodes them ahead while the current clip's
last frames are estimated; an estimator that batches across clips (``estimate_clips``) gets
the clips decoded ahead in one batch with the current one, and their files are written on a
writer thread (extract.writer): while a clip's file is on its way to the disk, the clips
decoded by then are estimated, so the device waits on the disk only when it has nothing else
to do. Whatever goes wrong with a clip
is caught here, once, and becomes a failed ClipResult, so one bad clip never ends a run.
Bad input (a missing folder, a broken video, an unsafe name) is told apart from an
unexpected exception, a bug: that one keeps its traceback in ``OUT/logs/``.
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from signpose.backends import heartbeat
from signpose.model.clip import Clip
from signpose.errors import ClipError, EstimatorError, OutputError, SignposeError
from signpose.estimators import Estimator, EstimatorSpec, make_estimator
from signpose.model.keypoints import ClipKeypoints
from signpose.run.record import ClipResult, ClipStatus, ErrorKind, FrameFailure
from signpose.sources import DecodedFrame, FrameLimits, FrameSource, open_frames
from signpose.sources.fingerprint import input_fingerprint
from signpose.run.store import RunStore
from signpose.extract.writer import PoseWriter, write_pose

# What bad input raises on its way in: reported as the clip's error, no traceback needed.
INPUT_ERRORS = (ClipError, SignposeError, OSError)
# Frames of the next clip decoded ahead while the current clip finishes: a few or, for an
# estimator that reads a whole clip before it answers (its ``reads_whole_clips``), all of
# them up to PRIMED_BYTES.
PRIMED_FRAMES = 2
PRIMED_BYTES = 256 * 2**20


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

    def __init__(self, spec: EstimatorSpec, out_dir: Path, limits: FrameLimits = FrameLimits(),
                 estimator: Estimator | None = None) -> None:
        self.spec = spec
        self.out_dir = Path(out_dir)
        self.limits = limits
        self._estimator = estimator  # the spec's, if already built (never pickled)
        self._building = threading.Lock()  # the estimator is built once, whichever thread asks first
        self._ahead: ThreadPoolExecutor | None = None
        self._prepared: dict[tuple[str, str], Future] = {}
        self._estimated: dict[tuple[str, str], _Estimated] = {}
        self._writer = PoseWriter(self.out_dir)  # used for an estimator that batches across clips

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "out_dir": self.out_dir, "limits": self.limits}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["spec"], state["out_dir"], state["limits"])

    @property
    def estimator(self) -> Estimator:
        with self._building:
            if self._estimator is None:
                self._estimator = make_estimator(self.spec)
        return self._estimator

    @property
    def preload(self) -> tuple[str, ...]:
        """Modules a worker needs (the estimator's), for a backend to import once for all."""
        return (type(self.estimator).__module__, *self.estimator.hints.preload)

    def start(self) -> None:
        """Build the estimator and load its models now: a worker calls this as it starts,
        so its first clip does not wait for them."""
        try:
            self.estimator.load()
        except Exception:  # noqa: BLE001 - the first clip meets the same error and records it with its traceback
            pass

    @property
    def items_ahead(self) -> int:
        """How many clips a worker should know of beyond the one it runs: one to decode
        ahead, more for an estimator that batches frames across clips (``clips_ahead``)."""
        return max(1, self.estimator.hints.clips_ahead)

    def prepare(self, clip: Clip) -> None:
        """Start listing ``clip`` and decoding its first frames (or all of them, for an
        estimator that reads whole clips) on a helper thread; the call for that clip takes
        them up. A backend calls this as soon as it knows the clip is next for this worker
        (and ignores what it raises: the clip's own call meets the problem and records it)."""
        if self._ahead is None:
            # one clip at a time, or several for an estimator faster than a core decodes one
            # clip (a video decodes on one thread, to stay byte-identical): its decode_clips
            together = max(1, self.estimator.hints.decode_clips)
            self._ahead = ThreadPoolExecutor(max_workers=together, thread_name_prefix="signpose-next")
        self._prepared[(clip.split, clip.clip_id)] = self._ahead.submit(self._open, clip)

    def _open(self, clip: Clip) -> _Opened:
        RunStore(self.out_dir).pose_relpath(clip.split, clip.clip_id)  # refuse unsafe ids before any work
        # taken before reading: a change while the clip is processed shows at the next resume
        fingerprint = input_fingerprint(clip)
        hints = self.estimator.hints
        source = open_frames(clip, max_pixels=self.limits.max_pixels, max_bytes=self.limits.max_bytes, threads=hints.decode_threads)
        first, whole = _prime(source.frames, whole=hints.reads_whole_clips)
        return _Opened(clip, fingerprint, replace(source, frames=itertools.chain(first, source.frames)), whole)

    def __call__(self, clip: Clip) -> ClipResult:
        base = failed_result(clip)
        try:
            return self._process(clip, base)
        except OutputError as error:  # every clip would fail alike: the driver stops the run
            return replace(base, error=str(error), error_kind=ErrorKind.OUTPUT)
        except EstimatorError as error:  # the same: the estimator cannot run in this worker
            return replace(base, error=str(error), error_kind=ErrorKind.ESTIMATOR)
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
        key = (clip.split, clip.clip_id)
        done = self._estimated.pop(key, None)  # estimated with an earlier clip, in one batch
        if done is None:
            prepared = self._prepared.pop(key, None)
            opened = prepared.result() if prepared is not None else self._open(clip)
            done = self._estimate(opened)
        keypoints, source = done.keypoints, done.opened.source
        counted = replace(
            base,
            input_fingerprint=done.opened.fingerprint,
            frames=keypoints.num_frames,
            failed_frames=len(done.failures),
            frame_failures=done.failures,
            frame_names=done.names,
            detected=keypoints.detected(),
            width=keypoints.width,
            height=keypoints.height,
            fps=source.fps,
            frame_rate=source.frame_rate,
            rotation=source.rotation,
        )
        if len(done.failures) == keypoints.num_frames:
            error = f"{clip.source}: none of the {keypoints.num_frames} frames could be decoded"
            return replace(counted, error=error, error_kind=ErrorKind.INPUT)
        pose_file, checksum = self._write(done)
        return replace(counted, status=ClipStatus.OK, pose_file=pose_file, checksum=checksum)

    def _write(self, done: _Estimated) -> tuple[str, str]:
        """``done``'s .pose on disk: written now, or by the writer thread; while that one is
        still writing it, the clips decoded by then are estimated first."""
        clip = done.opened.clip
        writing = self._writer.take(clip.split, clip.clip_id)
        if writing is None:
            return write_pose(self.out_dir, clip.split, clip.clip_id, done.keypoints)
        if not writing.done():
            self._estimate_ahead()
        return writing.result()

    def _estimate(self, opened: _Opened) -> _Estimated:
        """``opened``'s keypoints; an estimator that batches across clips gets the clips
        decoded ahead in the same batch, and their keypoints wait for their own calls."""
        if not self.estimator.hints.batches_clips:
            names: list[str] = []
            failures: list[FrameFailure] = []
            keypoints = self.estimator.estimate_clip(_images(opened.source.frames, names, failures), opened.source.fps)
            return _Estimated(opened, keypoints, tuple(names), tuple(failures))
        group = [opened, *self._decoded_ahead()]
        read = [_read(member) for member in group]
        try:
            self._batch(group, read)
        except Exception:
            if len(group) == 1:
                raise
            # Another clip may be the cause: this one alone; the others are redone in their own calls.
            self._batch(group[:1], read[:1])
        return self._estimated.pop((opened.clip.split, opened.clip.clip_id))

    def _batch(self, group: list[_Opened], read: list[_Read]) -> None:
        """``group``'s clips in one call of the estimator: each one's keypoints wait for its
        call, and its file goes to the writer thread."""
        keypoints = self.estimator.estimate_clips([(images, member.source.fps) for (images, _, _), member in zip(read, group)])
        for member, points, (_, names, failures) in zip(group, keypoints, read):
            clip = member.clip
            self._estimated[(clip.split, clip.clip_id)] = _Estimated(member, points, names, failures)
            if len(failures) < points.num_frames:  # else nothing to write: its call says why
                self._writer.submit(clip.split, clip.clip_id, points)

    def _estimate_ahead(self) -> None:
        """The clips decoded whole by now, estimated before their calls come (the device works
        while the disk does). If that fails, each clip's own call meets the error and records it."""
        group = self._decoded_ahead()
        if group:
            try:
                self._batch(group, [_read(member) for member in group])
            except Exception:  # noqa: BLE001 - redone, and recorded, by each clip's own call
                pass

    def _decoded_ahead(self) -> list[_Opened]:
        """The clips told of ahead that are listed and decoded whole by now, taken over
        (one that failed to open is left: its own call reports it)."""
        ready = []
        for key, future in list(self._prepared.items()):
            if future.done() and future.exception() is None and future.result().whole:
                ready.append(self._prepared.pop(key).result())
        return ready


@dataclass(frozen=True)
class _Opened:
    """A clip listed, fingerprinted and (``whole``: entirely) decoded."""

    clip: Clip
    fingerprint: str | None
    source: FrameSource
    whole: bool


@dataclass(frozen=True)
class _Estimated:
    opened: _Opened
    keypoints: ClipKeypoints
    names: tuple[str, ...]
    failures: tuple[FrameFailure, ...]


# a clip's frames as read for a batch: the pixels, the frame names, the failed frames
_Read = tuple[list[np.ndarray | None], tuple[str, ...], tuple[FrameFailure, ...]]


def _read(member: _Opened) -> _Read:
    names: list[str] = []
    failures: list[FrameFailure] = []
    images = list(_images(member.source.frames, names, failures))
    return images, tuple(names), tuple(failures)


def _images(frames: Iterable[DecodedFrame], names: list[str], failures: list[FrameFailure]) -> Iterator[np.ndarray | None]:
    """The frames' pixels for the estimator, noting each name and failure on the way."""
    for frame in frames:
        heartbeat()  # progress, for the backend's watchdog: a hung worker is one that stops asking
        names.append(frame.name)
        if frame.error is not None:
            failures.append(FrameFailure(frame.name, frame.error))
        yield frame.image


def _prime(frames: Iterator[DecodedFrame], *, whole: bool) -> tuple[list[DecodedFrame], bool]:
    """The first frames, decoded now: PRIMED_FRAMES, or with ``whole`` the clip's frames up
    to PRIMED_BYTES of pixels; and whether that was all of them. ``frames`` goes on after."""
    first: list[DecodedFrame] = []
    size = 0
    for frame in frames:
        first.append(frame)
        size += frame.image.nbytes if frame.image is not None else 0
        if len(first) >= PRIMED_FRAMES and (not whole or size >= PRIMED_BYTES):
            return first, False
    return first, True


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
