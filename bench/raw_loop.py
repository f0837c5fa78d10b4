"""Baseline: the bare MediaPipe loop in one process, no signpose code.

cv2.imread + cvtColor + Holistic.process over every frame of every clip, one Holistic for
the whole run, reset at the start of each clip (as signpose does). Nothing is extracted from
the results and nothing is written. Prints one JSON line of timings.

    python bench/raw_loop.py DATA_DIR --mode image|video
"""

if __package__ in (None, ""):  # run as a script: import from the repository root, not bench/
    import sys
    from pathlib import Path

    _BENCH = Path(__file__).resolve().parent
    sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import argparse
import json
import time
from pathlib import Path

import cv2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--mode", choices=["image", "video"], default="image")
    args = parser.parse_args()
    from mediapipe.python.solutions.holistic import Holistic

    from bench.prep import load

    data = load(args.data)
    started = time.perf_counter()
    holistic = Holistic(static_image_mode=args.mode == "image", model_complexity=1)
    built = time.perf_counter()
    first_clip = None
    frames = 0
    for clip in data.clips:
        holistic.reset()
        for path in data.frame_paths(clip):
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            holistic.process(image)
            frames += 1
        if first_clip is None:
            first_clip = time.perf_counter() - started
    ended = time.perf_counter()
    holistic.close()
    print(json.dumps({
        "frames": frames,
        "clips": len(data.clips),
        "elapsed": round(ended - started, 4),  # Holistic construction + all frames
        "setup": round(built - started, 4),
        "loop": round(ended - built, 4),
        "first_clip": round(first_clip or 0.0, 4),
    }))


if __name__ == "__main__":
    main()
