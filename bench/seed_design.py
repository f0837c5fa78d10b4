"""The seed project's design, for comparison: ``multiprocessing.Pool(N)`` over the flat list
of every image of every clip, split evenly between the processes (``pool.map`` with a chunk
of len/N), one Holistic per process in static image mode, never reset, one result dict per
frame; then one pickle in the seed schema.

    python bench/seed_design.py DATA_DIR OUT.pkl [--processes 2]

Prints one JSON line of timings.
"""

if __package__ in (None, ""):  # run as a script: import from the repository root, not bench/
    import sys
    from pathlib import Path

    _BENCH = Path(__file__).resolve().parent
    sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import argparse
import json
import math
import multiprocessing
import pickle
import time
from pathlib import Path

import cv2
import numpy as np

_holistic = None


def _init() -> None:
    global _holistic
    from mediapipe.python.solutions.holistic import Holistic

    _holistic = Holistic(static_image_mode=True, model_complexity=1)


def _points(landmarks, with_visibility: bool = False):
    if landmarks is None:
        return None
    if with_visibility:
        return np.array([[p.x, p.y, p.z, p.visibility] for p in landmarks.landmark], dtype=np.float32)
    return np.array([[p.x, p.y, p.z] for p in landmarks.landmark], dtype=np.float32)


def process_image(path: str) -> dict:
    image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    results = _holistic.process(image)
    return {
        "face": _points(results.face_landmarks),
        "left_hand": _points(results.left_hand_landmarks),
        "right_hand": _points(results.right_hand_landmarks),
        "pose": _points(results.pose_landmarks, with_visibility=True),
    }


def _stats(video_ids: list[str], keypoints: list[dict]) -> dict:
    """Counts in the same form as a signpose run's stats.json, so verify compares them."""
    parts = ("pose", "face", "left_hand", "right_hand")
    return {"clips": len(set(video_ids)), "frames": len(keypoints), "failed_clips": 0, "failed_frames": 0} | {
        f"frames_with_{part}": sum(frame[part] is not None for frame in keypoints) for part in parts
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    from bench.prep import SPLIT, load

    data = load(args.data)
    image_paths = [str(path) for clip in data.clips for path in data.frame_paths(clip)]
    video_ids = [clip for clip in data.clips for _ in range(data.frames[clip])]
    started = time.perf_counter()
    with multiprocessing.Pool(args.processes, initializer=_init) as pool:
        keypoints = pool.map(process_image, image_paths, chunksize=math.ceil(len(image_paths) / args.processes))
    mapped = time.perf_counter()
    result = {
        SPLIT: {"image_paths": image_paths, "keypoints": keypoints, "video_ids": video_ids},
        "stats": {SPLIT: _stats(video_ids, keypoints)},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("wb") as handle:
        pickle.dump(result, handle)
    ended = time.perf_counter()
    print(json.dumps({
        "frames": len(image_paths),
        "elapsed": round(ended - started, 4),  # pool start, all frames, pickle written
        "map": round(mapped - started, 4),
        "pickle": round(ended - mapped, 4),
    }))


if __name__ == "__main__":
    main()
