"""How faithful the torch estimator is to MediaPipe Holistic, frame by frame, on every real
frame the tests can find: the signing clips and MediaPipe's oracle images and videos that
tests/data ships, and, where ../shared/testdata has them, the research-use AUTSL clip and
PHOENIX frames.

Both estimators run each source as one clip (one clip = one frame size): MediaPipe in
``mode="frame"`` (every frame on a fresh graph, which is what the torch port reproduces) and
the torch port on the CPU in fp32. Per part: on how many frames both agree that the part is
there, and, over the frames where both found it, the distance of every landmark in pixels
(``hypot(dx * width, dy * height)``); the body's world landmarks are compared in metres (3-D).

``.venv/bin/python -m tests.estimators.faithful`` prints the table.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signpose.estimators.mediapipe import WORLD  # the body world landmarks
from signpose.keypoints import ClipKeypoints
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
        import cv2

        if not self.video:
            return [_rgb(cv2.imread(str(path), cv2.IMREAD_COLOR)) for path in self.paths], self.fps
        cap = cv2.VideoCapture(str(self.paths[0]))
        fps = cap.get(cv2.CAP_PROP_FPS) or self.fps
        frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(_rgb(bgr))
        cap.release()
        if not frames:
            raise RuntimeError(f"no frame decoded from {self.paths[0]}")
        return frames, float(fps)


def _rgb(bgr: np.ndarray | None) -> np.ndarray:
    import cv2

    if bgr is None:
        raise RuntimeError("an image could not be read")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


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
    reference: ClipKeypoints  # MediaPipe
    candidate: ClipKeypoints  # torch
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
    worst: tuple[str, int, int] | None = None  # (source, frame, landmark) of the largest distance
    disagree_at: list[tuple[str, int, bool, bool]] = field(default_factory=list)  # (source, frame, mediapipe, torch)

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


def make_estimators():
    """MediaPipe with a fresh graph per frame, and the torch port on the CPU (fp32)."""
    from signpose.estimators import EstimatorSpec, make_estimator

    reference = make_estimator(EstimatorSpec.of("mediapipe", {"mode": "frame"}))
    candidate = make_estimator(EstimatorSpec.of("torch", {"device": "cpu"}))
    return reference, candidate


def compare(sources: Sequence[Source], estimators=None) -> list[SourceResult]:
    """Both estimators on every frame of every source. Builds (and closes) the estimators
    unless given a (reference, candidate) pair, which it leaves open."""
    owned = estimators is None
    reference, candidate = make_estimators() if owned else estimators
    out = []
    try:
        for source in sources:
            t0 = time.perf_counter()
            frames, fps = source.frames()
            if len({frame.shape for frame in frames}) != 1:
                raise RuntimeError(f"{source.name}: frames of more than one size in one clip")
            t1 = time.perf_counter()
            ref = reference.estimate_clip(frames, fps)
            t2 = time.perf_counter()
            got = candidate.estimate_clip(frames, fps)
            t3 = time.perf_counter()
            assert ref.layout.names == got.layout.names, (ref.layout.names, got.layout.names)
            assert (ref.width, ref.height) == (got.width, got.height)
            out.append(SourceResult(source, ref, got, t2 - t1, t3 - t2, t1 - t0))
    finally:
        if owned:
            reference.close()
            candidate.close()
    return out


def _row(label: str, s: PartStats, unit: str, scale: float = 1.0) -> str:
    worst = f"{s.worst[0]} #{s.worst[1]} (lm {s.worst[2]})" if s.worst else "-"
    return (f"| {label} | {s.part} | {s.frames} | {s.agree} ({100 * s.agreement:.2f}%) | {s.found_reference} / {s.found_candidate}"
            f" | {s.both} | {s.median * scale:.4f} {unit} | {s.p99 * scale:.4f} {unit} | {s.max * scale:.3f} {unit} | {worst} |")


def table(results: Sequence[SourceResult]) -> str:
    lines = ["| sources | part | frames | presence agrees | found (MediaPipe / torch) | both | median | p99 | max | max at (source #frame) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
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
    start = time.perf_counter()
    sources = available_sources()
    results = compare(sources)
    wall = time.perf_counter() - start
    print(table(results))
    print()
    print("| group | sources | frames | decode s | MediaPipe s | torch s |")
    print("|---|---|---|---|---|---|")
    for group in GROUPS:
        chosen = [r for r in results if r.source.group == group]
        if chosen:
            print(f"| {GROUP_TITLES[group]} | {', '.join(r.source.name for r in chosen)} | {sum(r.frames for r in chosen)}"
                  f" | {sum(r.decode_s for r in chosen):.1f} | {sum(r.reference_s for r in chosen):.1f} | {sum(r.candidate_s for r in chosen):.1f} |")
    print()
    print(f"total frames: {sum(r.frames for r in results)}; wall time: {wall:.1f} s")
    missing = [title for group, title in GROUP_TITLES.items() if not any(r.source.group == group for r in results)]
    if missing:
        print(f"absent (not in ../shared/testdata): {', '.join(missing)}")
    disagreements = [(part, where) for part in IMAGE_PARTS for where in part_stats(results, part).disagree_at]
    if disagreements:
        print()
        print("presence disagrees (part: source #frame, MediaPipe found, torch found):")
        for part, (name, frame, a, b) in disagreements:
            print(f"  {part}: {name} #{frame} {a} {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
