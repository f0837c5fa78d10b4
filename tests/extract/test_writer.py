"""An estimator that batches across clips (the torch one on a GPU) never waits on the disk
while it has work: its clips' .pose files are written, fsynced and renamed on the writer
thread; while a clip's file is still being written, the clips decoded by then are
estimated; a clip is recorded only once its file is whole, and an error writing it is that
clip's own, as when the file was written in the clip's call. (The toy estimators of
tests/estimators/toy.py on real PNG files; the writes are the real ones, watched.)"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from signpose.estimators import EstimatorSpec
from signpose.extract.worker import ClipProcessor
from signpose.extract.writer import THREAD_NAME
from signpose.model.clip import Clip
from signpose.run.record import ClipStatus, ErrorKind
from signpose.run.store import RunStore
from tests.estimators.toy import BatchingToyEstimator
from tests.extract.test_worker import snapshot, synthetic_clip

BATCHING = EstimatorSpec("tests.estimators.toy:BatchingToyEstimator")
TOY = EstimatorSpec("tests.estimators.toy:ToyEstimator")


def clips_in(folder: Path, count: int) -> list[Clip]:
    return [Clip("train", f"c{n}", synthetic_clip(folder / f"c{n}", count=2 + n)) for n in range(count)]


@pytest.fixture
def writes(monkeypatch) -> list[tuple[str, str]]:
    """(clip id, thread name) of every .pose written, in order; the writes themselves are real."""
    seen: list[tuple[str, str]] = []
    real = RunStore.write_pose

    def watched(self, split, clip_id, data):
        seen.append((clip_id, threading.current_thread().name))
        return real(self, split, clip_id, data)

    monkeypatch.setattr(RunStore, "write_pose", watched)
    return seen


def test_files_are_written_on_the_writer_thread_with_the_bytes_a_clip_by_clip_run_writes(tmp_path, writes) -> None:
    clips = clips_in(tmp_path / "data", 4)
    batched = ClipProcessor(BATCHING, tmp_path / "batched")
    for clip in clips:
        batched.prepare(clip)
    results = [batched(clip) for clip in clips]
    assert [r.status for r in results] == [ClipStatus.OK] * 4
    assert {name.split("_")[0] for _, name in writes} == {THREAD_NAME}
    assert sorted(clip_id for clip_id, _ in writes) == ["c0", "c1", "c2", "c3"]  # each once
    for result in results:  # recorded with the file whole on disk
        assert hashlib.sha256((tmp_path / "batched" / result.pose_file).read_bytes()).hexdigest() == result.checksum
    writes.clear()
    alone = ClipProcessor(TOY, tmp_path / "alone")  # no batching: written in the clip's own call
    assert [alone(clip) for clip in clips] == results
    assert {name for _, name in writes} == {threading.current_thread().name}
    assert snapshot(tmp_path / "batched") == snapshot(tmp_path / "alone")


class _FeedsDuringTheWrite(BatchingToyEstimator):
    """Tells the processor of the next clip while the first batch runs (so it is decoded
    just too late for that batch), and says when that clip has been estimated."""

    def __init__(self) -> None:
        super().__init__()
        self.processor: ClipProcessor | None = None
        self.next_clip: Clip | None = None
        self.estimated_next = threading.Event()

    def estimate_clips(self, clips):
        if self.next_clip is not None and not self.batches:
            self.processor.prepare(self.next_clip)
            self.processor._prepared[(self.next_clip.split, self.next_clip.clip_id)].result(timeout=60)
        elif self.batches:
            self.estimated_next.set()
        return super().estimate_clips(clips)


def test_while_a_file_is_on_its_way_to_disk_the_clips_decoded_by_then_are_estimated(tmp_path, monkeypatch) -> None:
    first, second = clips_in(tmp_path / "data", 2)
    estimator = _FeedsDuringTheWrite()
    processor = ClipProcessor(BATCHING, tmp_path / "out", estimator=estimator)
    estimator.processor, estimator.next_clip = processor, second
    waited: list[bool] = []
    real = RunStore.write_pose

    def slow_disk(self, split, clip_id, data):  # the first file is written only once the device has moved on
        if clip_id == first.clip_id:
            waited.append(estimator.estimated_next.wait(timeout=60))
        return real(self, split, clip_id, data)

    monkeypatch.setattr(RunStore, "write_pose", slow_disk)
    assert processor(first).status is ClipStatus.OK
    assert waited == [True]  # the second clip was estimated while the first one's file was being written
    assert estimator.batches == [1, 1]
    assert processor(second).status is ClipStatus.OK
    assert estimator.batches == [1, 1]  # its keypoints were waiting for its call


def test_an_error_writing_a_file_is_that_clip_s_own_as_when_written_in_its_call(tmp_path) -> None:
    clips = clips_in(tmp_path / "data", 3)
    results = {}
    for name, spec in (("batched", BATCHING), ("alone", TOY)):
        out = tmp_path / name
        out.mkdir()
        (out / "train").write_bytes(b"")  # a file where the split's folder would go: no .pose can be written
        processor = ClipProcessor(spec, out)
        for clip in clips:
            processor.prepare(clip)
        results[name] = [processor(clip) for clip in clips]
    for batched, alone in zip(results["batched"], results["alone"]):
        assert batched.status is alone.status is ClipStatus.FAILED
        assert batched.error_kind is alone.error_kind is ErrorKind.INPUT
        assert batched.error.replace("batched", "alone") == alone.error


def test_a_clip_with_every_frame_broken_writes_nothing(tmp_path, writes) -> None:
    good = clips_in(tmp_path / "data", 1)[0]
    broken = tmp_path / "data" / "broken"
    broken.mkdir()
    (broken / "images0001.png").write_bytes(b"not a png")
    bad = Clip("train", "broken", broken)
    processor = ClipProcessor(BATCHING, tmp_path / "out")
    for clip in (good, bad):
        processor.prepare(clip)
    assert processor(good).status is ClipStatus.OK
    failed = processor(bad)
    assert failed.status is ClipStatus.FAILED and "none of the 1 frames could be decoded" in failed.error
    assert [clip_id for clip_id, _ in writes] == ["c0"] and not (tmp_path / "out" / "train" / "broken.pose").exists()
