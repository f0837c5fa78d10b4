"""extract() end to end with real MediaPipe on two local workers: counts, resuming (skip
what is whole, redo what is missing or corrupt), refusing to mix options, overwrite, an
index in dataset order whatever the finishing order, and what run.json / stats.json hold."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import pytest

from signpose.backends.base import Outcome
from signpose.backends.local import LocalBackend
from signpose.datasets import open_dataset
from signpose.estimators import EstimatorSpec
from signpose.estimators.holistic.weights import model_sha256
from signpose.extract.driver import Progress, extract
from signpose.run.store import INDEX, RUN_INFO, STATS, RunStore, compute_stats

from tests.testdata import signing_frames  # tests/data, else ../shared/testdata

CLIPS = ["clip1", "clip2", "clip10"]  # natural order: clip10 last
SPLIT = "all"


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory) -> Path:
    """A frame-folder dataset: 3 clips x 3 real signing frames (210x260 PNG)."""
    root = tmp_path_factory.mktemp("dataset")
    frames = signing_frames(count=9, step=4)
    for c, clip in enumerate(CLIPS):
        folder = root / clip
        folder.mkdir()
        for f in range(3):
            assert cv2.imwrite(str(folder / f"images{f + 1:04d}.png"), frames[c * 3 + f][..., ::-1])
    return root


@pytest.fixture(scope="module")
def dataset(dataset_root):
    ds = open_dataset(dataset_root, layout="folder")
    assert [(clip.split, clip.clip_id) for clip in ds.clips] == [(SPLIT, clip) for clip in CLIPS]
    return ds


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, dataset):
    """One complete run; tests work on copies of its folder."""
    out = tmp_path_factory.mktemp("first") / "run"
    progress: list[Progress] = []
    summary = extract(dataset, out, EstimatorSpec(), LocalBackend(2), on_progress=progress.append)
    return out, summary, progress


def copy_run(first_run, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(first_run[0], out)  # copy2: mtimes kept
    return out


def files(out: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(out.rglob("*")) if p.is_file()}


def poses(out: Path) -> dict[str, tuple[bytes, int]]:
    return {name: value for name, value in files(out).items() if name.endswith(".pose")}


def index_keys(out: Path) -> list[tuple[str, str]]:
    return [(r["split"], r["clip_id"]) for r in map(json.loads, (out / INDEX).read_text().splitlines())]


# -- the first run ---------------------------------------------------------------------------


def test_first_run_summary_and_files(first_run) -> None:
    out, summary, progress = first_run
    assert summary.status == "complete"
    assert (summary.clips_total, summary.clips_skipped, summary.clips_processed, summary.clips_retried) == (3, 0, 3, 0)
    assert summary.frames_processed == 9
    assert summary.failed == () and summary.frame_failures == ()
    assert summary.elapsed > 0 and summary.frames_per_second > 0
    assert sorted(poses(out)) == sorted(f"{SPLIT}/{clip}.pose" for clip in CLIPS)
    assert index_keys(out) == [(SPLIT, clip) for clip in CLIPS]
    store = RunStore(out)
    assert all(store.is_done(result) for result in store.read_index().values())
    assert [p.clips_done for p in progress] == [0, 1, 2, 3]
    assert progress[0] == Progress(0, 3, 0, 0.0) and progress[-1].frames_done == 9


def test_run_json(first_run) -> None:
    out, summary, _ = first_run
    info = json.loads((out / RUN_INFO).read_text())
    assert info["status"] == "complete"
    estimator = info["estimator"]
    assert estimator["name"] == "litert" and estimator["params"] == {}
    assert estimator["provenance"]["runtime"] == "litert" and estimator["provenance"]["litert_version"]
    sums = estimator["provenance"]["model_sha256"]
    assert sums == model_sha256()
    machine = info["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and isinstance(machine["vector_extensions"], list)
    assert len(sums) == 6 and all(re.fullmatch(r"[0-9a-f]{64}", value) for value in sums.values())
    assert isinstance(info["elapsed_seconds"], float) and info["elapsed_seconds"] > 0
    assert info["frames_per_second"] == pytest.approx(9 / info["elapsed_seconds"], rel=0.01)
    assert (info["clips_total"], info["clips_skipped"], info["clips_processed"], info["frames_processed"]) == (3, 0, 3, 9)
    assert info["workers"] == 2 and info["layout"] == "folder" and info["splits"] == [SPLIT]


def test_stats_json_matches_the_index_and_has_no_timing(first_run) -> None:
    out, _, _ = first_run
    stats = json.loads((out / STATS).read_text())
    records = list(RunStore(out).read_index().values())
    assert stats == json.loads(json.dumps(compute_stats(records)))
    assert stats[SPLIT]["clips"] == 3 and stats[SPLIT]["frames"] == 9 and stats[SPLIT]["frames_with_pose"] == 9

    def keys(value) -> list[str]:
        if isinstance(value, dict):
            return [k for key, item in value.items() for k in [key, *keys(item)]]
        return []

    timing = [k for k in keys(stats) if re.search(r"time|second|elapsed|started|finished|worker|host|speed", k)]
    assert timing == []


# -- resuming --------------------------------------------------------------------------------


def test_rerun_skips_everything_and_changes_no_file(first_run, dataset, tmp_path) -> None:
    out = copy_run(first_run, tmp_path)
    before = files(out)
    summary = extract(dataset, out, EstimatorSpec(), LocalBackend(2))
    assert summary.status == "complete"
    assert (summary.clips_total, summary.clips_skipped, summary.clips_processed, summary.frames_processed) == (3, 3, 0, 0)
    assert poses(out) == {name: value for name, value in before.items() if name.endswith(".pose")}  # bytes and mtimes
    after = files(out)
    assert after[INDEX][0] == before[INDEX][0] and after[STATS][0] == before[STATS][0]
    assert json.loads(after[RUN_INFO][0])["clips_skipped"] == 3


def test_a_deleted_pose_is_the_only_clip_redone(first_run, dataset, tmp_path) -> None:
    out = copy_run(first_run, tmp_path)
    before = poses(out)
    (out / SPLIT / "clip2.pose").unlink()
    summary = extract(dataset, out, EstimatorSpec(), LocalBackend(2))
    assert (summary.clips_skipped, summary.clips_processed, summary.frames_processed) == (2, 1, 3)
    after = poses(out)
    for clip in ("clip1", "clip10"):
        assert after[f"{SPLIT}/{clip}.pose"] == before[f"{SPLIT}/{clip}.pose"]  # untouched
    redone = f"{SPLIT}/clip2.pose"
    assert after[redone][0] == before[redone][0]  # deterministic: the same bytes again
    assert index_keys(out) == [(SPLIT, clip) for clip in CLIPS]


def test_a_corrupt_pose_is_redone(first_run, dataset, tmp_path) -> None:
    out = copy_run(first_run, tmp_path)
    before = poses(out)
    path = out / SPLIT / "clip10.pose"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    summary = extract(dataset, out, EstimatorSpec(), LocalBackend(2))
    assert (summary.clips_skipped, summary.clips_processed) == (2, 1)
    after = poses(out)
    assert after[f"{SPLIT}/clip10.pose"][0] == before[f"{SPLIT}/clip10.pose"][0]
    for clip in ("clip1", "clip2"):
        assert after[f"{SPLIT}/{clip}.pose"] == before[f"{SPLIT}/{clip}.pose"]


def test_resuming_with_other_options_is_refused(first_run, dataset, tmp_path) -> None:
    from signpose.run.store import StoreError

    out = copy_run(first_run, tmp_path)
    before = files(out)
    with pytest.raises(StoreError, match="other options"):
        extract(dataset, out, EstimatorSpec.of("litert", dict(world_landmarks=False)), LocalBackend(2))
    with pytest.raises(StoreError, match="other options"):
        extract(dataset, out, EstimatorSpec.of("litert", dict(min_detection_confidence=0.7)), LocalBackend(2))
    assert files(out) == before


def test_a_clip_whose_index_line_was_torn_is_redone_and_indexed(first_run, dataset, tmp_path) -> None:
    out = copy_run(first_run, tmp_path)
    data = (out / INDEX).read_bytes()
    (out / INDEX).write_bytes(data[:-40])  # the machine died while appending clip10's line
    summary = extract(dataset, out, EstimatorSpec(), LocalBackend(2))
    assert (summary.clips_skipped, summary.clips_processed) == (2, 1)
    assert index_keys(out) == [(SPLIT, clip) for clip in CLIPS]
    assert json.loads((out / STATS).read_text())[SPLIT]["clips"] == 3


class ReversedBackend:
    """Wraps a backend and hands its outcomes over in reverse: clips 'finish' last-first."""

    def __init__(self, inner: LocalBackend) -> None:
        self.inner = inner
        self.workers = inner.workers
        self.seen: list = []

    def check(self, probe) -> None:
        self.inner.check(probe)

    def map_unordered(self, fn, items):
        outcomes: list[Outcome] = list(self.inner.map_unordered(fn, items))
        outcomes.reverse()
        self.seen = [outcome.item.clip_id for outcome in outcomes]
        yield from outcomes


def test_overwrite_redoes_everything_and_the_index_is_in_dataset_order(first_run, dataset, tmp_path) -> None:
    out = copy_run(first_run, tmp_path)
    before = files(out)
    (out / SPLIT / ".clip1.pose.tmp-99999").write_bytes(b"left by a killed run")
    backend = ReversedBackend(LocalBackend(2))
    summary = extract(dataset, out, EstimatorSpec(), backend, overwrite=True)
    assert (summary.clips_skipped, summary.clips_processed, summary.frames_processed) == (0, 3, 9)
    assert backend.seen != CLIPS  # they really arrived out of dataset order
    after = files(out)
    for name in before:
        if name.endswith(".pose"):
            assert after[name][0] == before[name][0]  # same bytes...
            assert after[name][1] != before[name][1]  # ...written again
    assert index_keys(out) == [(SPLIT, clip) for clip in CLIPS]
    # the index and stats do not depend on the finishing order or the run
    assert after[INDEX][0] == before[INDEX][0]
    assert after[STATS][0] == before[STATS][0]
    assert not list(out.rglob("*.tmp-*"))


def test_a_missing_clip_folder_is_a_failed_clip_not_a_failed_run(dataset, dataset_root, tmp_path) -> None:
    from signpose.model.clip import Clip, Dataset

    missing = Clip(SPLIT, "clip0", dataset_root / "clip0")  # listed by a reader, folder gone
    with_missing = Dataset(root=dataset.root, layout=dataset.layout, clips=(missing, dataset.clips[0]))
    out = tmp_path / "run"
    summary = extract(with_missing, out, EstimatorSpec(), LocalBackend(1))
    assert summary.status == "complete"
    assert [r.clip_id for r in summary.failed] == ["clip0"]
    assert "frame folder not found" in summary.failed[0].error
    assert (out / SPLIT / "clip1.pose").is_file()
    assert json.loads((out / RUN_INFO).read_text())["status"] == "complete"


# -- runs that cannot go on ----------------------------------------------------------------


def test_an_estimator_that_cannot_run_in_the_workers_stops_the_run(dataset, tmp_path: Path) -> None:
    """Every clip would fail alike: the run stops with the estimator's error instead of
    recording each clip as bad input."""
    from signpose.errors import EstimatorError

    out = tmp_path / "run"
    with pytest.raises(EstimatorError, match="model file missing"):
        extract(dataset, out, EstimatorSpec("tests.estimators.toy:ModelMissingToyEstimator"), LocalBackend(1))
    info = json.loads((out / RUN_INFO).read_text())
    assert info["status"] == "stopped" and "model file missing" in info["reason"]
    assert RunStore(out).read_index() == {}  # no clip recorded as failed for it


class _BrokenBackend:
    """A backend whose workers cannot be started after the first result (EAGAIN, a lost cluster)."""

    workers = 1

    def check(self, probe) -> None:
        probe()

    def map_unordered(self, fn, items):
        items = list(items)
        fn.start()
        fn.prepare(items[0])
        yield Outcome(items[0], fn(items[0]))
        raise BlockingIOError(11, "Resource temporarily unavailable")


def test_a_backend_that_fails_ends_the_run_as_stopped_not_complete_nor_an_output_error(dataset, tmp_path: Path) -> None:
    from signpose.errors import BackendError

    out = tmp_path / "run"
    with pytest.raises(BackendError, match="Resource temporarily unavailable"):
        extract(dataset, out, EstimatorSpec("tests.estimators.toy:ToyEstimator"), _BrokenBackend())
    info = json.loads((out / RUN_INFO).read_text())
    assert info["status"] == "stopped" and "Resource temporarily unavailable" in info["reason"]
    assert list(RunStore(out).read_index()) == [(SPLIT, "clip1")]  # the finished clip is kept
