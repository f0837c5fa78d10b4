"""ClipProcessor end to end on real frames and real MediaPipe: broken frames are recorded
and zero-filled, odd PNG flavours work, every way a clip can fail becomes a failed
record (never an exception, never a file outside the run folder), and the processor
pickles without its graph."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from signpose.model.clip import Clip
from signpose.sources.images import read_frame
from signpose.estimators import EstimatorSpec
from signpose.extract.worker import ClipProcessor, check_access
from signpose.formats.pose import read_pose_file, to_pose_bytes
from signpose.run.record import ClipStatus, ErrorKind

from tests.estimators.toy import ToyEstimator
from tests.testdata import signing_frames  # tests/data, else ../shared/testdata



@pytest.fixture(scope="module")
def real_frames() -> list[np.ndarray]:
    """Four real signing frames (BGR, for cv2.imwrite; 210x260 like PHOENIX), a few frames apart."""
    return [np.ascontiguousarray(rgb[..., ::-1]) for rgb in signing_frames(count=4, step=10)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """<parent>/out: tests check that nothing lands in <parent> outside out."""
    return tmp_path_factory.mktemp("pipeline") / "out"


@pytest.fixture(scope="module")
def processor(run_dir: Path) -> ClipProcessor:
    return ClipProcessor(EstimatorSpec(), run_dir)


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def synthetic_clip(folder: Path, count: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for i in range(count):
        write_png(folder / f"images{i + 1:04d}.png", rng.integers(0, 256, (26, 21, 3), dtype=np.uint8))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- a clip with broken frames among real ones ----------------------------------------------

NAMES = ["f1.png", "f2.png", "f3.png", "f5.png", "f8.png", "f10.png", "f12.png"]  # natural order
BROKEN = {"f2.png": "empty", "f5.png": "truncated", "f10.png": "text"}


@pytest.fixture(scope="module")
def mixed_clip(tmp_path_factory, real_frames) -> Path:
    folder = tmp_path_factory.mktemp("data") / "train" / "25October_2010_Monday_tagesschau-17"
    folder.mkdir(parents=True)
    good = iter(real_frames)
    for name in NAMES:
        kind = BROKEN.get(name)
        if kind is None:
            write_png(folder / name, next(good))
        elif kind == "empty":
            (folder / name).write_bytes(b"")
        elif kind == "truncated":
            ok, encoded = cv2.imencode(".png", real_frames[0])
            data = encoded.tobytes()
            (folder / name).write_bytes(data[: len(data) // 2])
        else:
            (folder / name).write_text("not an image at all\n")
    (folder / "run.lprof").write_bytes(b"stray profiler output")  # PHOENIX has one of these
    (folder / ".hidden.png").write_bytes(b"")
    return folder


def test_broken_frames_are_recorded_and_zero_filled(processor, run_dir, mixed_clip) -> None:
    clip = Clip("train", mixed_clip.name, mixed_clip, signer="Signer01", gloss="WETTER", translation="das wetter")
    result = processor(clip)
    assert result.status is ClipStatus.OK, result.error
    assert result.error is None
    assert result.frames == 7 and result.failed_frames == 3
    assert result.frame_names == tuple(NAMES)
    failures = {failure.frame: failure.error for failure in result.frame_failures}
    assert list(failures) == ["f2.png", "f5.png", "f10.png"]
    assert "empty file" in failures["f2.png"] and str(mixed_clip / "f2.png") in failures["f2.png"]
    assert "not a decodable image" in failures["f5.png"] and str(mixed_clip / "f5.png") in failures["f5.png"]
    assert "not a decodable image" in failures["f10.png"] and str(mixed_clip / "f10.png") in failures["f10.png"]
    assert (result.width, result.height) == (210, 260)
    assert result.fps == 25.0 and result.frame_rate == "25/1"
    assert (result.signer, result.gloss, result.translation) == ("Signer01", "WETTER", "das wetter")
    assert result.source == str(mixed_clip)

    assert result.pose_file == f"train/{mixed_clip.name}.pose"
    path = run_dir / result.pose_file
    assert hashlib.sha256(path.read_bytes()).hexdigest() == result.checksum
    keypoints = read_pose_file(path)
    assert keypoints.num_frames == 7
    assert (keypoints.width, keypoints.height, keypoints.fps) == (210, 260, 25.0)
    broken = [NAMES.index(name) for name in BROKEN]
    good = [i for i in range(7) if i not in broken]
    assert (keypoints.points[broken] == 0).all() and (keypoints.confidence[broken] == 0).all()
    assert not keypoints.present[broken].any()
    assert keypoints.part_present("pose")[good].all()
    assert result.detected["pose"] == 4 and result.detected["face"] == keypoints.present[:, 1].sum()

    # exactly what the estimator gives for these frames with gaps for the broken ones
    frames = [None if name in BROKEN else read_frame(mixed_clip / name) for name in NAMES]
    expected = processor.estimator.estimate_clip(frames, fps=25.0)
    assert path.read_bytes() == to_pose_bytes(expected)


def test_png_flavours_process_fine(processor, run_dir, real_frames, tmp_path) -> None:
    bgr = real_frames[1]
    folder = tmp_path / "flavours"
    write_png(folder / "1_gray.png", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    write_png(folder / "2_rgba.png", cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    write_png(folder / "3_deep.png", bgr.astype(np.uint16) * 257)
    assert cv2.imread(str(folder / "3_deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    result = processor(Clip("dev", "flavours", folder))
    assert result.status is ClipStatus.OK, result.error
    assert result.frames == 3 and result.failed_frames == 0 and result.frame_failures == ()
    assert result.frame_names == ("1_gray.png", "2_rgba.png", "3_deep.png")
    assert (result.width, result.height) == (210, 260)
    assert result.detected["pose"] == 3
    # RGBA and 16-bit frames reach the model as the original RGB pixels, gray as 3 equal channels
    gray = np.repeat(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[..., None], 3, axis=2)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    expected = processor.estimator.estimate_clip([gray, rgb, rgb], fps=25.0)
    assert (run_dir / result.pose_file).read_bytes() == to_pose_bytes(expected)


def test_fps_from_the_clip_is_kept_exactly(processor, run_dir, real_frames, tmp_path) -> None:
    folder = tmp_path / "ntsc"
    write_png(folder / "a.png", real_frames[0])
    result = processor(Clip("dev", "ntsc", folder, fps=30000 / 1001))
    assert result.status is ClipStatus.OK, result.error
    assert result.frame_rate == "30000/1001"
    assert result.fps == pytest.approx(30000 / 1001)


# -- clips that fail -------------------------------------------------------------------------


def test_empty_clip_folder_fails(processor, tmp_path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("no frames here")
    result = processor(Clip("train", "empty", folder))
    assert result.status is ClipStatus.FAILED
    assert "no image frames" in result.error and str(folder) in result.error
    assert result.pose_file is None and result.checksum is None


def test_missing_clip_folder_fails(processor, tmp_path) -> None:
    folder = tmp_path / "nowhere"
    result = processor(Clip("train", "nowhere", folder))
    assert result.status is ClipStatus.FAILED
    assert "frame folder not found" in result.error and str(folder) in result.error
    assert result.source == str(folder)


@pytest.mark.parametrize(("split", "clip_id"), [("train", "../evil"), ("train", "a/b"), ("train", "../../evil"), ("..", "evil"), ("train", "..")])
def test_unsafe_names_are_refused_and_nothing_is_written(processor, run_dir, tmp_path, split, clip_id) -> None:
    source = synthetic_clip(tmp_path / "src")
    parent = run_dir.parent
    before_parent = snapshot(parent)
    result = processor(Clip(split, clip_id, source))
    assert result.status is ClipStatus.FAILED
    assert "refusing" in result.error and repr(clip_id if "/" in clip_id or clip_id == ".." else split) in result.error
    assert result.pose_file is None
    assert snapshot(parent) == before_parent
    assert not list(parent.rglob("*evil*")) and not list(tmp_path.rglob("*.pose"))


def test_all_frames_broken_fails_without_a_pose_file(processor, run_dir, tmp_path) -> None:
    folder = tmp_path / "allbroken"
    folder.mkdir()
    (folder / "1.png").write_bytes(b"")
    (folder / "2.png").write_text("text")
    result = processor(Clip("test", "allbroken", folder))
    assert result.status is ClipStatus.FAILED
    assert "none of the 2 frames could be decoded" in result.error
    assert result.frames == 2 and result.failed_frames == 2
    assert [f.frame for f in result.frame_failures] == ["1.png", "2.png"]
    assert not (run_dir / "test" / "allbroken.pose").exists()


def test_an_unexpected_error_becomes_a_failed_record(run_dir, tmp_path) -> None:
    class Exploding(ToyEstimator):
        def estimate_clip(self, frames, fps):
            raise RuntimeError("graph exploded")

    processor = ClipProcessor(EstimatorSpec(), run_dir)
    processor._estimator = Exploding()
    result = processor(Clip("train", "boom", synthetic_clip(tmp_path / "boom")))
    assert result.status is ClipStatus.FAILED and result.error_kind is ErrorKind.INTERNAL
    assert result.error == "internal error: RuntimeError: graph exploded (traceback in logs/train/boom.txt)"
    traceback = (run_dir / "logs" / "train" / "boom.txt").read_text()
    assert traceback.startswith("Traceback (most recent call last):") and "in estimate_clip" in traceback
    assert traceback.rstrip().endswith("RuntimeError: graph exploded")


def test_bad_input_is_an_input_error_without_a_log(run_dir, tmp_path) -> None:
    result = ClipProcessor(EstimatorSpec(), run_dir)(Clip("train", "gone", tmp_path / "missing"))
    assert result.status is ClipStatus.FAILED and result.error_kind is ErrorKind.INPUT
    assert "frame folder not found" in result.error
    assert not (run_dir / "logs" / "train" / "gone.txt").exists()


# -- check_access ----------------------------------------------------------------------------


def test_check_access_names_the_missing_dataset_path(tmp_path) -> None:
    missing = tmp_path / "dataset" / "train" / "clip"
    with pytest.raises(OSError) as caught:
        check_access(missing, tmp_path / "out")
    assert str(missing) in str(caught.value) and "cannot read the dataset" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_check_access_passes_and_leaves_nothing(tmp_path) -> None:
    source = synthetic_clip(tmp_path / "clip")
    check_access(source, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_check_access_unwritable_output(tmp_path) -> None:
    source = synthetic_clip(tmp_path / "clip")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="cannot write into the output folder"):
        check_access(source, blocker / "out")


# -- pickling --------------------------------------------------------------------------------


def test_pickles_without_the_estimator_before_and_after_use(run_dir, real_frames, tmp_path) -> None:
    pytest.importorskip("mediapipe")
    options = EstimatorSpec.of("mediapipe", dict(min_detection_confidence=0.6))
    fresh = ClipProcessor(options, run_dir)
    before = pickle.dumps(fresh)
    assert b"Holistic" not in before and len(before) < 2000
    folder = tmp_path / "pickled"
    for i, bgr in enumerate(real_frames[:2]):
        write_png(folder / f"{i}.png", bgr)
    first = fresh(Clip("pickled", "a", folder))
    assert first.status is ClipStatus.OK and fresh._estimator is not None
    after = pickle.dumps(fresh)
    assert after == before  # the graph never travels
    copy = pickle.loads(after)
    assert copy._estimator is None and copy.spec == options and copy.out_dir == run_dir
    second = copy(Clip("pickled", "b", folder))
    assert second.status is ClipStatus.OK
    assert second.checksum == first.checksum  # same frames, another graph: same bytes


def test_frame_limits_reach_the_sources(tmp_path) -> None:
    from signpose.sources import FrameLimits

    source = synthetic_clip(tmp_path / "clip")
    first = sorted(source.iterdir())[0]
    processor = ClipProcessor(EstimatorSpec("tests.estimators.toy:ToyEstimator"), tmp_path / "run", FrameLimits(max_bytes=first.stat().st_size - 1))
    result = processor(Clip("train", "limited", source))
    assert result.failed_frames >= 1 and "not read" in result.frame_failures[0].error
    assert result.input_fingerprint  # the inputs it saw, for the next resume


def test_a_clip_prepared_ahead_gives_the_same_record_and_bytes(run_dir, mixed_clip, tmp_path) -> None:
    """Told of its next clips early (listing and first frames on a helper thread), a
    processor records exactly what it records without being told, failures included."""
    synthetic = synthetic_clip(tmp_path / "train" / "synthetic", count=5)
    clips = [
        Clip("train", mixed_clip.name, mixed_clip, signer="Signer01"),
        Clip("train", "synthetic", synthetic),
        Clip("train", "nowhere", tmp_path / "nowhere"),
        Clip("train", "../evil", synthetic),
    ]
    told, untold = ClipProcessor(EstimatorSpec(), tmp_path / "told"), ClipProcessor(EstimatorSpec(), tmp_path / "untold")
    told.start()  # as a worker does when it starts
    told.prepare(clips[0])
    results = []
    for clip, following in zip(clips, [*clips[1:], None]):
        if following is not None:
            told.prepare(following)  # the next one is read while this one runs
        results.append(told(clip))
    assert results == [untold(clip) for clip in clips]
    assert [r.status for r in results] == [ClipStatus.OK, ClipStatus.OK, ClipStatus.FAILED, ClipStatus.FAILED]
    assert snapshot(tmp_path / "told") == snapshot(tmp_path / "untold")


def _wait_prepared(processor: ClipProcessor) -> None:
    for future in list(processor._prepared.values()):
        future.exception(timeout=60)  # done, however it ended


def test_an_estimator_that_batches_across_clips_gets_the_clips_decoded_ahead(tmp_path) -> None:
    """The clips a worker was told of, decoded whole, go into one batch with the current
    clip; each is still recorded by its own call, with what a one-by-one run records."""
    clips = [Clip("train", f"c{n}", synthetic_clip(tmp_path / "data" / f"c{n}", count=3 + n)) for n in range(4)]
    spec = EstimatorSpec("tests.estimators.toy:BatchingToyEstimator")
    batched, alone = ClipProcessor(spec, tmp_path / "batched"), ClipProcessor(spec, tmp_path / "alone")
    assert batched.items_ahead == 3
    batched.start()
    for clip in clips:
        batched.prepare(clip)
    _wait_prepared(batched)
    results = [batched(clip) for clip in clips]
    assert batched.estimator.batches == [4]  # one batch: the first clip and the three decoded ahead
    assert results == [alone(clip) for clip in clips]
    assert alone.estimator.batches == [1, 1, 1, 1]
    assert snapshot(tmp_path / "batched") == snapshot(tmp_path / "alone")


def test_a_batch_that_fails_costs_the_current_clip_nothing(tmp_path) -> None:
    """A batch fails because of one of its clips: the current clip is estimated alone and
    recorded; the culprit fails on its own call, with its traceback."""
    good = synthetic_clip(tmp_path / "data" / "good", count=2)
    bad = tmp_path / "data" / "bad"
    rng = np.random.default_rng(1)
    write_png(bad / "images0001.png", rng.integers(0, 256, (20, 13, 3), dtype=np.uint8))  # 13 wide: poison
    processor = ClipProcessor(EstimatorSpec("tests.estimators.toy:BatchingToyEstimator"), tmp_path / "out")
    first, second = Clip("train", "good", good), Clip("train", "bad", bad)
    processor.prepare(first)
    processor.prepare(second)
    _wait_prepared(processor)
    assert processor(first).status is ClipStatus.OK
    failed = processor(second)
    assert failed.status is ClipStatus.FAILED and failed.error_kind is ErrorKind.INTERNAL
    assert "13 pixels wide" in failed.error
    assert processor.estimator.batches == [2, 1, 1]  # the pair, the good one alone, the bad one alone


@pytest.mark.parametrize("decode_clips", [1, 2])
def test_clips_told_of_are_decoded_as_many_at_once_as_the_estimator_asks(tmp_path, monkeypatch, decode_clips) -> None:
    """An estimator's ``decode_clips`` (the torch one on a GPU: 4, as a video clip decodes on
    one core) is how many clips told of ahead are opened and decoded at the same time; the
    records are the same either way."""
    import threading
    import time

    import signpose.extract.worker as pipeline

    active, most, opened, changed = [0], [0], [0], threading.Condition()
    real_open = pipeline.open_frames

    def slow_open(*args, **kwargs):
        with changed:
            active[0] += 1
            opened[0] += 1
            most[0] = max(most[0], active[0])
            changed.notify_all()
            if opened[0] <= decode_clips:  # the first ones wait for each other (a minute at most):
                changed.wait_for(lambda: active[0] >= decode_clips, timeout=60)  # however slow a thread start
        time.sleep(0.3)  # long enough for one more helper thread to start, if there is one
        try:
            return real_open(*args, **kwargs)
        finally:
            with changed:
                active[0] -= 1

    monkeypatch.setattr(pipeline, "open_frames", slow_open)
    clips = [Clip("train", f"c{n}", synthetic_clip(tmp_path / "data" / f"c{n}", count=2)) for n in range(4)]
    processor = ClipProcessor(EstimatorSpec("tests.estimators.toy:BatchingToyEstimator"), tmp_path / "out")
    processor.estimator.hints = replace(processor.estimator.hints, decode_clips=decode_clips)
    for clip in clips:
        processor.prepare(clip)
    _wait_prepared(processor)
    assert most[0] == decode_clips
    results = [processor(clip) for clip in clips]
    assert [r.status for r in results] == [ClipStatus.OK] * 4
    assert results == [ClipProcessor(EstimatorSpec("tests.estimators.toy:BatchingToyEstimator"), tmp_path / "alone")(clip) for clip in clips]
