"""Frame decoding: image files to 8-bit RGB arrays, with a clear error per broken file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# cv2.imdecode releases the GIL, so a reader thread decodes the next frames while the
# current one is inferred; a few frames ahead is enough to hide decode time.
PREFETCH_FRAMES = 4


class FrameError(Exception):
    """A frame file that cannot be turned into an image."""


@dataclass(frozen=True)
class DecodedFrame:
    name: str  # file name, or frame number within a video
    image: np.ndarray | None  # RGB uint8 [h, w, 3]; None when the frame is broken
    error: str | None = None


def read_frame(path: Path) -> np.ndarray:
    """Decode one image file to RGB uint8.

    Grayscale, RGBA and 16-bit images become 8-bit RGB (IMREAD_COLOR drops alpha and
    scales 16-bit samples down), so every frame reaches the model in the same form.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FrameError(f"{path}: cannot read file ({error.strerror or error})") from error
    if not data:
        raise FrameError(f"{path}: empty file (0 bytes)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(f"{path}: not a decodable image (truncated or not an image, {len(data)} bytes)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _decode(path: Path) -> DecodedFrame:
    try:
        return DecodedFrame(path.name, read_frame(path))
    except FrameError as error:
        return DecodedFrame(path.name, None, str(error))


def decode_frames(paths: Sequence[Path]) -> Iterator[DecodedFrame]:
    """Decode frames in order, a few ahead of the consumer on a helper thread."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="signpose-decode") as pool:
        pending = [pool.submit(_decode, path) for path in paths[:PREFETCH_FRAMES]]
        for index in range(len(paths)):
            frame = pending.pop(0).result()
            ahead = index + PREFETCH_FRAMES
            if ahead < len(paths):
                pending.append(pool.submit(_decode, paths[ahead]))
            yield frame
