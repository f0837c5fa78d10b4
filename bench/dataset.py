"""A PHOENIX-2014-T-shaped dataset made from real signing videos: 210×260 PNG frames in the
release layout (``features/fullFrame-210x260px/<split>/<name>/images0001.png``) and the
annotation CSV (``annotations/manual/PHOENIX-2014-T.<split>.corpus.csv``). Used by the
end-to-end tests and the benchmark."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PHOENIX_SIZE = (210, 260)  # width, height
HEADER = "name|video|start|end|speaker|orth|translation"


@dataclass(frozen=True)
class BuiltClip:
    split: str
    name: str
    frames: int
    video: Path


def read_video_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """BGR frames of a video, resized to PHOENIX's frame size."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, PHOENIX_SIZE, interpolation=cv2.INTER_AREA))
    capture.release()
    if not frames:
        raise ValueError(f"{path}: no frames could be read")
    return frames


def real_rows(annotations_csv: Path, count: int) -> list[list[str]]:
    with annotations_csv.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="|"))[1 : count + 1]


def synthetic_rows(count: int) -> list[list[str]]:
    """Rows in the official format (``11August_2010_Wednesday_tagesschau-1``), for when the
    research-only CSV is not at hand."""
    rows, day = [], datetime.date(2009, 10, 1)
    for i in range(count):
        date = day + datetime.timedelta(days=i // 3)
        name = f"{date.day:02d}{date:%B_%Y_%A}_{('tagesschau', 'heute')[i % 2]}-{1 + i}"
        rows.append([name, f"{name}/1/*.png", "-1", "-1", f"Signer{1 + i % 9:02d}", "WETTER MORGEN", "und nun das wetter"])
    return rows


def write_clips(root: Path, clips: Sequence[tuple[Sequence[str], Sequence[np.ndarray]]], split: str = "train") -> None:
    """Write (CSV row, BGR frames) pairs as a PHOENIX-2014-T folder ``root``."""
    features = root / "features" / "fullFrame-210x260px" / split
    annotations = root / "annotations" / "manual"
    annotations.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for row, frames in clips:
        folder = features / row[0]
        folder.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(frames, start=1):
            cv2.imwrite(str(folder / f"images{index:04d}.png"), frame)
        lines.append("|".join([row[0], f"{row[0]}/1/*.png", *row[2:]]))
    (annotations / f"PHOENIX-2014-T.{split}.corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_phoenix_t(
    root: Path,
    videos: Sequence[Path],
    rows: Sequence[Sequence[str]],
    frames_per_clip: int | None = None,
    split: str = "train",
    start_offsets: Sequence[int] = (0,),
) -> list[BuiltClip]:
    """Write ``len(rows)`` clips into ``root`` (the ``PHOENIX-2014-T`` folder).

    Clip i uses video ``i % len(videos)`` starting at frame ``start_offsets[i // len(videos)
    % len(start_offsets)]``, so clips made from the same video still differ.
    """
    cache: dict[Path, list[np.ndarray]] = {}
    clips, built = [], []
    for i, row in enumerate(rows):
        video = Path(videos[i % len(videos)])
        frames = cache.setdefault(video, read_video_frames(video))
        offset = start_offsets[(i // len(videos)) % len(start_offsets)] % len(frames)
        chosen = (frames[offset:] + frames[:offset])[: frames_per_clip or None]
        clips.append((row, chosen))
        built.append(BuiltClip(split, row[0], len(chosen), video))
    write_clips(root, clips, split)
    return built
