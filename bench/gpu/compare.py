"""How far one estimator's keypoints are from another's, per part, as the fidelity tests
measure it (tests/estimators/faithful.py): on how many frames the part's presence agrees,
and over the frames where both found it the distance of every landmark in pixels (the
world landmarks in mm): median, p99, max. ``signpose verify --atol`` says whether two runs
agree within a bound; this says how far apart they are.

    python -m bench.gpu.compare runs A B [--splits dev]     # two run folders, clip by clip (B the reference)
    python -m bench.gpu.compare mediapipe --device cuda [--groups signing oracle] [--sources NAME ...] [--skip S --frames N]

``mediapipe``: the torch estimator on ``--device`` against MediaPipe's own keypoints (a fresh
graph per frame) stored in tests/data/mediapipe_frame_mode for the shipped sources (those
named, and N frames of each from frame S, where given), so no mediapipe is needed. One JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from signpose.estimators.holistic.layout import WORLD
from signpose.model.keypoints import ClipKeypoints
from tests.estimators.faithful import IMAGE_PARTS, Source, SourceResult, available_sources, part_stats

PARTS = (*IMAGE_PARTS, WORLD)


def summarise(results: list[SourceResult]) -> dict:
    """Per part: frames, presence agreement, frames found by both, median / p99 / max."""
    parts = {}
    for part in PARTS:
        stats = part_stats(results, part)
        scale, unit = (1000.0, "mm") if part == WORLD else (1.0, "px")
        parts[part] = {
            "frames": stats.frames, "agree": stats.agree, "agreement": round(stats.agreement, 6), "both": stats.both,
            "identical_frames": stats.identical, "unit": unit, "median": stats.median * scale,
            "p99": stats.p99 * scale, "max": stats.max * scale,
        }  # fmt: skip
    return {"clips": len(results), "frames": sum(r.frames for r in results), "parts": parts}


def compare_runs(candidate: Path, reference: Path, splits: list[str] | None) -> dict:
    """Every clip done in both runs (by split and clip id, the same frame names)."""
    from signpose.run.reader import RunReader

    a, b = RunReader(candidate), RunReader(reference)
    results, skipped = [], []
    for split in splits or sorted(set(a.splits) & set(b.splits)):
        theirs = {record.clip_id: record for record in b.ok_clips(split)}
        for record in a.ok_clips(split):
            other = theirs.get(record.clip_id)
            if other is None or other.frame_names != record.frame_names:
                skipped.append(f"{split}/{record.clip_id}")
                continue
            source = Source("run", f"{split}/{record.clip_id}", ())
            results.append(SourceResult(source, b.trusted_clip(other), a.trusted_clip(record), 0.0, 0.0, 0.0))
    return {"candidate": str(candidate), "reference": str(reference), **summarise(results), "not_in_both": skipped}


def stored_reference(source: Source, frames: list[np.ndarray], fps: float, skip: int = 0) -> ClipKeypoints | None:
    """MediaPipe's stored keypoints of ``source``'s frames ``skip`` to ``skip + len(frames)``
    (None: none stored); ValueError if they decode to other pixels than they were made from."""
    from tests.estimators.references import frame_digests, path_of

    from signpose.estimators.holistic.layout import holistic_layout

    path = path_of(source)
    if not path.is_file():
        return None
    at = slice(skip, skip + len(frames))
    with np.load(path) as data:
        if not np.array_equal(frame_digests(frames), data["frame_sha256"][at]):
            raise ValueError(f"{source.name}: the frames decode to other pixels than MediaPipe's stored keypoints were made from")
        return ClipKeypoints(data["points"][at], data["confidence"][at], data["present"][at], int(data["width"]),
                             int(data["height"]), fps, holistic_layout())  # fmt: skip


def some_frames(source: Source, skip: int, limit: int | None) -> tuple[list[np.ndarray], float]:
    """The source's frames as signpose decodes them (``Source.frames``) from frame ``skip``,
    ``limit`` of them (None: to the end), decoding no more than that."""
    if not skip and not limit:
        return source.frames()
    if not source.video:
        return Source(source.group, source.name, source.paths[skip:][:limit], fps=source.fps).frames()
    import itertools

    from signpose.model.clip import Clip
    from signpose.sources import open_frames

    opened = open_frames(Clip("all", source.name, source.paths[0], kind="video"))
    frames = [frame.image for frame in itertools.islice(opened.frames, skip, skip + limit if limit else None)]
    if any(frame is None for frame in frames):
        raise ValueError(f"{source.name}: a frame could not be decoded")
    return frames, opened.fps


def compare_mediapipe(device: str, groups: list[str], names: list[str] | None = None, skip: int = 0,
                      limit: int | None = None) -> dict:
    from signpose.estimators.torch_holistic.estimator import TorchHolisticEstimator

    estimator = TorchHolisticEstimator(device=device)
    results, notes = [], []
    for source in available_sources():
        if source.group not in groups or (names and source.name not in names):
            continue
        try:
            frames, fps = some_frames(source, skip, limit)
            reference = stored_reference(source, frames, fps, skip)
        except ValueError as error:
            notes.append(str(error))
            continue
        if reference is None:
            notes.append(f"{source.name}: no stored MediaPipe keypoints")
            continue
        results.append(SourceResult(source, reference, estimator.estimate_clip(frames, fps), 0.0, 0.0, 0.0))
    return {"candidate": f"torch on {device}", "reference": "MediaPipe 0.10.21, a fresh graph per frame (stored)",
            "sources": [r.source.name for r in results], **summarise(results), "notes": notes}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    runs = sub.add_parser("runs", help="two run folders: A the candidate, B the reference")
    runs.add_argument("a", type=Path)
    runs.add_argument("b", type=Path)
    runs.add_argument("--splits", nargs="+", default=None)
    mp = sub.add_parser("mediapipe", help="the torch estimator against MediaPipe's stored keypoints")
    mp.add_argument("--device", default="cuda")
    mp.add_argument("--groups", nargs="+", default=["signing", "oracle"], choices=["signing", "oracle"])
    mp.add_argument("--sources", nargs="+", default=None, help="only these sources (file names)")
    mp.add_argument("--skip", type=int, default=0, help="from this frame of each source")
    mp.add_argument("--frames", type=int, default=None, help="only N frames of each source")
    args = parser.parse_args(argv)
    try:
        if args.what == "runs":
            report = compare_runs(args.a, args.b, args.splits)
        else:
            report = compare_mediapipe(args.device, args.groups, args.sources, args.skip, args.frames)
    except Exception as error:  # noqa: BLE001 - one line for the check's log; the summary says the step failed
        print(f"bench.gpu.compare: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
