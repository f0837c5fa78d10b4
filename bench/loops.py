"""The reference rows of the bench, run as their own commands:

    python bench/loops.py raw DATA --mode image|video   # one process, one Holistic, reset() per clip
    python bench/loops.py pool DATA OUT.pkl --processes N
    python bench/loops.py networks DATA OUT.json        # the litert estimator's networks, timed

raw: cv2.imread + cvtColor + Holistic.process for every frame, nothing kept: MediaPipe's floor.
pool: the design of data/extract_phoenix_keypoints_distributed.py: multiprocessing.Pool(N)
(fork) mapping over the flat list of all images (chunks of len/N), one Holistic per process
in static image mode, never reset, a dict of arrays per frame, one pickle at the end (no
signpose code). networks: the litert estimator over every clip in one process, with its
clocks on: the seconds inside LiteRT's invoke (the networks alone, the limit of a CPU run)
and in the crops, written as JSON. DATA is a PHOENIX-2014-T release folder."""

import argparse
import math
import multiprocessing
import pickle
from pathlib import Path

import json
import time

import cv2
import numpy as np

_holistic = None


def clips(data: Path) -> list[list[str]]:
    folders = sorted(p for p in data.glob("*/features/fullFrame-210x260px/*/*") if p.is_dir())
    return [[str(p) for p in sorted(folder.glob("images*.png"))] for folder in folders]


def _init() -> None:
    from mediapipe.python.solutions.holistic import Holistic

    global _holistic
    _holistic = Holistic(static_image_mode=True, model_complexity=1)


def _points(landmarks, visibility: bool = False):
    if landmarks is None:
        return None
    return np.array([[p.x, p.y, p.z, p.visibility][: 3 + visibility] for p in landmarks.landmark], dtype=np.float32)


def pool_frame(path: str) -> dict:
    results = _holistic.process(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
    return {"face": _points(results.face_landmarks), "left_hand": _points(results.left_hand_landmarks),
            "right_hand": _points(results.right_hand_landmarks), "pose": _points(results.pose_landmarks, True)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["raw", "pool", "networks"])
    parser.add_argument("data", type=Path)
    parser.add_argument("output", type=Path, nargs="?")
    parser.add_argument("--mode", choices=["image", "video"], default="image")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    frames = clips(args.data)
    if args.what == "networks":
        networks(frames, args.output)
        return
    if args.what == "raw":
        from mediapipe.python.solutions.holistic import Holistic

        holistic = Holistic(static_image_mode=args.mode == "image", model_complexity=1)
        for clip in frames:
            holistic.reset()
            for path in clip:
                holistic.process(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
        return
    paths = [path for clip in frames for path in clip]
    ids = [Path(clip[0]).parent.name for clip in frames for _ in clip]
    with multiprocessing.get_context("fork").Pool(args.processes, initializer=_init) as pool:
        keypoints = pool.map(pool_frame, paths, chunksize=math.ceil(len(paths) / args.processes))
    with open(args.output, "wb") as handle:
        pickle.dump({"train": {"image_paths": paths, "keypoints": keypoints, "video_ids": ids}}, handle)


def networks(frames: list[list[str]], output: Path) -> None:
    from signpose.estimators.litert import LiteRTHolistic

    estimator = LiteRTHolistic()
    runtime = estimator.graph.runtime
    runtime.profile = True
    cpu = time.process_time()
    for clip in frames:
        estimator.estimate_clip((cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB) for path in clip), 25.0)
    cpu = time.process_time() - cpu
    timings = runtime.timings
    output.write_text(json.dumps({
        "frames": sum(len(clip) for clip in frames), "cpu_s": cpu,
        "invoke_s": sum(v for k, v in timings.items() if k.startswith("net_")),
        "crop_s": sum(v for k, v in timings.items() if k.startswith("crop_")),
        "per_network_s": {k[4:]: v for k, v in timings.items() if k.startswith("net_")},
    }))


if __name__ == "__main__":
    main()
