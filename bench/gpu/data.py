"""The GPU check's data: a PHOENIX-2014-T-shaped dataset of 210×260 PNG clips cut from the
signing videos shipped in tests/data (train: the clips the speed runs time; dev: the few the
CPU estimators also run, for the distances), PNGs written on threads; and the same dataset
listed in the reverse order (its own CSVs, the same frame files through a symlink), for the
clip-order check. The same bytes every time.

    python -m bench.gpu.data OUT --clips 120 --ref-clips 8 --frames-per-clip 100

writes OUT/ordered/PHOENIX-2014-T and OUT/reversed/PHOENIX-2014-T and prints one JSON line
(clips and frames per split).
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from bench.dataset import HEADER, read_video_frames, synthetic_rows

ROOT = Path(__file__).resolve().parents[2]
VIDEOS = sorted((ROOT / "tests" / "data" / "signing").glob("slp_*.mp4"))
FEATURES = Path("features") / "fullFrame-210x260px"
CSV = "annotations/manual/PHOENIX-2014-T.{split}.corpus.csv"
# clip i of video v starts at frame OFFSETS[i // len(VIDEOS)] (round the video): clips of one
# video differ, and the first ones start where the signing has begun (hands up)
OFFSETS = (24, 41, 8, 57)


def build(out: Path, clips: int, ref_clips: int, frames_per_clip: int) -> dict:
    """Write both datasets under ``out``; returns what was written."""
    if clips < 1 or ref_clips < 1 or frames_per_clip < 1:
        raise SystemExit("bench.gpu.data: --clips, --ref-clips and --frames-per-clip must be at least 1")
    if not VIDEOS:
        raise SystemExit(f"bench.gpu.data: no slp_*.mp4 in {ROOT / 'tests' / 'data' / 'signing'}")
    videos = [read_video_frames(path) for path in VIDEOS]
    rows = synthetic_rows(clips + ref_clips)
    splits = {"train": rows[:clips], "dev": rows[clips:]}
    ordered = out / "ordered" / "PHOENIX-2014-T"
    jobs = []
    for index, row in enumerate(rows):
        frames = videos[index % len(videos)]
        start = OFFSETS[(index // len(videos)) % len(OFFSETS)]
        folder = ordered / FEATURES / ("train" if index < clips else "dev") / row[0]
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(frames_per_clip):  # a clip longer than its video goes round it again
            jobs.append((folder / f"images{k + 1:04d}.png", frames[(start + k) % len(frames)]))
    with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:  # cv2.imwrite lets go of the GIL
        written = list(pool.map(lambda job: cv2.imwrite(str(job[0]), job[1]), jobs))
    if not all(written):
        raise SystemExit(f"bench.gpu.data: could not write {jobs[written.index(False)][0]}")
    reversed_root = out / "reversed" / "PHOENIX-2014-T"
    for root, order in ((ordered, 1), (reversed_root, -1)):
        for split, chosen in splits.items():
            lines = [HEADER] + ["|".join([row[0], f"{row[0]}/1/*.png", *row[2:]]) for row in chosen[::order]]
            csv = root / CSV.format(split=split)
            csv.parent.mkdir(parents=True, exist_ok=True)
            csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (reversed_root / "features").symlink_to(ordered / "features", target_is_directory=True)
    return {"clips": {split: len(chosen) for split, chosen in splits.items()},
            "frames": {split: len(chosen) * frames_per_clip for split, chosen in splits.items()},
            "frame_size": "210x260", "videos": [path.name for path in VIDEOS]}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips", type=int, default=120, help="train clips (the speed runs)")
    parser.add_argument("--ref-clips", type=int, default=8, help="dev clips (the CPU estimators run them too)")
    parser.add_argument("--frames-per-clip", type=int, default=100)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"bench.gpu.data: {args.out} is not empty")
    print(json.dumps(build(args.out, args.clips, args.ref_clips, args.frames_per_clip)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
