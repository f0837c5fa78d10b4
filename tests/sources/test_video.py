"""Video decoding (PyAV): exact frame counts, exact frame rates, presentation order, clear
errors for broken files, and a real end-to-end extraction of video clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType
import numpy as np
import pytest

from signpose.model.clip import Clip
from signpose.errors import ClipError
from signpose.sources import open_frames
from signpose.sources.video import VideoError, iter_rgb_frames, open_video_frames

from tests.testdata import testdata  # tests/data, else ../shared/testdata

NTSC = Fraction(30000, 1001)


def level(index: int) -> int:
    return 10 + 18 * index


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except av.codec.codec.UnknownCodecError:
        return False


def make_video(path: Path, codec: str, rate: Fraction | int, frames: int, size=(64, 48), options=None, pts=None) -> Path:
    """Frame i is flat grey at level(i), with a white square whose x position is i: both
    order and identity of every frame can be read back, through lossy codecs too."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if options:
            stream.options = options
        for i in range(frames):
            image = np.full((size[1], size[0], 3), level(i) % 256, np.uint8)  # levels wrap past frame 13
            image[4:12, 4 + 4 * i : 12 + 4 * i] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def frame_levels(images) -> list[int]:
    """Which frame each decoded image is (nearest level of its lower half)."""
    return [int(np.argmin([abs(float(image[24:].mean()) - level(k)) for k in range(14)])) for image in images]


CASES = [
    ("h264.mp4", "libx264", NTSC, {"bf": "3"}),
    ("mpeg4.mp4", "mpeg4", Fraction(25), None),
    ("h264.mkv", "libx264", NTSC, None),
    ("vp9.webm", "libvpx-vp9", NTSC, None),
    ("vp8.webm", "libvpx", Fraction(25), {"auto-alt-ref": "1", "lag-in-frames": "8"}),
    ("h264.MOV", "libx264", Fraction(25), None),
    ("mpeg4.avi", "mpeg4", NTSC, None),
]


@pytest.mark.parametrize(("name", "codec", "rate", "options"), CASES, ids=[case[0] for case in CASES])
def test_counts_rates_and_order(tmp_path: Path, name: str, codec: str, rate: Fraction, options) -> None:
    if not has_encoder(codec):
        pytest.skip(f"this PyAV build has no {codec} encoder, cannot make a {name} to read")
    path = make_video(tmp_path / name, codec, rate, 12, options=options)
    source = open_video_frames(Clip("all", "c", path, kind="video"))
    assert source.frame_rate == f"{rate.numerator}/{rate.denominator}"
    assert source.fps == float(rate)
    frames = list(source.frames)
    assert [frame.name for frame in frames] == [f"{i:06d}" for i in range(12)]
    assert all(frame.error is None and frame.image.dtype == np.uint8 and frame.image.shape == (48, 64, 3) for frame in frames)
    assert frame_levels(frame.image for frame in frames) == list(range(12))


def test_b_frames_come_out_in_presentation_order(tmp_path: Path) -> None:
    path = make_video(tmp_path / "b.mp4", "libx264", NTSC, 12, options={"bf": "3"})
    with av.open(str(path)) as container:
        types = [PictureType(frame.pict_type) for frame in container.decode(video=0)]
    assert PictureType.B in types  # the stream really is reordered between decode and display
    assert frame_levels(iter_rgb_frames(path)) == list(range(12))


def test_variable_frame_rate_keeps_every_frame(tmp_path: Path) -> None:
    pts = [0, 33, 100, 110, 300, 333, 500, 700]  # milliseconds, irregular
    path = make_video(tmp_path / "vfr.mkv", "libx264", Fraction(30), len(pts), pts=pts)
    source = open_video_frames(Clip("all", "vfr", path, kind="video"))
    with av.open(str(path)) as container:
        average = Fraction(container.streams.video[0].average_rate)
    assert source.fps == float(average) and source.frame_rate == f"{average.numerator}/{average.denominator}"
    frames = list(source.frames)
    assert [frame.name for frame in frames] == [f"{i:06d}" for i in range(len(pts))]
    assert frame_levels(frame.image for frame in frames) == list(range(len(pts)))
    assert frame_levels(iter_rgb_frames(path, len(pts))) == list(range(len(pts)))


def test_decoding_is_deterministic(tmp_path: Path) -> None:
    path = make_video(tmp_path / "d.mp4", "libx264", NTSC, 10, size=(96, 64))
    first = [image.tobytes() for image in iter_rgb_frames(path)]
    second = [frame.image.tobytes() for frame in open_frames(Clip("all", "d", path, kind="video")).frames]
    assert first == second


def test_frames_stream_without_holding_the_clip(tmp_path: Path) -> None:
    path = make_video(tmp_path / "long.mkv", "libx264", Fraction(25), 60, size=(320, 240))
    frame_bytes = 320 * 240 * 3
    source = open_video_frames(Clip("all", "long", path, kind="video"))
    tracemalloc.start()
    try:
        count = sum(1 for _ in source.frames)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60
    assert peak < 6 * frame_bytes  # a few frames at a time, not 60


def broken_files(folder: Path) -> dict[str, Path]:
    good = make_video(folder / "good.mp4", "libx264", Fraction(25), 8)
    files = {
        "random": folder / "random.mp4",
        "empty": folder / "empty.mp4",
        "truncated": folder / "truncated.mp4",
        "missing": folder / "missing.mp4",
    }
    files["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return files


def test_unreadable_files_raise_clip_errors_naming_the_file(tmp_path: Path) -> None:
    files = broken_files(tmp_path)
    files["audio"] = tmp_path / "audio.mkv"
    with av.open(str(files["audio"]), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    expected = {
        "random": "not a readable video",
        "empty": r"empty file \(0 bytes\)",
        "truncated": "truncated or damaged video file",
        "missing": "video file not found",
        "audio": "no video stream",
    }
    for key, path in files.items():
        with pytest.raises(VideoError, match=expected[key]) as info:
            open_video_frames(Clip("all", key, path, kind="video"))
        assert str(path) in str(info.value)
        assert isinstance(info.value, ClipError)


def test_corrupt_frame_mid_stream_names_file_and_frame(tmp_path: Path) -> None:
    # FFV1 checks every frame (CRC), so a damaged packet is an error, not a concealed picture.
    path = make_video(tmp_path / "lossless.mkv", "ffv1", Fraction(25), 10)
    with av.open(str(path)) as container:
        packets = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]
    data = bytearray(path.read_bytes())
    position, size = packets[5]
    data[position + 4 : position + size] = b"\xff" * (size - 4)
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=r"decoding failed at frame 5") as info:
        list(open_video_frames(Clip("all", "lossless", path, kind="video")).frames)
    assert str(path) in str(info.value)


def cut(source: Path, target: Path, start: int, count: int) -> None:
    """Frames [start, start+count) of ``source``, re-encoded losslessly at its exact rate."""
    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        stream = reader.streams.video[0]
        codec = "ffv1" if target.suffix == ".mkv" else "libx264"
        out = writer.add_stream(codec, rate=stream.average_rate)
        out.width, out.height, out.pix_fmt = stream.width, stream.height, "yuv420p"
        if codec == "libx264":
            out.options = {"qp": "0"}
        for index, frame in enumerate(reader.decode(stream)):
            if index >= start + count:
                break
            if index >= start:
                writer.mux(out.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")))
        writer.mux(out.encode(None))


def run_bytes(run: Path) -> dict[str, bytes]:
    names = ["index.jsonl", "stats.json", *(str(p.relative_to(run)) for p in sorted(run.glob("*/*.pose")))]
    return {name: (run / name).read_bytes() for name in names}


@pytest.mark.slow  # the real estimator in a signpose process and in workers
def test_end_to_end_video_dataset(tmp_path: Path) -> None:
    signing = testdata("signing")
    from pose_format import Pose

    from signpose.backends import make_backend
    from signpose.datasets import open_dataset
    from signpose.estimators import EstimatorSpec
    from signpose.extract.driver import extract

    data = tmp_path / "videos"
    (data / "train").mkdir(parents=True)
    (data / "test").mkdir()
    cut(signing / "slp_site_asl_different.mp4", data / "train" / "different.mp4", 30, 8)  # 30000/1001, hands up
    cut(signing / "slp_site_asl_house.mp4", data / "train" / "house.mkv", 20, 8)  # 25
    cut(signing / "slp_pose_test_video.mp4", data / "test" / "pose.mp4", 20, 8)  # 359/12
    broken_files(data / "test")
    (data / "test" / "good.mp4").unlink()

    dataset = open_dataset(data)
    assert dataset.layout == "video"
    one = extract(dataset, tmp_path / "one", EstimatorSpec.of("litert"), make_backend("local", 1))
    command = [sys.executable, "-m", "signpose", "extract", str(data), "-o", str(tmp_path / "two"), "--workers", "2", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert done.returncode == 1, done.stderr  # the broken files failed; the run went on
    assert "FAILED test/random" in done.stderr and "FAILED test/empty" in done.stderr

    assert run_bytes(tmp_path / "one") == run_bytes(tmp_path / "two")
    records = {r["clip_id"]: r for r in map(json.loads, (tmp_path / "one" / "index.jsonl").read_text().splitlines())}
    assert [(r["split"], r["clip_id"], r["status"]) for r in records.values()] == [
        ("train", "different", "ok"), ("train", "house", "ok"),
        ("test", "empty", "failed"), ("test", "pose", "ok"),
        ("test", "random", "failed"), ("test", "truncated", "failed"),
    ]
    assert {k: records[k]["frame_rate"] for k in ("different", "house", "pose")} == {
        "different": "30000/1001", "house": "25/1", "pose": "359/12"}
    assert all(records[k]["frames"] == 8 and len(records[k]["frame_names"]) == 8 for k in ("different", "house", "pose"))
    for key in ("random", "empty", "truncated"):
        assert f"{key}.mp4" in records[key]["error"]
    assert records["different"]["detected"]["pose"] == 8
    assert records["different"]["detected"]["left_hand"] + records["different"]["detected"]["right_hand"] > 0
    assert len(one.failed) == 3

    pose = Pose.read((tmp_path / "one" / "train" / "different.pose").read_bytes())
    assert pose.body.data.shape[0] == 8
    assert pose.body.fps == pytest.approx(30000 / 1001, abs=1e-3)
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (320, 240)


# -- file kinds, frame size, rotation, truncation (issue #9, item 7) -----------------------


def test_fifo_named_like_a_video_is_refused_without_blocking(tmp_path: Path) -> None:
    from tests.fifo_helpers import finishes

    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    with pytest.raises(VideoError) as caught:
        finishes(lambda: open_video_frames(Clip("all", "clip", fifo, kind="video")), fifo)
    assert str(fifo) in str(caught.value) and "FIFO" in str(caught.value) and "not a regular file" in str(caught.value)
    with pytest.raises(VideoError, match="not a regular file"):
        finishes(lambda: list(iter_rgb_frames(fifo)), fifo)


def test_video_frame_of_another_size_than_the_first_is_a_failed_frame(tmp_path: Path) -> None:
    # MPEG-TS streams concatenate: the decoder meets a new size mid-stream, as in a
    # stream spliced from two recordings.
    landscape = make_video(tmp_path / "a.ts", "libx264", Fraction(25), 4, size=(64, 48))
    portrait = make_video(tmp_path / "b.ts", "libx264", Fraction(25), 3, size=(48, 64))
    path = tmp_path / "spliced.ts"
    path.write_bytes(landscape.read_bytes() + portrait.read_bytes())
    frames = list(open_video_frames(Clip("all", "spliced", path, kind="video")).frames)
    assert [frame.name for frame in frames] == [f"{i:06d}" for i in range(7)]
    assert all(frame.error is None and frame.image.shape == (48, 64, 3) for frame in frames[:4])
    for frame in frames[4:]:
        assert frame.image is None
        assert frame.error == f"{path}: frame {frame.name} is 48×64, the clip's first frame is 64×48"


def test_video_declaring_too_many_pixels_is_not_decoded(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", "libx264", Fraction(25), 2, size=(64, 48))
    assert len(list(open_video_frames(Clip("all", "v", path, kind="video"), max_pixels=64 * 48).frames)) == 2
    with pytest.raises(VideoError) as caught:
        open_video_frames(Clip("all", "v", path, kind="video"), max_pixels=64 * 48 - 1)
    assert str(path) in str(caught.value) and "64×48" in str(caught.value) and "not decoded" in str(caught.value)


@pytest.mark.parametrize(("counter_clockwise", "clockwise"), [(-90, 90), (90, 270), (180, 180)])
def test_display_matrix_rotation_is_applied_and_recorded(tmp_path: Path, counter_clockwise: int, clockwise: int) -> None:
    """A phone video stores landscape pictures and a display matrix that turns them; every
    player shows them turned, so the keypoints must be of the turned frames."""
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if not hasattr(stream, "set_display_rotation"):
            pytest.skip(f"PyAV {av.__version__} cannot write a display matrix")
        stream.set_display_rotation(counter_clockwise)
        for i in range(3):
            image = np.full((48, 64, 3), level(i), np.uint8)
            image[:16, :16] = 255  # a white square in the stored picture's top-left corner
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        stored = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert all(image.shape == (48, 64, 3) for image in stored)

    source = open_video_frames(Clip("all", "phone", path, kind="video"))
    assert source.rotation == clockwise
    frames = [frame.image for frame in source.frames]
    assert len(frames) == 3
    for shown, raw in zip(frames, stored):
        assert np.array_equal(shown, np.rot90(raw, k=-clockwise // 90))
        assert shown.flags["C_CONTIGUOUS"]
    corner = {90: (slice(0, 16), slice(-16, None)), 180: (slice(-16, None), slice(-16, None)), 270: (slice(-16, None), slice(0, 16))}
    assert frames[0][corner[clockwise]].mean() > 200  # the square is where a player shows it
    expected_shape = (64, 48, 3) if clockwise in (90, 270) else (48, 64, 3)
    assert frames[0].shape == expected_shape
    assert [image.tobytes() for image in iter_rgb_frames(path)] == [image.tobytes() for image in frames]  # render sees the same


def test_unrotated_video_records_no_rotation(tmp_path: Path) -> None:
    path = make_video(tmp_path / "plain.mp4", "libx264", Fraction(25), 2)
    assert open_video_frames(Clip("all", "plain", path, kind="video")).rotation == 0


@pytest.mark.parametrize("name", ["slp_site_asl_different.mp4", "slp_site_asl_house.mp4"])
@pytest.mark.parametrize("kept", [0.5, 0.97])
def test_truncated_real_mp4_is_named_truncated(tmp_path: Path, name: str, kept: float) -> None:
    """A real mp4 cut short (an interrupted copy). The index at the end (different) or the
    front (house, whose cut copy would otherwise lose its last frames without a word)."""
    data = testdata("signing", name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: int(len(data) * kept)])
    with pytest.raises(VideoError) as caught:
        list(open_video_frames(Clip("all", "cut", path, kind="video")).frames)
    message = str(caught.value)
    assert str(path) in message and "truncated" in message, message
    assert f"file ends at byte {int(len(data) * kept)}" in message, message


def test_the_rotation_reaches_the_index_record(tmp_path: Path) -> None:
    from signpose.estimators import EstimatorSpec
    from signpose.extract.worker import ClipProcessor

    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if not hasattr(stream, "set_display_rotation"):
            pytest.skip(f"PyAV {av.__version__} cannot write a display matrix")
        stream.set_display_rotation(-90)
        for i in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), level(i), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    result = ClipProcessor(EstimatorSpec("tests.estimators.toy:ToyEstimator"), tmp_path / "run")(Clip("all", "phone", path, kind="video"))
    assert result.error is None and result.rotation == 90
    assert (result.width, result.height) == (48, 64)  # the upright frame's size
