"""pose-format's ``videos_to_poses`` as a competitor: its own virtualenv, its run on the
benchmark's mp4s, and its .pose files turned into a seed-schema pickle for ``signpose verify``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REQUIREMENTS = ["pose-format[mediapipe]", "mediapipe==0.10.21", "numpy<2"]
COMPONENTS = ("POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")
PARTS = ("pose", "face", "left_hand", "right_hand")
FRAME_KEYS = ("face", "left_hand", "right_hand", "pose")


@dataclass(frozen=True)
class PoseFormatTool:
    command: list[str] | None  # videos_to_poses, or None when it cannot run
    python: Path | None
    where: str  # which environment it runs in, or why it cannot run
    version: str | None


def _version(python: Path) -> str | None:
    done = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version as v; print(v('pose-format'), v('mediapipe'))"],
        capture_output=True, text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def setup(out: Path, log: Path) -> PoseFormatTool:
    """``out/pf-venv`` with pose-format[mediapipe] (kept between runs). If it cannot be
    made, the reason is returned and the row reports it."""
    venv = out / "pf-venv"
    python = venv / "bin" / "python"
    tool = venv / "bin" / "videos_to_poses"
    marker = venv / ".bench-installed"
    if not (marker.exists() and tool.exists()):
        with log.open("w") as handle:
            steps = [
                [sys.executable, "-m", "venv", "--clear", str(venv)],
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", *REQUIREMENTS],
            ]
            for step in steps:
                handle.write("$ " + " ".join(step) + "\n")
                handle.flush()
                try:
                    done = subprocess.run(step, stdout=handle, stderr=subprocess.STDOUT, timeout=900)
                except subprocess.TimeoutExpired:
                    return PoseFormatTool(None, None, f"installing pose-format timed out (log: {log})", None)
                if done.returncode != 0:
                    return PoseFormatTool(None, None, f"`{' '.join(step[-3:])}` failed (log: {log})", None)
        marker.write_text(" ".join(REQUIREMENTS) + "\n")
    if not tool.exists():
        return PoseFormatTool(None, None, f"pose-format installed no videos_to_poses in {venv}", None)
    return PoseFormatTool([str(tool)], python, f"own venv {venv}", _version(python))


def prepare_workdir(videos: Path, work: Path) -> None:
    """A folder of links to the mp4s: videos_to_poses writes each .pose beside its video and
    skips videos that already have one, so every repeat starts from a fresh folder."""
    if work.exists():
        for entry in work.iterdir():
            entry.unlink()
    work.mkdir(parents=True, exist_ok=True)
    for video in sorted(videos.glob("*.mp4")):
        (work / video.name).symlink_to(video.resolve())


def command(tool: PoseFormatTool, work: Path, workers: int) -> list[str]:
    return [*tool.command, "--format", "mediapipe", "--directory", str(work), "--num-workers", str(workers)]


def count_poses(work: Path) -> int:
    try:
        return sum(1 for name in os.listdir(work) if name.endswith(".pose"))
    except OSError:
        return 0


def to_seed_pickle(work: Path, data, out: Path) -> dict:
    """pose-format's .pose files (pixels) as a seed-schema pickle (normalised), converted
    exactly as signpose reads its own .pose files back (float64 pixels / (width, height),
    rounded to float32), so identical inference gives identical numbers."""
    from pose_format import Pose

    from bench.prep import SPLIT

    image_paths: list[str] = []
    keypoints: list[dict] = []
    video_ids: list[str] = []
    notes: dict = {"clips": 0, "frame_count_mismatch": []}
    for clip in data.clips:
        pose = Pose.read((work / f"{clip}.pose").read_bytes())
        names = [component.name for component in pose.header.components]
        slices, start = {}, 0
        for component in pose.header.components:
            slices[component.name] = slice(start, start + len(component.points))
            start += len(component.points)
        width, height = pose.header.dimensions.width, pose.header.dimensions.height
        scale = np.array([width, height, 1.0], dtype=np.float64)
        pixels = np.asarray(pose.body.data.data, dtype=np.float64)[:, 0]
        confidence = np.asarray(pose.body.confidence, dtype=np.float32)[:, 0]
        points = (pixels / scale).astype(np.float32)
        frames = points.shape[0]
        if frames != data.frames[clip]:
            notes["frame_count_mismatch"].append((clip, frames, data.frames[clip]))
        paths = data.frame_paths(clip)
        for index in range(min(frames, len(paths))):
            frame: dict = {}
            for part, component in zip(PARTS, COMPONENTS):
                if component not in names:
                    frame[part] = None
                    continue
                where = slices[component]
                values, conf = points[index, where], confidence[index, where]
                if not ((conf > 0).any() or (values != 0).any()):
                    frame[part] = None
                elif part == "pose":
                    frame[part] = np.concatenate([values, conf[:, None]], axis=1).astype(np.float32)
                else:
                    frame[part] = values.copy()
            keypoints.append({key: frame[key] for key in FRAME_KEYS})
            image_paths.append(str(paths[index]))
            video_ids.append(clip)
        notes["clips"] += 1
    stats = {"clips": notes["clips"], "frames": len(keypoints), "failed_clips": 0, "failed_frames": 0} | {
        f"frames_with_{part}": sum(frame[part] is not None for frame in keypoints) for part in PARTS
    }
    with out.open("wb") as handle:
        pickle.dump({SPLIT: {"image_paths": image_paths, "keypoints": keypoints, "video_ids": video_ids}, "stats": {SPLIT: stats}}, handle)
    return notes
