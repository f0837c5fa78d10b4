"""Draw a clip's keypoints over its frames: an .mp4 or .gif of every frame, or a .png
contact sheet of a few frames (``contact_sheet`` makes one in memory). Reads one clip of
any input ``inputs.open_input`` opens (a run, a folder of .pose files, a Parquet export):
its keypoints and its source frames (frame folder or video), or a blank canvas with
``no_video`` (always for .pose files, which know no frames). The output is written
through the run store's atomic writer: it appears whole, or not at all."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Literal

import cv2
import numpy as np

from signpose.errors import ClipError, FrameError, SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.model.layout import PartLayout
from signpose.run.guard import check_output_path
from signpose.run.record import ClipResult
from signpose.run.store import atomic_open
from signpose.tools.inputs import open_input, trusted

OutputKind = Literal["mp4", "gif", "png"]
KINDS: dict[str, OutputKind] = {".mp4": "mp4", ".gif": "gif", ".png": "png"}
ENCODERS: tuple[str, ...] = ("libx264", "mpeg4")  # first one this PyAV build has
# RGB. The two hands differ so a swapped left/right shows at a glance.
COLOURS: dict[str, tuple[int, int, int]] = {
    "pose": (60, 220, 120),
    "face": (210, 210, 210),
    "left_hand": (255, 140, 0),
    "right_hand": (0, 150, 255),
}
BLANK = (24, 24, 24)
# MediaPipe's own drawing skips body points it thinks are off-screen or hidden.
MIN_VISIBILITY = 0.5
TILE = 320  # longest side of a contact sheet tile, in pixels
OTHER_COLOUR = (230, 230, 60)  # parts of other layouts
# The body model's own wrist and finger points: drawn, they look like a detected hand.
BODY_HAND_POINTS = ("PINKY", "INDEX", "THUMB")
DENSE_MESH = 3  # limbs per point above which a part is a mesh: drawn faintly
SHIFT = 4  # cv2 fixed-point bits: sub-pixel line ends


RenderError = SourceError  # the clip cannot be drawn (unknown or failed clip, unreadable source, bad output)


@dataclass(frozen=True)
class RenderSummary:
    out: Path
    split: str
    clip_id: str
    kind: OutputKind
    frames: int  # frames drawn
    width: int  # of the output (the whole sheet for a png)
    height: int


def part_colour(part: PartLayout) -> tuple[int, int, int]:
    """Ours for MediaPipe's parts (the two hands differ at a glance), else the layout's own."""
    return COLOURS.get(part.name) or (part.colours[0] if part.colours else OTHER_COLOUR)


def _drawn_points(part: PartLayout) -> np.ndarray:
    """Which points of a part to draw: the body's hand points are left to the hands."""
    if part.name != "pose":
        return np.ones(part.size, bool)
    return np.array([not any(word in name for word in BODY_HAND_POINTS) for name in part.points], bool)


def draw_keypoints(image: np.ndarray, keypoints: ClipKeypoints, index: int) -> np.ndarray:
    """``image`` (RGB, changed in place) with the image-space parts detected in frame ``index``."""
    height, width = image.shape[:2]
    thickness = max(1, round(min(height, width) / 150))
    scale = np.array([width, height]) * (1 << SHIFT)
    for part in keypoints.layout:
        if part.space != "image" or not keypoints.part_present(part.name)[index]:
            continue  # an undetected part has zeros: drawing them would put it in a corner
        xy = np.round(keypoints.part(part.name)[index, :, :2] * scale).astype(np.int64)
        confidence = keypoints.part_confidence(part.name)[index]
        shown = _drawn_points(part) & ((confidence >= MIN_VISIBILITY) if part.name == "pose" else True)
        colour = part_colour(part)
        dense = len(part.limbs) > DENSE_MESH * part.size
        canvas = image.copy() if dense else image
        for a, b in part.limbs:
            if a < part.size and b < part.size and shown[a] and shown[b]:
                cv2.line(canvas, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour, 1 if dense else thickness, cv2.LINE_AA, SHIFT)
        if dense:  # a face mesh at full strength would hide the face
            cv2.addWeighted(canvas, 0.5, image, 0.5, 0, dst=image)
            continue
        for point in xy[shown]:
            cv2.circle(image, tuple(map(int, point)), (thickness + 1) << SHIFT, colour, -1, cv2.LINE_AA, SHIFT)
    return image


def _legend(image: np.ndarray, keypoints: ClipKeypoints, *, scale: float | None = None) -> np.ndarray:
    """Part names in their colours, in a row along the bottom."""
    scale = scale or max(0.3, min(image.shape[:2]) / 700)
    x, y = 4, image.shape[0] - 6
    for part in (p for p in keypoints.layout if p.space == "image"):
        text = part.name.replace("_", " ")
        for colour, weight in (((0, 0, 0), 3), (part_colour(part), 1)):
            cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, weight, cv2.LINE_AA)
        x += cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + round(16 * scale) + 4
    return image


def _label(image: np.ndarray, text: str) -> np.ndarray:
    scale = max(0.35, min(image.shape[:2]) / 400)
    origin = (4, 4 + round(22 * scale))
    for colour, weight in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable anywhere
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, weight, cv2.LINE_AA)
    return image


def _spread(total: int, count: int) -> list[int]:
    """``count`` frame indices evenly spaced over the clip, first and last included."""
    return sorted(set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist()))


def _backgrounds(record: ClipResult, keypoints: ClipKeypoints, wanted: Sequence[int], no_video: bool) -> Iterator[tuple[int, np.ndarray]]:
    def blank() -> np.ndarray:
        return np.full((keypoints.height, keypoints.width, 3), BLANK, np.uint8)

    source = Path(record.source)
    if no_video:
        yield from ((index, blank()) for index in wanted)
    elif source.is_dir():
        from signpose.sources import read_frame

        for index in wanted:
            try:
                yield index, read_frame(source / record.frame_names[index])
            except FrameError:
                yield index, blank()  # the frame that failed at extraction fails here too
    elif source.is_file():
        from signpose.sources.video import iter_rgb_frames

        chosen = set(wanted)
        for index, image in enumerate(iter_rgb_frames(source, keypoints.num_frames)):
            if index in chosen:
                yield index, image
            if index >= wanted[-1]:
                return
    else:
        raise RenderError(f"{source}: the clip's source is gone; render on a blank canvas with --no-video")


def _encoder() -> str:
    import av
    from av.codec.codec import UnknownCodecError

    for name in ENCODERS:
        try:
            av.codec.Codec(name, "w")
            return name
        except UnknownCodecError:
            continue
    raise RenderError(f"this PyAV build has none of the video encoders {', '.join(ENCODERS)}; render a .gif instead")


def _write_mp4(handle: IO[bytes], images: Iterator[np.ndarray], rate: Fraction) -> tuple[int, int, int]:
    import av

    count = width = height = 0
    with av.open(handle, mode="w", format="mp4") as container:
        stream = None
        for image in images:
            if stream is None:
                # yuv420p halves the chroma resolution: it needs even sizes.
                height, width = image.shape[0] + image.shape[0] % 2, image.shape[1] + image.shape[1] % 2
                stream = container.add_stream(_encoder(), rate=rate)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.bit_rate = max(1_000_000, width * height * 8)
            padded = np.zeros((height, width, 3), np.uint8)
            padded[: image.shape[0], : image.shape[1]] = image
            frame = av.VideoFrame.from_ndarray(padded, format="rgb24")
            frame.pts, frame.time_base = count, 1 / rate
            container.mux(stream.encode(frame))
            count += 1
        if stream is not None:
            container.mux(stream.encode(None))
    return count, width, height


def _write_gif(handle: IO[bytes], images: Iterator[np.ndarray], rate: Fraction, total: int) -> tuple[int, int, int]:
    from PIL import Image

    # GIF delays are whole centiseconds: round the running time, not each delay, so a long
    # clip does not drift from its real duration.
    ends = [round((i + 1) * 100 / rate) for i in range(total)]
    durations = [10 * (end - start) for start, end in zip([0, *ends], ends)]
    frames = (Image.fromarray(image) for image in images)
    first = next(frames)
    first.save(handle, format="GIF", save_all=True, append_images=frames, duration=durations, loop=0)
    return total, first.width, first.height


def _sheet(tiles: list[np.ndarray], keypoints: ClipKeypoints) -> np.ndarray:
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    gap, legend = 4, 22  # the legend is a strip under the tiles, so it hides no frame
    tile_h, tile_w = tiles[0].shape[:2]
    sheet = np.full((rows * (tile_h + gap) + gap + legend, columns * (tile_w + gap) + gap, 3), 255, np.uint8)
    strip = np.full((legend, sheet.shape[1], 3), 64, np.uint8)
    sheet[-legend:] = _legend(strip, keypoints, scale=0.45)
    for i, tile in enumerate(tiles):
        y, x = gap + (i // columns) * (tile_h + gap), gap + (i % columns) * (tile_w + gap)
        sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return sheet


def _tile(image: np.ndarray) -> np.ndarray:
    factor = TILE / max(image.shape[:2])
    if factor < 1:
        size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


def _rate(record: ClipResult) -> Fraction:
    if record.frame_rate:
        return Fraction(record.frame_rate)
    return Fraction(record.fps or 25).limit_denominator(1001)


def find_clip(run: Path, clip: str, split: str | None = None) -> ClipResult:
    """The record of a clip that can be drawn; SourceError naming near misses, or why a
    failed clip has nothing to draw."""
    return open_input(run).find(clip, split).record


def contact_sheet(record: ClipResult, keypoints: ClipKeypoints, *, frames: int = 12, no_video: bool = False) -> np.ndarray:
    """RGB sheet of ``frames`` evenly spaced frames of the clip, labelled with their names,
    over a legend strip; RenderError if its source is gone (unless ``no_video``) or broke."""
    tiles = []
    try:
        for i, image in _backgrounds(record, keypoints, _spread(keypoints.num_frames, frames), no_video):
            tiles.append(_label(_tile(draw_keypoints(image, keypoints, i)), record.frame_names[i]))
    except ClipError as error:  # the video source changed or broke since extraction
        raise RenderError(f"{record.split}/{record.clip_id}: {error}") from error
    return _sheet(tiles, keypoints)


def render_clip(run: Path, split: str | None, clip_id: str, out: Path, no_video: bool = False, frames: int = 12) -> RenderSummary:
    """Draw body, hands and face of one clip; the output kind follows ``out``'s suffix
    (.mp4, .gif, or .png: a sheet of ``frames`` evenly spaced frames). Frames are labelled
    with their names, parts with a legend."""
    from PIL import Image

    out, run = Path(out), Path(run)
    kind = KINDS.get(out.suffix.lower())
    if kind is None:
        raise RenderError(f"{out}: unknown output type {out.suffix!r}; use .mp4, .gif or .png")
    if frames < 1:
        raise RenderError(f"frames must be at least 1, not {frames}")
    check_output_path(out)  # never over a run's own files
    if out.is_dir():
        raise RenderError(f"{out}: is a folder; give the file to write, such as {out / ('clip' + out.suffix)}")
    source = open_input(run)
    clip = source.find(clip_id, split)
    record, keypoints = clip.record, trusted(source, clip)
    no_video = no_video or clip.positional or not record.source
    total = keypoints.num_frames
    if total == 0:
        raise RenderError(f"{run}: clip {record.split}/{record.clip_id} has no frames to draw")
    sheet = contact_sheet(record, keypoints, frames=frames, no_video=no_video) if kind == "png" else None

    def drawn() -> Iterator[np.ndarray]:
        for i, image in _backgrounds(record, keypoints, list(range(total)), no_video):
            yield _label(_legend(draw_keypoints(image, keypoints, i), keypoints), record.frame_names[i])

    try:
        with atomic_open(out) as handle:
            if sheet is not None:
                Image.fromarray(sheet).save(handle, format="PNG")
                count, width, height = len(_spread(total, frames)), sheet.shape[1], sheet.shape[0]
            elif kind == "gif":
                count, width, height = _write_gif(handle, drawn(), _rate(record), total)
            else:
                count, width, height = _write_mp4(handle, drawn(), _rate(record))
    except ClipError as error:  # the video source changed or broke since extraction
        raise RenderError(f"{record.split}/{record.clip_id}: {error}") from error
    except OSError as error:
        raise RenderError(f"{out}: cannot write ({error.strerror or error})") from error
    return RenderSummary(out, record.split, record.clip_id, kind, count, width, height)
