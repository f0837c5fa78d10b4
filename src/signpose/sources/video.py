"""Video clips: every frame of a video file, decoded with PyAV in presentation order.

A container's frame count (``stream.frames``) is a header value that is often missing or
wrong, and counting packets miscounts codecs that hide frames (VP8 alt-ref, packed
B-frames in AVI), so frames are counted as the decoder gives them, in one streaming pass.

Only regular files are opened (a FIFO would hang the demuxer); a video whose header
declares frames of more than ``max_pixels`` is not decoded; an MP4/MOV file whose boxes
run past its end is named truncated. A rotation in the video's display matrix (phone
videos) is applied to every frame, so frames stand upright as players show them.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from signpose.model.clip import Clip
from signpose.files import file_kind
from signpose.errors import VideoError
from signpose.sources.frame import (
    DEFAULT_FPS, MAX_FRAME_PIXELS, DecodedFrame, FrameSource, size_text, too_many_pixels,
)  # fmt: skip

NAME_DIGITS = 6
# Top-level MP4/MOV boxes walked to tell a truncated file (bounded: a hostile file
# cannot make the walk long).
MAX_TOP_LEVEL_BOXES = 10_000


def format_rate(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def frame_name(index: int) -> str:
    return f"{index:0{NAME_DIGITS}d}"


def _mp4_truncation(path: Path, size: int) -> str | None:
    """Why an MP4/MOV file (one that starts with an ``ftyp`` box) is truncated, or None:
    its top-level boxes must end exactly where the file does."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8 or head[4:8] != b"ftyp":
                return None
            offset = 0
            for _ in range(MAX_TOP_LEVEL_BOXES):
                if offset >= size:
                    return None
                handle.seek(offset)
                header = handle.read(16)
                if len(header) < 8:
                    return f"it ends {size - offset} bytes into a box header at byte {offset}"
                box_size, kind = struct.unpack(">I4s", header[:8])
                name = kind.decode("latin-1")
                if box_size == 1:  # 64-bit size follows
                    if len(header) < 16:
                        return f"it ends inside the header of its {name!r} box at byte {offset}"
                    (box_size,) = struct.unpack(">Q", header[8:16])
                elif box_size == 0:  # the box runs to the end of the file
                    return None
                if box_size < 8:
                    return None  # not a box structure this walk understands: the demuxer decides
                if offset + box_size > size:
                    return f"its {name!r} box runs to byte {offset + box_size}, but the file ends at byte {size}"
                offset += box_size
    except OSError:
        return None
    return None


def _open(path: Path) -> av.container.InputContainer:
    try:
        info = os.stat(path)
    except FileNotFoundError as error:
        raise VideoError(f"{path}: video file not found") from error
    except OSError as error:
        raise VideoError(f"{path}: cannot open ({error.strerror or error})") from error
    if not stat.S_ISREG(info.st_mode):
        raise VideoError(f"{path}: cannot open: {file_kind(info.st_mode)}, not a regular file")
    if info.st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes), not a video")
    truncated = _mp4_truncation(path, info.st_size)
    if truncated:
        raise VideoError(f"{path}: truncated or damaged video file: {truncated} (cut short while copying or downloading?)")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: not a readable video ({_reason(error)}; damaged, truncated, or not a video)") from error
    except OSError as error:  # unreadable file named like a video
        raise VideoError(f"{path}: cannot open ({error.strerror or error})") from error


def _reason(error: av.error.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _video_stream(container: av.container.InputContainer, path: Path, max_pixels: int = MAX_FRAME_PIXELS) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream (audio only, or not a video)")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"{path}: no decoder for its video codec in this PyAV build")
    reason = too_many_pixels(stream.codec_context.width, stream.codec_context.height, max_pixels)
    if reason:
        raise VideoError(f"{path}: its video stream {reason}")
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


def frame_rotation(frame: av.VideoFrame) -> int:
    """Clockwise degrees (0, 90, 180, 270) that turn a decoded frame upright, from its
    display matrix (PyAV's ``VideoFrame.rotation`` is counter-clockwise, -180..180). An
    angle that is not a quarter turn is ignored, as players do."""
    counter_clockwise = getattr(frame, "rotation", 0) or 0
    quarter = round(counter_clockwise / 90)
    if abs(counter_clockwise - 90 * quarter) > 1:
        return 0
    return (-90 * quarter) % 360


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, k=-rotation // 90)) if rotation else image


def _shown_size(frame: av.VideoFrame, rotation: int) -> tuple[int, int]:
    return (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)


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
        raise VideoError(f"{path}: decoding failed at frame {index} ({_reason(error)}; the file is damaged or truncated)") from error


def _frames(path: Path, expected: int | None, max_pixels: int) -> Iterator[tuple[av.VideoFrame, int]]:
    """Every decoded frame with its clockwise rotation; with ``expected``, VideoError for
    a file that now gives another number of frames (it changed since it was counted)."""
    count = 0
    with _open(path) as container:
        for frame in _decode(container, _video_stream(container, path, max_pixels), path):
            if count == expected:
                raise VideoError(f"{path}: gives more than the {expected} frames counted (file changed while reading?)")
            yield frame, frame_rotation(frame)
            count += 1
    if expected is not None and count < expected:
        raise VideoError(f"{path}: gives {count} frames, but {expected} were counted (file changed while reading?)")


def iter_rgb_frames(path: Path, expected: int | None = None, *, max_pixels: int = MAX_FRAME_PIXELS) -> Iterator[np.ndarray]:
    """Every frame as RGB uint8 ``[h, w, 3]``, upright (the display matrix's rotation
    applied), one at a time (memory stays flat).

    With ``expected``, a file that now gives another number of frames (it changed since it
    was counted) raises VideoError rather than misaligning names and keypoints."""
    path = Path(path)
    for index, (frame, rotation) in enumerate(_frames(path, expected, max_pixels)):
        reason = too_many_pixels(frame.width, frame.height, max_pixels)
        if reason:
            raise VideoError(f"{path}: frame {frame_name(index)} {reason}")
        yield _upright(frame.to_ndarray(format="rgb24"), rotation)


def open_video_frames(clip: Clip, *, max_pixels: int = MAX_FRAME_PIXELS) -> FrameSource:
    """The frames of a video clip, named ``000000``, ``000001``... in presentation order,
    upright, decoded once, as they are consumed. Opening checks the file is a video with a
    decoder and reads the rotation from its first frame (``FrameSource.rotation``); a file
    that then yields no frame raises VideoError when the stream ends. A frame whose size
    differs from the first frame's is a failed frame (not converted)."""
    path = Path(clip.source)
    rotation = 0
    with _open(path) as container:
        stream = _video_stream(container, path, max_pixels)
        rate = _rate(stream, clip.fps)
        for frame in _decode(container, stream, path):
            rotation = frame_rotation(frame)
            break

    def frames() -> Iterator[DecodedFrame]:
        count = 0
        first: tuple[int, int] | None = None
        for frame, turn in _frames(path, None, max_pixels):
            name = frame_name(count)
            width, height = _shown_size(frame, turn)
            if first is None:
                reason = too_many_pixels(width, height, max_pixels)
                if reason:
                    raise VideoError(f"{path}: frame {name} {reason}")
                first = (width, height)
            if (width, height) != first:
                yield DecodedFrame(name, None, f"{path}: frame {name} is {size_text(width, height)}, the clip's first frame is {size_text(*first)}")
            else:
                yield DecodedFrame(name, _upright(frame.to_ndarray(format="rgb24"), turn))
            count += 1
        if not count:
            raise VideoError(f"{path}: no video frames could be decoded (empty or truncated file)")

    return FrameSource(frames(), float(rate), format_rate(rate), rotation)
