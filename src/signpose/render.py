"""Draw a clip's keypoints over its frames: an .mp4 or .gif of every frame, or a .png
contact sheet of a few frames. Reads one clip of a run: its index line, its .pose file,
and its source frames (frame folder or video), or a blank canvas with ``no_video``."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from signpose.keypoints import PARTS, ClipKeypoints, Part
from signpose.posefile import read_pose_file
from signpose.results import ClipResult, ClipStatus
from signpose.store import INDEX, RunStore

OutputKind = Literal["mp4", "gif", "png"]
KINDS: dict[str, OutputKind] = {".mp4": "mp4", ".gif": "gif", ".png": "png"}
ENCODERS: tuple[str, ...] = ("libx264", "mpeg4")  # first one this PyAV build has
# RGB. The two hands differ so a swapped left/right shows at a glance.
COLOURS: dict[Part, tuple[int, int, int]] = {
    "pose": (60, 220, 120),
    "face": (210, 210, 210),
    "left_hand": (255, 140, 0),
    "right_hand": (0, 150, 255),
}
BLANK = (24, 24, 24)
# MediaPipe's own drawing skips body points it thinks are off-screen or hidden.
MIN_VISIBILITY = 0.5
TILE = 320  # longest side of a contact sheet tile, in pixels
SHIFT = 4  # cv2 fixed-point bits: sub-pixel line ends


class RenderError(ValueError):
    """The clip cannot be drawn (unknown or failed clip, unreadable source, bad output)."""


@dataclass(frozen=True)
class RenderSummary:
    out: Path
    split: str
    clip_id: str
    kind: OutputKind
    frames: int  # frames drawn
    width: int  # of the output (the whole sheet for a png)
    height: int


def _connections() -> dict[Part, tuple[tuple[int, int], ...]]:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_CONTOURS
    from mediapipe.python.solutions.hands_connections import HAND_CONNECTIONS
    from mediapipe.python.solutions.pose_connections import POSE_CONNECTIONS

    hand = tuple(sorted(HAND_CONNECTIONS))
    return {"pose": tuple(sorted(POSE_CONNECTIONS)), "face": tuple(sorted(FACEMESH_CONTOURS)), "left_hand": hand, "right_hand": hand}


def find_clip(run: Path, clip: str, split: str | None = None) -> ClipResult:
    """The index record of ``clip`` (``split/clip`` also works); the split may be left out
    when the clip id is unique in the run. Streams the index, one record at a time."""
    if split is None and "/" in clip:
        split, clip = clip.split("/", 1)
    if not (Path(run) / INDEX).is_file():
        raise RenderError(f"{run}: not a signpose run (no {INDEX})")
    found: dict[tuple[str, str], ClipResult] = {}
    available: dict[str, None] = {}  # names only, to suggest near misses
    for record in RunStore(run).iter_index():
        if record.status is ClipStatus.OK:
            available[f"{record.split}/{record.clip_id}"] = None
        if record.clip_id == clip and (split is None or record.split == split):
            found[record.key] = record  # a later line for the same clip wins
    name = f"{split}/{clip}" if split else clip
    if not found:
        names = list(available)
        elsewhere = [n.split("/", 1)[0] for n in names if n.split("/", 1)[1] == clip]
        if elsewhere:
            raise RenderError(f"{run}: clip {clip!r} is not in split {split!r}; it is in: {', '.join(elsewhere)}")
        ids = {n.split("/", 1)[1] for n in names if split is None or n.startswith(f"{split}/")}
        close = set(difflib.get_close_matches(clip, ids, n=5))
        similar = [n for n in names if n.split("/", 1)[1] in close]
        listed = ", ".join(similar[:5] or names[:5]) or "none"
        raise RenderError(f"{run}: no clip {name!r} in the run; {'similar' if similar else 'some available'} clips: {listed}")
    if len(found) > 1:
        splits = ", ".join(key[0] for key in found)
        raise RenderError(f"{run}: clip {clip!r} is in several splits ({splits}); name one with --split or split/clip")
    result = next(iter(found.values()))
    if result.status is not ClipStatus.OK or not result.pose_file:
        raise RenderError(f"{run}: clip {result.split}/{result.clip_id} failed, nothing to draw: {result.error}")
    return result


def draw_keypoints(image: np.ndarray, keypoints: ClipKeypoints, index: int,
                   connections: dict[Part, tuple[tuple[int, int], ...]]) -> np.ndarray:
    """``image`` (RGB, changed in place) with the parts detected in frame ``index``."""
    height, width = image.shape[:2]
    thickness = max(1, round(min(height, width) / 300))
    scale = np.array([width, height]) * (1 << SHIFT)
    for column, part in enumerate(PARTS):
        if not keypoints.present[index, column]:
            continue  # an undetected part has zeros: drawing them would put it in a corner
        xy = np.round(keypoints.part(part)[index, :, :2] * scale).astype(np.int64)
        confidence = keypoints.part_confidence(part)[index]
        shown = confidence >= MIN_VISIBILITY if part == "pose" else np.ones(len(xy), bool)
        colour = COLOURS[part]
        for a, b in connections[part]:
            if shown[a] and shown[b]:
                cv2.line(image, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour, thickness, cv2.LINE_AA, SHIFT)
        if part != "face":  # 468 face dots would hide the face
            for point in xy[shown]:
                cv2.circle(image, tuple(map(int, point)), (thickness + 1) << SHIFT, colour, -1, cv2.LINE_AA, SHIFT)
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
        from signpose.decode import FrameError, read_frame

        for index in wanted:
            try:
                yield index, read_frame(source / record.frame_names[index])
            except FrameError:
                yield index, blank()  # the frame that failed at extraction fails here too
    elif source.is_file():
        from signpose.video import iter_rgb_frames

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


def _write_mp4(path: Path, images: Iterator[np.ndarray], rate: Fraction) -> tuple[int, int, int]:
    import av

    count = width = height = 0
    with av.open(str(path), mode="w", format="mp4") as container:
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


def _write_gif(path: Path, images: Iterator[np.ndarray], rate: Fraction, total: int) -> tuple[int, int, int]:
    from PIL import Image

    # GIF delays are whole centiseconds: round the running time, not each delay, so a long
    # clip does not drift from its real duration.
    ends = [round((i + 1) * 100 / rate) for i in range(total)]
    durations = [10 * (end - start) for start, end in zip([0, *ends], ends)]
    frames = (Image.fromarray(image) for image in images)
    first = next(frames)
    first.save(path, format="GIF", save_all=True, append_images=frames, duration=durations, loop=0)
    return total, first.width, first.height


def _write_sheet(path: Path, tiles: list[np.ndarray]) -> tuple[int, int, int]:
    from PIL import Image

    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    gap = 4
    tile_h, tile_w = tiles[0].shape[:2]
    sheet = np.full((rows * (tile_h + gap) + gap, columns * (tile_w + gap) + gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        y, x = gap + (i // columns) * (tile_h + gap), gap + (i % columns) * (tile_w + gap)
        sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    Image.fromarray(sheet).save(path, format="PNG")
    return len(tiles), sheet.shape[1], sheet.shape[0]


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


def render_clip(run: Path, split: str, clip_id: str, out: Path, no_video: bool = False, frames: int = 12) -> RenderSummary:
    """Draw body, hands and face contours of one clip; the output kind follows ``out``'s
    suffix (.mp4, .gif, or .png: a sheet of ``frames`` evenly spaced frames)."""
    from signpose.pipeline import ClipError

    out = Path(out)
    kind = KINDS.get(out.suffix.lower())
    if kind is None:
        raise RenderError(f"{out}: unknown output type {out.suffix!r}; use .mp4, .gif or .png")
    if frames < 1:
        raise RenderError(f"frames must be at least 1, not {frames}")
    record = find_clip(Path(run), clip_id, split)
    try:
        keypoints = read_pose_file(Path(run) / record.pose_file)
    except ValueError as error:
        raise RenderError(str(error)) from error
    total = keypoints.num_frames
    wanted = _spread(total, frames) if kind == "png" else list(range(total))
    connections = _connections()
    drawn = ((i, draw_keypoints(image, keypoints, i, connections)) for i, image in _backgrounds(record, keypoints, wanted, no_video))
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}{out.suffix}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if kind == "png":
            count, width, height = _write_sheet(partial, [_label(_tile(image), str(i)) for i, image in drawn])
        elif kind == "gif":
            count, width, height = _write_gif(partial, (_label(image, str(i)) for i, image in drawn), _rate(record), total)
        else:
            count, width, height = _write_mp4(partial, (_label(image, str(i)) for i, image in drawn), _rate(record))
        os.replace(partial, out)
    except ClipError as error:  # the video source changed or broke since extraction
        raise RenderError(f"{record.split}/{record.clip_id}: {error}") from error
    except OSError as error:
        raise RenderError(f"{out}: cannot write ({error})") from error
    finally:
        partial.unlink(missing_ok=True)
    return RenderSummary(out, record.split, record.clip_id, kind, count, width, height)
