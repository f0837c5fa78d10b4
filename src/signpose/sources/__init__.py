"""Frame sources: a clip's frames, decoded, in order (image folders, video files)."""

from __future__ import annotations

from fractions import Fraction

from signpose.model.clip import Clip
from signpose.sources.listing import list_frames
from signpose.errors import ClipError, FrameError
from signpose.sources.frame import FrameLimits, DEFAULT_FPS, MAX_FRAME_BYTES, MAX_FRAME_PIXELS, DecodedFrame, FrameSource
from signpose.sources.images import decode_frames, read_frame


def open_frames(
    clip: Clip, *, max_pixels: int = MAX_FRAME_PIXELS, max_bytes: int = MAX_FRAME_BYTES, threads: int = 1
) -> FrameSource:
    """The frames of one clip; ClipError when the clip has none to give. A frame over
    ``max_pixels`` (declared in its header) or, for image files, ``max_bytes`` is a
    failed frame, never decoded. Image files are decoded on ``threads`` threads (a video,
    in order, on one)."""
    if clip.kind == "video":
        from signpose.sources.video import open_video_frames

        return open_video_frames(clip, max_pixels=max_pixels)
    paths = list_frames(clip.source)
    if not paths:
        raise ClipError(f"{clip.source}: no image frames in the clip folder")
    fps = Fraction(clip.fps or DEFAULT_FPS).limit_denominator(1001)
    frames = decode_frames(paths, max_pixels=max_pixels, max_bytes=max_bytes, threads=threads)
    return FrameSource(frames, float(fps), f"{fps.numerator}/{fps.denominator}")


__all__ = ["FrameLimits", "DEFAULT_FPS", "MAX_FRAME_BYTES", "MAX_FRAME_PIXELS", "ClipError", "DecodedFrame", "FrameError", "FrameSource", "decode_frames", "open_frames", "read_frame"]
