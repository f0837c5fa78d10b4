"""How faithful signpose's own estimators (litert; torch on the CPU, fp32) are to MediaPipe
Holistic, frame by frame, on every real frame the tests can find: the signing clips and
MediaPipe's oracle images and videos that tests/data ships, and, where ../shared/testdata
has them, the research-use AUTSL clip and PHOENIX frames.

The reference is MediaPipe in ``mode="frame"`` (every frame on a fresh graph, the
state-free reference, which signpose's graph reproduces): run live where mediapipe is
installed, else its keypoints stored in tests/data (tests/estimators/references.py; shipped
sources only). Each source runs as one clip (one clip = one frame size). Per part: on how
many frames both agree that the part is there, how many frames are bit-identical, and, over
the frames where both found it, the distance of every landmark in pixels
(``hypot(dx * width, dy * height)``); the body's world landmarks are compared in metres (3-D).

``.venv/bin/python -m tests.estimators.faithful [--estimators litert torch]`` prints the tables.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signpose.estimators.holistic.layout import WORLD  # the body world landmarks
from signpose.model.keypoints import ClipKeypoints
from tests.testdata import locate

IMAGE_PARTS = ("pose", "face", "left_hand", "right_hand")
GROUPS = ("signing", "autsl", "phoenix", "oracle")
GROUP_TITLES = {
    "signing": "signing (shipped)",
    "autsl": "AUTSL (research use)",
    "phoenix": "PHOENIX (research use)",
    "oracle": "MediaPipe oracle (shipped)",
}
PHOENIX_SAMPLE = ("phoenix", "sample-2014T")


@dataclass(frozen=True)
class Source:
    """One clip: a video, one image, or a folder's distinct images of one size."""

    group: str
    name: str
    paths: tuple[Path, ...]
    video: bool = False
    fps: float = 25.0

    def frames(self) -> tuple[list[np.ndarray], float]:
        """The frames as signpose decodes them (PyAV for videos, OpenCV for images)."""
        from signpose.model.clip import Clip
        from signpose.sources import open_frames, read_frame

        if not self.video:
            return [read_frame(path) for path in self.paths], self.fps
        source = open_frames(Clip("all", self.name, self.paths[0], kind="video"))
        frames = [frame.image for frame in source.frames]
        if not frames or any(frame is None for frame in frames):
            raise RuntimeError(f"{self.paths[0]}: a frame could not be decoded")
        return frames, source.fps


def available_sources() -> list[Source]:
    """Every real source there is: the shipped ones always (tests/data, else ../shared);
    the research-use ones only where ../shared/testdata has them."""
    sources: list[Source] = []
    for path in sorted(locate("signing").glob("slp_*.mp4")):
        sources.append(Source("signing", path.name, (path,), video=True))
    autsl = locate("signing", "autsl", "signer0_sample1000_color.mp4")
    if autsl.is_file():
        sources.append(Source("autsl", autsl.name, (autsl,), video=True))
    # The sample copies the same two frames into train, dev and test: each distinct image once.
    seen: dict[str, Path] = {}
    for path in sorted(locate(*PHOENIX_SAMPLE).rglob("*.png")):
        seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    if seen:
        distinct = tuple(sorted(seen.values(), key=lambda path: (path.name, str(path))))
        sources.append(Source("phoenix", distinct[0].parent.name, distinct))
    oracle = locate("mediapipe_oracle")
    for name in ("pose.jpg", "portrait.jpg", "hands.jpg"):
        if (oracle / name).is_file():
            sources.append(Source("oracle", name, (oracle / name,)))
    for name in ("asl_hand.25fps.mp4", "pose_squats.mp4"):
        if (oracle / name).is_file():
            sources.append(Source("oracle", name, (oracle / name,), video=True))
    return sources


@dataclass
class SourceResult:
    source: Source
    reference: ClipKeypoints  # MediaPipe, a fresh graph per frame (live, or its stored keypoints)
    candidate: ClipKeypoints  # one of signpose's own estimators
    reference_s: float
    candidate_s: float
    decode_s: float

    @property
    def frames(self) -> int:
        return self.reference.num_frames


@dataclass
class PartStats:
    """One part over some sources. Distances in pixels (metres for the world part)."""

    part: str
    frames: int = 0
    agree: int = 0
    found_reference: int = 0
    found_candidate: int = 0
    both: int = 0
    distances: np.ndarray = field(default_factory=lambda: np.zeros(0))
    identical: int = 0  # frames whose points, confidences and presence are bit for bit MediaPipe's
    worst: tuple[str, int, int] | None = None  # (source, frame, landmark) of the largest distance
    disagree_at: list[tuple[str, int, bool, bool]] = field(default_factory=list)  # (source, frame, MediaPipe, candidate)

    @property
    def agreement(self) -> float:
        return self.agree / self.frames if self.frames else 1.0

    @property
    def median(self) -> float:
        return float(np.median(self.distances)) if self.distances.size else 0.0

    @property
    def p99(self) -> float:
        return float(np.percentile(self.distances, 99)) if self.distances.size else 0.0

    @property
    def max(self) -> float:
        return float(self.distances.max()) if self.distances.size else 0.0


def part_stats(results: Iterable[SourceResult], part: str) -> PartStats:
    stats = PartStats(part)
    chunks: list[np.ndarray] = []
    worst = -1.0
    for result in results:
        ref, got = result.reference, result.candidate
        a, b = ref.part_present(part), got.part_present(part)
        stats.frames += len(a)
        stats.agree += int((a == b).sum())
        stats.found_reference += int(a.sum())
        stats.found_candidate += int(b.sum())
        where = ref.layout.slices[part]
        same = (ref.points[:, where] == got.points[:, where]).all((1, 2)) & (ref.confidence[:, where] == got.confidence[:, where]).all(1)
        stats.identical += int((same & (a == b)).sum())
        stats.disagree_at += [(result.source.name, int(i), bool(a[i]), bool(b[i])) for i in np.flatnonzero(a != b)]
        both = np.flatnonzero(a & b)
        stats.both += len(both)
        if not len(both):
            continue
        delta = ref.part(part)[both].astype(np.float64) - got.part(part)[both].astype(np.float64)
        if part == WORLD:
            d = np.linalg.norm(delta, axis=-1)
        else:  # the same size for both: each estimator's own clip width and height agree
            d = np.hypot(delta[..., 0] * ref.width, delta[..., 1] * ref.height)
        chunks.append(d.ravel())
        if d.max() > worst:
            worst = float(d.max())
            frame, landmark = np.unravel_index(int(d.argmax()), d.shape)
            stats.worst = (result.source.name, int(both[frame]), int(landmark))
    if chunks:
        stats.distances = np.concatenate(chunks)
    return stats


CANDIDATES = {"litert": {}, "torch": {"device": "cpu"}}


def live_reference():
    """MediaPipe with a fresh graph per frame, where mediapipe is installed (else None)."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        return None
    from signpose.estimators import EstimatorSpec, make_estimator

    return make_estimator(EstimatorSpec.of("mediapipe", {"mode": "frame"}))


def compare(sources: Sequence[Source], candidates: dict[str, object], reference=None) -> dict[str, list[SourceResult]]:
    """Every candidate estimator on every frame of every source, against MediaPipe:
    ``reference`` (an estimator) where given, else the stored keypoints (tests/data;
    sources without them are left out)."""
    from tests.estimators.references import stored

    out: dict[str, list[SourceResult]] = {name: [] for name in candidates}
    for source in sources:
        t0 = time.perf_counter()
        frames, fps = source.frames()
        if len({frame.shape for frame in frames}) != 1:
            raise RuntimeError(f"{source.name}: frames of more than one size in one clip")
        t1 = time.perf_counter()
        ref = reference.estimate_clip(frames, fps) if reference is not None else stored(source, frames, fps)
        t2 = time.perf_counter()
        if ref is None:
            continue
        for name, candidate in candidates.items():
            t3 = time.perf_counter()
            got = candidate.estimate_clip(frames, fps)
            assert ref.layout.names == got.layout.names, (ref.layout.names, got.layout.names)
            assert (ref.width, ref.height) == (got.width, got.height)
            out[name].append(SourceResult(source, ref, got, t2 - t1, time.perf_counter() - t3, t1 - t0))
    return out


def _row(label: str, s: PartStats, unit: str, scale: float = 1.0) -> str:
    worst = f"{s.worst[0]} #{s.worst[1]} (lm {s.worst[2]})" if s.worst else "-"
    return (f"| {label} | {s.part} | {s.frames} | {s.agree} ({100 * s.agreement:.2f}%) | {s.found_reference} / {s.found_candidate}"
            f" | {s.both} | {s.identical} | {s.median * scale:.4f} {unit} | {s.p99 * scale:.4f} {unit} | {s.max * scale:.3f} {unit} | {worst} |")


def table(results: Sequence[SourceResult], candidate: str) -> str:
    lines = [f"| sources | part | frames | presence agrees | found (MediaPipe / {candidate}) | both | bit-identical frames | median | p99 | max | max at (source #frame) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = [("all", list(results))] + [(GROUP_TITLES[g], [r for r in results if r.source.group == g]) for g in GROUPS]
    for label, chosen in groups:
        if not chosen:
            continue
        for part in IMAGE_PARTS:
            lines.append(_row(label, part_stats(chosen, part), "px"))
        if WORLD in chosen[0].reference.layout.names:
            lines.append(_row(label, part_stats(chosen, WORLD), "mm", 1000.0))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from signpose.estimators import EstimatorSpec, make_estimator

    parser = argparse.ArgumentParser(description="signpose's own estimators against MediaPipe (a fresh graph per frame), per part and source")
    parser.add_argument("--estimators", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    reference = live_reference()
    candidates = {name: make_estimator(EstimatorSpec.of(name, CANDIDATES[name])) for name in args.estimators}
    compared = compare(available_sources(), candidates, reference)
    wall = time.perf_counter() - start
    print(f"reference: {'MediaPipe, live' if reference is not None else 'MediaPipe keypoints stored in tests/data (mediapipe is not installed)'}")
    for name, results in compared.items():
        print(f"\n## {name}\n")
        print(table(results, name))
        print()
        print(f"| group | sources | frames | decode s | MediaPipe s | {name} s |")
        print("|---|---|---|---|---|---|")
        for group in GROUPS:
            chosen = [r for r in results if r.source.group == group]
            if chosen:
                print(f"| {GROUP_TITLES[group]} | {', '.join(r.source.name for r in chosen)} | {sum(r.frames for r in chosen)}"
                      f" | {sum(r.decode_s for r in chosen):.1f} | {sum(r.reference_s for r in chosen):.1f} | {sum(r.candidate_s for r in chosen):.1f} |")
        disagreements = [(part, where) for part in IMAGE_PARTS for where in part_stats(results, part).disagree_at]
        if disagreements:
            print(f"\npresence disagrees (part: source #frame, MediaPipe found, {name} found):")
            for part, (source, frame, a, b) in disagreements:
                print(f"  {part}: {source} #{frame} {a} {b}")
    results = next(iter(compared.values()), [])
    print(f"\ntotal frames: {sum(r.frames for r in results)}; wall time: {wall:.1f} s")
    missing = [title for group, title in GROUP_TITLES.items() if not any(r.source.group == group for r in results)]
    if missing:
        print(f"absent (not in ../shared/testdata, or no reference without mediapipe): {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
