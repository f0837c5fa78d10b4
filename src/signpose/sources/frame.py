"""What a frame source gives: decoded frames, each with its name, and the clip's frame rate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

DEFAULT_FPS = 25.0

# Limits on one frame, checked before anything is decoded: the pixels its header declares
# (width × height; PHOENIX frames are 210×260, 4K is 8.3 megapixels) and, for image files,
# the file's size. Callers may pass others (``max_pixels`` / ``max_bytes`` keywords).
MAX_FRAME_PIXELS = 50_000_000
MAX_FRAME_BYTES = 200_000_000


@dataclass(frozen=True)
class FrameLimits:
    """What a worker refuses to decode: frames declaring more pixels, image files larger."""

    max_pixels: int = MAX_FRAME_PIXELS
    max_bytes: int = MAX_FRAME_BYTES


@dataclass(frozen=True)
class DecodedFrame:
    name: str  # file name, or frame number within a video
    image: np.ndarray | None  # RGB uint8 [h, w, 3]; None when the frame is broken
    error: str | None = None


@dataclass(frozen=True)
class FrameSource:
    """A clip's frames, ready to stream (each carries its name for the index), and the
    frame rate as a float (for the .pose file) and exactly (``frame_rate``, a fraction).

    ``rotation``: degrees clockwise (0, 90, 180 or 270) by which the decoded frames were
    turned to stand upright as players show them (a phone video's display matrix); 0 for
    image folders and unrotated videos. Frames are given already rotated."""

    frames: Iterator[DecodedFrame]
    fps: float
    frame_rate: str
    rotation: int = 0


def size_text(width: int, height: int) -> str:
    return f"{width}×{height}"


def too_many_pixels(width: int, height: int, max_pixels: int) -> str | None:
    """Why a frame of this declared size is not decoded, or None when it is within the limit."""
    if width * height <= max_pixels:
        return None
    return (
        f"is {size_text(width, height)} ({width * height / 1e6:.1f} megapixels), over the limit of "
        f"{max_pixels / 1e6:g} megapixels per frame; not decoded"
    )


def size_mismatch(image: np.ndarray, first: tuple[int, int] | None) -> str | None:
    """Why ``image`` cannot join a clip whose first decoded frame is ``first`` (width,
    height), or None: every frame of a clip is stored against one frame size."""
    if first is None:
        return None
    height, width = image.shape[:2]
    if (width, height) == first:
        return None
    return f"is {size_text(width, height)}, the clip's first frame is {size_text(*first)}"
