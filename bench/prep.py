"""The benchmark's inputs: a PHOENIX-2014-T-shaped dataset (210×260 PNG frames made from the
real signing videos, real clip names from the official annotation CSV) and a lossless mp4 of
each clip, holding exactly the same RGB frames, for tools that read videos (pose-format).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from bench.dataset import build_phoenix_t, real_rows

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
SIGNING = TESTDATA / "signing"
ANNOTATIONS = TESTDATA / "phoenix" / "PHOENIX-2014-T" / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv"
RELEASE = "PHOENIX-2014-T-release-v3"
SPLIT = "train"
FPS = 25


@dataclass(frozen=True)
class BenchData:
    root: Path  # the release folder: what `signpose extract` is given
    frames_dir: Path  # .../features/fullFrame-210x260px/train
    videos_dir: Path | None  # <clip>.mp4 per clip (None when not written)
    clips: list[str]
    frames: dict[str, int]

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())

    def frame_paths(self, clip: str) -> list[Path]:
        return [self.frames_dir / clip / f"images{i:04d}.png" for i in range(1, self.frames[clip] + 1)]


def signing_videos() -> list[Path]:
    videos = sorted(SIGNING.glob("*.mp4")) + sorted(SIGNING.glob("*/*.mp4"))
    if not videos:
        raise SystemExit(f"bench: no signing videos in {SIGNING} (the shared test data is needed)")
    return videos


def write_lossless_mp4(frames_bgr: list[np.ndarray], path: Path, fps: int = FPS) -> None:
    """H.264 in RGB, lossless (libx264rgb, qp 0): decoding gives back the exact pixels."""
    import av

    height, width = frames_bgr[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=Fraction(fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = "rgb24"
        stream.options = {"qp": "0", "preset": "veryfast"}
        for image in frames_bgr:
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def check_lossless(png_paths: list[Path], mp4: Path) -> bool:
    import av

    with av.open(str(mp4)) as container:
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    if len(decoded) != len(png_paths):
        return False
    return all(
        np.array_equal(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), d) for p, d in zip(png_paths, decoded)
    )


def build(base: Path, clips: int, frames_per_clip: int, videos: bool = True, row_offset: int = 0) -> BenchData:
    """Build (or reuse, when the manifest matches) the dataset under ``base``."""
    manifest = base / "manifest.json"
    wanted = {"clips": clips, "frames_per_clip": frames_per_clip, "videos": videos, "row_offset": row_offset, "version": 2}
    root = base / RELEASE
    dataset = root / "PHOENIX-2014-T"
    frames_dir = dataset / "features" / "fullFrame-210x260px" / SPLIT
    videos_dir = base / "videos" if videos else None
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved.get("wanted") == wanted:
            return BenchData(root, frames_dir, videos_dir, saved["clips"], saved["frames"])
    if base.exists():
        shutil.rmtree(base)
    rows = real_rows(ANNOTATIONS, row_offset + clips)[row_offset:]
    built = build_phoenix_t(dataset, signing_videos(), rows, frames_per_clip, SPLIT, start_offsets=(0, 17, 33, 9, 25))
    data = BenchData(root, frames_dir, videos_dir, [c.name for c in built], {c.name: c.frames for c in built})
    if videos_dir is not None:
        videos_dir.mkdir(parents=True)
        for clip in data.clips:
            paths = data.frame_paths(clip)
            write_lossless_mp4([cv2.imread(str(p)) for p in paths], videos_dir / f"{clip}.mp4")
        first = data.clips[0]
        if not check_lossless(data.frame_paths(first), videos_dir / f"{first}.mp4"):
            raise SystemExit("bench: the mp4 encoding is not lossless; pose-format would see other pixels")
    manifest.write_text(json.dumps({"wanted": wanted, "clips": data.clips, "frames": data.frames}, indent=1))
    return data


def load(base: Path) -> BenchData:
    """The dataset ``build`` left in ``base`` (for the helper scripts)."""
    saved = json.loads((base / "manifest.json").read_text())
    root = base / RELEASE
    frames_dir = root / "PHOENIX-2014-T" / "features" / "fullFrame-210x260px" / SPLIT
    videos_dir = base / "videos" if saved["wanted"]["videos"] else None
    return BenchData(root, frames_dir, videos_dir, saved["clips"], saved["frames"])
