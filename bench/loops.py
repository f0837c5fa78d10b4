"""The two reference rows of the bench, run as their own commands (no signpose code):

    python bench/loops.py raw DATA --mode image|video   # one process, one Holistic, reset() per clip
    python bench/loops.py seed DATA OUT.pkl --processes N

raw: cv2.imread + cvtColor + Holistic.process for every frame, nothing kept: the floor.
seed: the seed project's design: multiprocessing.Pool(N) (fork) mapping over the flat list of
all images (chunks of len/N), one Holistic per process in static image mode, never reset, a
dict of arrays per frame, one pickle at the end. DATA is a PHOENIX-2014-T release folder."""

import argparse
import math
import multiprocessing
import pickle
from pathlib import Path

import cv2
import numpy as np
from mediapipe.python.solutions.holistic import Holistic

_holistic = None


def clips(data: Path) -> list[list[str]]:
    folders = sorted(p for p in data.glob("*/features/fullFrame-210x260px/*/*") if p.is_dir())
    return [[str(p) for p in sorted(folder.glob("images*.png"))] for folder in folders]


def _init() -> None:
    global _holistic
    _holistic = Holistic(static_image_mode=True, model_complexity=1)


def _points(landmarks, visibility: bool = False):
    if landmarks is None:
        return None
    return np.array([[p.x, p.y, p.z, p.visibility][: 3 + visibility] for p in landmarks.landmark], dtype=np.float32)


def seed_frame(path: str) -> dict:
    results = _holistic.process(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
    return {"face": _points(results.face_landmarks), "left_hand": _points(results.left_hand_landmarks),
            "right_hand": _points(results.right_hand_landmarks), "pose": _points(results.pose_landmarks, True)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["raw", "seed"])
    parser.add_argument("data", type=Path)
    parser.add_argument("output", type=Path, nargs="?")
    parser.add_argument("--mode", choices=["image", "video"], default="image")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    frames = clips(args.data)
    if args.what == "raw":
        holistic = Holistic(static_image_mode=args.mode == "image", model_complexity=1)
        for clip in frames:
            holistic.reset()
            for path in clip:
                holistic.process(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
        return
    paths = [path for clip in frames for path in clip]
    ids = [Path(clip[0]).parent.name for clip in frames for _ in clip]
    with multiprocessing.get_context("fork").Pool(args.processes, initializer=_init) as pool:
        keypoints = pool.map(seed_frame, paths, chunksize=math.ceil(len(paths) / args.processes))
    with open(args.output, "wb") as handle:
        pickle.dump({"train": {"image_paths": paths, "keypoints": keypoints, "video_ids": ids}}, handle)


if __name__ == "__main__":
    main()
