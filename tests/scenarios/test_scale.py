"""PHOENIX scale without PHOENIX: thousands of small clips written through the real store,
then finalize and both exports. What must hold is structural, not a timing: the index comes
out whole and in order, and the exports' peak Python memory does not grow with the number
of clips (they stream clip by clip). bench/ measures the times."""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from signpose.tools.export_pickle import export_pickle
from signpose.tools.export_npz import export_npz
from signpose.formats.pose import to_pose_bytes
from signpose.run.record import ClipResult, ClipStatus
from signpose.run.store import RunStore
from tests.runs_builder import make_keypoints


def build(root: Path, clips: int, frames: int = 20) -> list[tuple[str, str]]:
    """``clips`` clips appended out of order (as workers finish), each the same small file."""
    store = RunStore(root)
    store.prepare(overwrite=False)
    keypoints = make_keypoints(7, frames=frames)
    data = to_pose_bytes(keypoints)
    keys = [("train", f"clip-{n:05d}") for n in range(clips)]
    for split, clip_id in reversed(keys):
        relpath, checksum = store.write_pose(split, clip_id, data)
        store.append(ClipResult(
            split, clip_id, ClipStatus.OK, f"/data/{clip_id}", frames=frames, detected=keypoints.detected(),
            pose_file=relpath, checksum=checksum, frame_names=tuple(f"images{i:04d}.png" for i in range(frames)),
            width=210, height=260, fps=25.0,
        ))  # fmt: skip
    store.finalize(keys)
    return keys


def peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("scale")
    sizes = {}
    for clips in (300, 1500):
        build(out / f"run{clips}", clips)
        sizes[clips] = out / f"run{clips}"
    return sizes


def test_finalize_puts_thousands_of_clips_in_dataset_order(runs) -> None:
    lines = (runs[1500] / "index.jsonl").read_text().splitlines()
    assert len(lines) == 1500
    assert [line.split('"clip_id": "')[1].split('"')[0] for line in lines] == [f"clip-{n:05d}" for n in range(1500)]


def test_npz_export_memory_does_not_grow_with_the_clips(runs, tmp_path) -> None:
    small = peak_bytes(lambda: export_npz(runs[300], tmp_path / "small"))
    large = peak_bytes(lambda: export_npz(runs[1500], tmp_path / "large"))
    with np.load(tmp_path / "large" / "train.npz") as npz:
        assert npz["keypoints"].shape == (1500 * 20, 543, 4)  # 1.3 GB of arrays were never in memory at once
        assert npz["clip_offsets"][-1] == 1500 * 20
    # 5x the clips: whole arrays would take 5x; a stream holds one clip (+ small per-frame bits)
    assert large < 2 * small + (8 << 20), (small, large)
    assert large < 64 << 20


def test_pickle_export_memory_does_not_grow_with_the_clips(runs, tmp_path) -> None:
    small = peak_bytes(lambda: export_pickle(runs[300], tmp_path / "small.pkl"))
    large = peak_bytes(lambda: export_pickle(runs[1500], tmp_path / "large.pkl"))
    with (tmp_path / "large.pkl").open("rb") as handle:
        assert len(pickle.load(handle)["train"]["keypoints"]) == 1500 * 20
    assert large < 2 * small + (8 << 20), (small, large)
