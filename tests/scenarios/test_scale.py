"""PHOENIX scale without PHOENIX: thousands of small clips written through the real store,
then finalize and the exports. What must hold is structural, not a timing: the index
comes out whole and in order, and the exports' peak memory does not grow with the number
of frames (they stream clip by clip). bench/ measures the times.

Memory is measured in a fresh interpreter after a warm-up export of the larger run
(tests/scenarios/export_memory.py), so the figures do not depend on what ran before, as the
peak of Python's allocations (numpy's included: tracemalloc) plus Arrow's (its memory pool),
above what was held before; the bound is on the growth per frame between 6,000 and 30,000
frames."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from signpose.formats.pose import to_pose_bytes
from signpose.run.record import ClipResult, ClipStatus
from signpose.run.store import RunStore
from tests.conftest import REPO
from tests.runs_builder import make_keypoints

FRAMES = 20  # per clip
SMALL, LARGE = 300, 1500  # clips
# Bytes a stream may add per frame. What grows is per clip: each clip's index position
# (~0.23 KB: its key and line number), ~12 B per frame at 20 frames a clip; the interpreter's
# free lists add up to ~15 more (measured 5-28 B per frame). Anything held per frame costs
# more than the bound: an int in a list 36 B, a string 60-80 B, whole arrays ~2.2 KB (543
# points x 4 values); npz's per-frame bits held in lists took ~0.5 KB.
PER_FRAME = 48


def build(root: Path, clips: int, frames: int = FRAMES) -> list[tuple[str, str]]:
    """``clips`` clips appended out of order (as workers finish), each the same small file."""
    store = RunStore(root)
    store.prepare(overwrite=False)
    keypoints = make_keypoints(7, frames=frames)
    data = to_pose_bytes(keypoints)
    keys = [("train", f"clip-{n:05d}") for n in range(clips)]
    with store.journal(lambda synced: None) as journal:  # the index as a run appends to it
        for split, clip_id in reversed(keys):
            relpath, checksum = store.write_pose(split, clip_id, data)
            journal.append(ClipResult(
                split, clip_id, ClipStatus.OK, f"/data/{clip_id}", frames=frames, detected=keypoints.detected(),
                pose_file=relpath, checksum=checksum, frame_names=tuple(f"images{i:04d}.png" for i in range(frames)),
                width=210, height=260, fps=25.0,
            ))  # fmt: skip
    store.finalize(keys)
    return keys


def growth_per_frame(kind: str, runs: dict[int, Path], out: Path) -> tuple[float, int, int]:
    """Bytes per frame the export of ``kind`` grows by from the smaller run to the larger,
    measured in a fresh interpreter (tests/scenarios/export_memory.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.scenarios.export_memory", kind, str(runs[SMALL]), str(runs[LARGE]), str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    small, large = json.loads(done.stdout.strip().splitlines()[-1])
    return (large - small) / ((LARGE - SMALL) * FRAMES), small, large


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("scale")
    sizes = {}
    for clips in (SMALL, LARGE):
        build(out / f"run{clips}", clips)
        sizes[clips] = out / f"run{clips}"
    return sizes


def test_finalize_puts_thousands_of_clips_in_dataset_order(runs) -> None:
    lines = (runs[LARGE] / "index.jsonl").read_text().splitlines()
    assert len(lines) == LARGE
    assert [line.split('"clip_id": "')[1].split('"')[0] for line in lines] == [f"clip-{n:05d}" for n in range(LARGE)]


def test_npz_export_memory_does_not_grow_with_the_frames(runs, tmp_path) -> None:
    per_frame, small, large = growth_per_frame("npz", runs, tmp_path)
    with np.load(tmp_path / "large" / "train.npz") as npz:
        assert npz["keypoints"].shape == (LARGE * FRAMES, 543, 4)  # 1.3 GB of arrays were never in memory at once
        assert npz["clip_offsets"][-1] == LARGE * FRAMES and npz["image_paths"][-1] == "/data/clip-01499/images0019.png"
        assert npz["present"].shape == (LARGE * FRAMES, 4) and npz["clip_ids"][-1] == "clip-01499"
    assert per_frame < PER_FRAME, (per_frame, small, large)


def test_pickle_export_memory_does_not_grow_with_the_frames(runs, tmp_path) -> None:
    per_frame, small, large = growth_per_frame("pickle", runs, tmp_path)
    with (tmp_path / "large.pkl").open("rb") as handle:
        assert len(pickle.load(handle)["train"]["keypoints"]) == LARGE * FRAMES
    assert per_frame < PER_FRAME, (per_frame, small, large)


def test_parquet_export_memory_does_not_grow_with_the_frames(runs, tmp_path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="the parquet extra is not installed")

    per_frame, small, large = growth_per_frame("parquet", runs, tmp_path)
    metadata = pq.read_metadata(tmp_path / "large" / "train.parquet")
    assert metadata.num_rows == LARGE and metadata.num_row_groups == LARGE  # one row group per clip
    assert sum(metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)) == LARGE
    assert per_frame < PER_FRAME, (per_frame, small, large)
