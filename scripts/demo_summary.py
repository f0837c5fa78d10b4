"""Print what `make demo` made: the dataset, the two runs, the pickle, the sheet, the report.

Usage: demo_summary.py DATA DEMO SHEET   (the Makefile's build/demo-data, demo-out, the PNG)
Reads only stats.json of the 2-worker run (equal to the 1-worker one: verify checked it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(data: Path, demo: Path, sheet: Path) -> None:
    stats = json.loads((demo / "run-2workers" / "stats.json").read_text(encoding="utf-8"))
    total = {key: sum(split[key] for split in stats.values()) for key in next(iter(stats.values()))}
    splits = ", ".join(f"{name} {split['clips']}" for name, split in stats.items())
    frames = total["frames"]
    print(f"""
demo: {total['clips']} clips ({splits}), {frames} frames of real ASL signing; detected in
      body {total['frames_with_pose']}/{frames}, face {total['frames_with_face']}/{frames}, \
left hand {total['frames_with_left_hand']}/{frames}, right hand {total['frames_with_right_hand']}/{frames} frames
  dataset        {data}/   (PNG frame folders; sources in {data}/SOURCES.txt)
  run, 1 worker  {demo}/run-1worker/   (<split>/<clip>.pose, index.jsonl, stats.json, run.json)
  run, 2 workers {demo}/run-2workers/  (byte-identical to the 1-worker run: verify said EQUAL)
  pickle         {demo}/keypoints.pkl  (the keypoints pickle of data/extract_phoenix_keypoints.py, normalised coordinates)
  contact sheet  {sheet}
  report         {demo}/report.html""")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2])
    main(*(Path(arg) for arg in sys.argv[1:]))
