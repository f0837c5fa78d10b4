"""Frame decoding: image files to 8-bit RGB arrays, with a clear error per broken file.

Before anything is decoded a frame file must be a regular file (a FIFO or device would
hang or never end), no larger than ``max_bytes``, and its header must declare at most
``max_pixels`` (a small PNG can declare 16000×16000 and take a worker's memory)."""

from __future__ import annotations

import io
import struct
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from signpose.errors import FrameError
from signpose.files import NotRegularFile, read_regular
from signpose.sources.frame import MAX_FRAME_BYTES, MAX_FRAME_PIXELS, DecodedFrame, size_mismatch, too_many_pixels

# cv2.imdecode releases the GIL, so a reader thread decodes the next frames while the
# current one is inferred; a few frames ahead is enough to hide decode time.
PREFETCH_FRAMES = 4

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (C4, C8 and CC are other segments).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    try:
        return read_regular(path, max_bytes)
    except NotRegularFile as error:
        raise FrameError(f"{path}: {error} (frame files are limited to {max_bytes / 1e6:g} MB)" if "over the limit" in str(error)
                         else f"{path}: cannot read file: {error}") from error  # fmt: skip
    except OSError as error:
        raise FrameError(f"{path}: cannot read file ({error.strerror or error})") from error


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment, without decoding."""
    index = 2
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # standalone markers
            index += 2
            continue
        if marker == 0xDA:  # scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if marker in _JPEG_SOF:
            if index + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + length
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) an image file's header declares, read without decoding any pixel
    (PNG and JPEG parsed here, other formats by PIL, which reads only the header); None
    when no image header is recognised."""
    if data[:8] == _PNG_SIGNATURE:
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            return image.size
    except Image.DecompressionBombError:
        raise
    except Exception:  # noqa: BLE001 - PIL raises many kinds for what is not an image header
        return None


def read_frame(path: Path, *, max_pixels: int = MAX_FRAME_PIXELS, max_bytes: int = MAX_FRAME_BYTES) -> np.ndarray:
    """Decode one image file to RGB uint8.

    Grayscale, RGBA and 16-bit images become 8-bit RGB (IMREAD_COLOR drops alpha and
    scales 16-bit samples down), so every frame reaches the model in the same form.
    FrameError for a file that is not a regular file, is over ``max_bytes``, declares
    more than ``max_pixels`` (checked from its header, before decoding) or is broken.
    """
    path = Path(path)
    data = _read_regular_file(path, max_bytes)
    if not data:
        raise FrameError(f"{path}: empty file (0 bytes)")
    undecodable = f"{path}: not a decodable image (truncated or not an image, {len(data)} bytes)"
    from PIL import Image

    try:
        size = header_size(data)
    except Image.DecompressionBombError as error:
        raise FrameError(f"{path}: {error}; over the limit of {max_pixels / 1e6:g} megapixels per frame; not decoded") from error
    if size is None:
        raise FrameError(undecodable)
    reason = too_many_pixels(*size, max_pixels)
    if reason:
        raise FrameError(f"{path}: the image header says it {reason} ({len(data)} bytes on disk)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(undecodable)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _decode(path: Path, max_pixels: int, max_bytes: int) -> DecodedFrame:
    try:
        return DecodedFrame(path.name, read_frame(path, max_pixels=max_pixels, max_bytes=max_bytes))
    except FrameError as error:
        return DecodedFrame(path.name, None, str(error))


def decode_frames(
    paths: Sequence[Path], *, max_pixels: int = MAX_FRAME_PIXELS, max_bytes: int = MAX_FRAME_BYTES, threads: int = 1
) -> Iterator[DecodedFrame]:
    """Decode frames in order, a few ahead of the consumer on ``threads`` helper threads
    (more than one for a consumer faster than one core decodes: a GPU). A frame whose size
    differs from the clip's first decoded frame is a failed frame: a clip's keypoints are
    stored against one frame size."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    decode = partial(_decode, max_pixels=max_pixels, max_bytes=max_bytes)
    window = PREFETCH_FRAMES * threads
    first: tuple[int, int] | None = None
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="signpose-decode") as pool:
        pending = deque(pool.submit(decode, path) for path in paths[:window])
        for index in range(len(paths)):
            frame = pending.popleft().result()
            ahead = index + window
            if ahead < len(paths):
                pending.append(pool.submit(decode, paths[ahead]))
            if frame.image is not None:
                mismatch = size_mismatch(frame.image, first)
                if mismatch:
                    frame = DecodedFrame(frame.name, None, f"{paths[index]}: {mismatch}")
                elif first is None:
                    first = (frame.image.shape[1], frame.image.shape[0])
            yield frame
