"""A PHOENIX-2014-T-shaped dataset made from real signing videos.

Frames are resized to PHOENIX's 210×260 and named as in the release
(``features/fullFrame-210x260px/<split>/<name>/images0001.png``); clip names, signers and
texts come from the real annotation CSV, so readers see the real layout. Used by the
end-to-end tests and the benchmark.
"""

from __future__ import annotations

import csv
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
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
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
        rows = list(csv.reader(handle, delimiter="|"))[1:]
    return rows[:count]


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
    features = root / "features" / "fullFrame-210x260px" / split
    annotations = root / "annotations" / "manual"
    annotations.mkdir(parents=True, exist_ok=True)
    built: list[BuiltClip] = []
    lines = [HEADER]
    for i, row in enumerate(rows):
        video = Path(videos[i % len(videos)])
        frames = cache.setdefault(video, read_video_frames(video))
        offset = start_offsets[(i // len(videos)) % len(start_offsets)] % len(frames)
        chosen = frames[offset:] + frames[:offset]
        chosen = chosen[:frames_per_clip] if frames_per_clip else chosen
        name = row[0]
        folder = features / name
        folder.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(chosen, start=1):
            cv2.imwrite(str(folder / f"images{index:04d}.png"), frame)
        lines.append("|".join([name, f"{name}/1/*.png", *row[2:]]))
        built.append(BuiltClip(split, name, len(chosen), video))
    (annotations / f"PHOENIX-2014-T.{split}.corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return built
