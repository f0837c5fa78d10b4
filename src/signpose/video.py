"""Video clips: every frame of a video file, decoded with PyAV in presentation order.

A container's frame count (``stream.frames``) is a header value that is often missing or
wrong, and counting packets miscounts codecs that hide frames (VP8 alt-ref, packed
B-frames in AVI), so frames are counted as the decoder gives them, in one streaming pass;
``probe_video`` decodes a whole file when a count is needed up front.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from signpose.clip import Clip
from signpose.decode import DecodedFrame
from signpose.pipeline import DEFAULT_FPS, ClipError, FrameSource

NAME_DIGITS = 6


class VideoError(ClipError):
    """A video file that cannot be decoded (missing, not a video, no frames, corrupt)."""


@dataclass(frozen=True)
class VideoInfo:
    """What one full decode of a video file found."""

    path: Path
    frames: int
    width: int
    height: int
    rate: Fraction  # exact average frame rate, e.g. 30000/1001
    codec: str

    @property
    def frame_rate(self) -> str:
        return format_rate(self.rate)


def format_rate(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def frame_name(index: int) -> str:
    return f"{index:0{NAME_DIGITS}d}"


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VideoError(f"{path}: video file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes), not a video")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: not a readable video ({_reason(error)})") from error
    except OSError as error:  # a folder or unreadable file named like a video
        raise VideoError(f"{path}: cannot open ({error.strerror or error})") from error


def _reason(error: av.error.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream (audio only, or not a video)")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"{path}: no decoder for its video codec in this PyAV build")
    # Threaded decoders are meant to give the same pictures, but one thread makes that a
    # guarantee rather than a property of each codec: runs must be byte-identical.
    stream.thread_type = "NONE"
    stream.codec_context.thread_count = 1
    return stream


def _rate(stream: av.video.stream.VideoStream, fallback: float | None) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return Fraction(fallback or DEFAULT_FPS).limit_denominator(1001)


def _decode(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path) -> Iterator[av.VideoFrame]:
    """Decoded pictures in the decoder's output order, which is presentation order: the
    decoder reorders B-frames itself. Container timestamps are not used to sort (nor to
    drop or repeat frames, as a constant-rate conversion would): they are missing or
    unreliable in some files, and a variable-rate clip keeps every frame it has."""
    index = 0
    try:
        for frame in container.decode(stream):
            yield frame
            index += 1
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: decoding failed at frame {index} ({_reason(error)})") from error


def probe_video(path: Path, fallback_fps: float | None = None) -> VideoInfo:
    """Decode the whole file once: exact frame count, size, frame rate."""
    path = Path(path)
    count = width = height = 0
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = _rate(stream, fallback_fps)
        for frame in _decode(container, stream, path):
            if not count:
                width, height = frame.width, frame.height
            count += 1
        codec = stream.codec_context.name
    if not count:
        raise VideoError(f"{path}: no video frames could be decoded (empty or truncated file)")
    return VideoInfo(path, count, width, height, rate, codec)


def iter_rgb_frames(path: Path, expected: int | None = None) -> Iterator[np.ndarray]:
    """Every frame as RGB uint8 ``[h, w, 3]``, one at a time (memory stays flat).

    With ``expected``, a file that now gives another number of frames (it changed since it
    was counted) raises VideoError rather than misaligning names and keypoints."""
    path = Path(path)
    count = 0
    with _open(path) as container:
        for frame in _decode(container, _video_stream(container, path), path):
            if count == expected:
                raise VideoError(f"{path}: gives more than the {expected} frames counted (file changed while reading?)")
            yield frame.to_ndarray(format="rgb24")
            count += 1
    if expected is not None and count < expected:
        raise VideoError(f"{path}: gives {count} frames, but {expected} were counted (file changed while reading?)")


def open_video_frames(clip: Clip) -> FrameSource:
    """The frames of a video clip, named ``000000``, ``000001``... in presentation order,
    decoded once, as they are consumed. Opening checks the file is a video with a decoder;
    a file that then yields no frame raises VideoError when the stream ends."""
    path = Path(clip.source)
    with _open(path) as container:
        rate = _rate(_video_stream(container, path), clip.fps)

    def frames() -> Iterator[DecodedFrame]:
        count = 0
        for image in iter_rgb_frames(path):
            yield DecodedFrame(frame_name(count), image)
            count += 1
        if not count:
            raise VideoError(f"{path}: no video frames could be decoded (empty or truncated file)")

    return FrameSource(frames(), float(rate), format_rate(rate))
