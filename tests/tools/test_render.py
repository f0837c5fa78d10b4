"""Rendering a clip's keypoints: mp4 / gif / png outputs, blank canvas, absent parts, errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from signpose.cli.main import main
from signpose.model.keypoints import ClipKeypoints
from signpose.formats.pose import to_pose_bytes
from signpose.tools.render import BLANK, RenderError, find_clip, render_clip
from signpose.run.record import ClipResult, ClipStatus
from signpose.run.store import RunStore

from tests.runs_builder import PARTS, append_records, holistic
from tests.testdata import testdata  # tests/data, else ../shared/testdata

WIDTH, HEIGHT = 95, 63  # odd on purpose: the mp4 writer must pad to even
# Which parts each synthetic frame has (pose, face, left hand, right hand).
PRESENT = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 1]], bool)


def make_video(path: Path, frames: int, rate: Fraction) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = WIDTH + 1, HEIGHT + 1, "yuv420p"
        for i in range(frames):
            image = np.full((HEIGHT + 1, WIDTH + 1, 3), 100 + 40 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


def synthetic_keypoints() -> ClipKeypoints:
    """Body in the middle, left hand on the left, right hand on the right (image coords)."""
    layout = holistic()
    slices = layout.slices
    rng = np.random.default_rng(1)
    frames = len(PRESENT)
    points = np.zeros((frames, layout.total, 3), np.float32)
    confidence = np.zeros(points.shape[:2], np.float32)
    centres = {"pose": (0.5, 0.55, 0.2), "face": (0.5, 0.25, 0.1), "left_hand": (0.15, 0.7, 0.08), "right_hand": (0.85, 0.7, 0.08)}
    for column, part in enumerate(PARTS):
        x, y, spread = centres[part]
        n = slices[part].stop - slices[part].start
        for frame in np.flatnonzero(PRESENT[:, column]):
            points[frame, slices[part], 0] = x + rng.uniform(-spread, spread, n)
            points[frame, slices[part], 1] = y + rng.uniform(-spread, spread, n)
            confidence[frame, slices[part]] = 1.0
    return ClipKeypoints(points, confidence, PRESENT.copy(), WIDTH, HEIGHT, 30000 / 1001, layout)


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """A run with the same clip id in two splits (video / frame folder) and a failed clip."""
    data = tmp_path / "data"
    data.mkdir()
    make_video(data / "clip.mp4", len(PRESENT), Fraction(30000, 1001))
    frames = data / "clip_frames"
    frames.mkdir()
    for i in range(len(PRESENT)):
        Image.fromarray(np.full((HEIGHT, WIDTH, 3), 200, np.uint8)).save(frames / f"{i:04d}.png")
    (frames / "0002.png").write_bytes(b"broken")
    store = RunStore(tmp_path / "run")
    store.prepare(overwrite=False)
    keypoints = synthetic_keypoints()
    counts = {part: int(PRESENT[:, i].sum()) for i, part in enumerate(PARTS)}
    for split, source, names in [
        ("videos", data / "clip.mp4", tuple(f"{i:06d}" for i in range(len(PRESENT)))),
        ("folders", frames, tuple(f"{i:04d}.png" for i in range(len(PRESENT)))),
    ]:
        pose_file, checksum = store.write_pose(split, "clip", to_pose_bytes(keypoints))
        append_records(store, ClipResult(split, "clip", ClipStatus.OK, str(source), frames=len(PRESENT), detected=counts,
                                         pose_file=pose_file, checksum=checksum, frame_names=names, width=WIDTH, height=HEIGHT,
                                         fps=30000 / 1001, frame_rate="30000/1001"))
    append_records(store, ClipResult("videos", "bad", ClipStatus.FAILED, str(data / "bad.mp4"), error="bad.mp4: not a readable video"))
    store.finalize([("videos", "clip"), ("videos", "bad"), ("folders", "clip")])
    return store.root


def tiles(sheet: np.ndarray, count: int) -> list[np.ndarray]:
    """The frames of a contact sheet of unscaled WIDTH x HEIGHT tiles (4 px gaps)."""
    columns = int(np.ceil(np.sqrt(count)))
    return [sheet[4 + (i // columns) * (HEIGHT + 4) :][:HEIGHT, 4 + (i % columns) * (WIDTH + 4) :][:, :WIDTH] for i in range(count)]


def hand_pixels(tile: np.ndarray) -> tuple[int, int]:
    """Pixels coloured like the left hand (orange) and like the right hand (blue)."""
    red, blue = tile[..., 0].astype(int), tile[..., 2].astype(int)
    return int((red > blue + 80).sum()), int((blue > red + 80).sum())


def test_absent_parts_are_not_drawn(run: Path, tmp_path: Path) -> None:
    summary = render_clip(run, "videos", "clip", tmp_path / "sheet.png", no_video=True, frames=len(PRESENT))
    assert (summary.frames, summary.kind) == (len(PRESENT), "png")
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert sheet.shape == (summary.height, summary.width, 3)
    found = [hand_pixels(tile) for tile in tiles(sheet, len(PRESENT))]
    for (left, right), present in zip(found, PRESENT):
        assert (left > 0, right > 0) == (bool(present[2]), bool(present[3]))
    empty = tiles(sheet, len(PRESENT))[2][20:]  # below the frame label
    assert (empty == BLANK).all()  # nothing detected: nothing drawn, not even at (0, 0)


def test_mp4_output(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    summary = render_clip(run, "videos", "clip", out)
    assert (summary.frames, summary.width, summary.height) == (len(PRESENT), WIDTH + 1, HEIGHT + 1)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        assert stream.average_rate == Fraction(30000, 1001)
    assert len(frames) == len(PRESENT) and frames[0].shape == (HEIGHT + 1, WIDTH + 1, 3)
    # Drawn over the source video (grey 100, 140, ...), not over a blank canvas.
    assert abs(float(np.median(frames[2])) - 180) < 8


def test_gif_output_and_blank_canvas(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.gif"
    render_clip(run, "videos", "clip", out, no_video=True)
    with Image.open(out) as gif:
        assert (gif.n_frames, gif.size) == (len(PRESENT), (WIDTH, HEIGHT))
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
            if index == 2:
                assert np.median(np.asarray(gif.convert("RGB"))) == BLANK[0]
    assert abs(sum(durations) - len(PRESENT) * 1001 / 30) <= 10


def test_frame_folder_source_and_broken_frame(run: Path, tmp_path: Path) -> None:
    summary = render_clip(run, "folders", "clip", tmp_path / "f.png", frames=len(PRESENT))
    assert summary.split == "folders"
    sheet = np.asarray(Image.open(tmp_path / "f.png").convert("RGB"))
    parts = tiles(sheet, len(PRESENT))
    assert np.median(parts[0]) == 200  # the frame image itself
    assert (parts[2][20:] == BLANK).all()  # its frame file is broken: blank canvas


def test_contact_sheet_spreads_frames(run: Path, tmp_path: Path) -> None:
    assert render_clip(run, "videos", "clip", tmp_path / "two.png", frames=2).frames == 2
    assert render_clip(run, "videos", "clip", tmp_path / "all.png", frames=50).frames == len(PRESENT)


def test_errors_name_the_clip(run: Path, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"no clip 'videos/nope' in the run; some available clips: videos/clip, folders/clip"):
        render_clip(run, "videos", "nope", tmp_path / "x.png")
    with pytest.raises(RenderError, match=r"no clip 'clap' in the run; similar clips: videos/clip, folders/clip"):
        find_clip(run, "clap")
    with pytest.raises(RenderError, match="clip videos/bad failed, nothing to draw: bad.mp4: not a readable video"):
        render_clip(run, "videos", "bad", tmp_path / "x.png")
    with pytest.raises(RenderError, match=r"in several splits \(videos, folders\)"):
        find_clip(run, "clip")
    assert find_clip(run, "folders/clip").split == "folders"
    with pytest.raises(RenderError, match=r"clip 'clip' is not in split 'nope'; it is in: videos, folders"):
        find_clip(run, "nope/clip")
    with pytest.raises(RenderError, match="unknown output type '.avi'"):
        render_clip(run, "videos", "clip", tmp_path / "x.avi")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RenderError, match="not a signpose run folder .* and holds no .pose files"):
        render_clip(tmp_path / "empty", "videos", "clip", tmp_path / "x.png")
    (tmp_path / "data" / "clip.mp4").unlink()
    with pytest.raises(RenderError, match="source is gone; render on a blank canvas with --no-video"):
        render_clip(run, "videos", "clip", tmp_path / "x.png")
    assert render_clip(run, "videos", "clip", tmp_path / "x.png", no_video=True).frames == len(PRESENT)
    assert not list(tmp_path.glob(".x.png.partial*"))


def test_cli(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(run), "videos/clip", "-o", str(tmp_path / "c.gif")]) == 0
    assert "4 frames of videos/clip" in capsys.readouterr().err
    assert main(["render", str(run), "clip", "--split", "folders", "-o", str(tmp_path / "c.png"), "--frames", "2"]) == 0
    assert main(["render", str(run), "clip", "-o", str(tmp_path / "c.png")]) == 2
    assert "--split" in capsys.readouterr().err
    assert main(["render", str(run), "videos/clip", "-o", str(tmp_path / "c.png"), "--frames", "0"]) == 2


@pytest.mark.slow  # real MediaPipe in a worker process
def test_real_clip(tmp_path: Path) -> None:
    video = testdata("signing", "slp_site_asl_different.mp4")
    pytest.importorskip("mediapipe")  # its video mode
    from signpose.backends import make_backend
    from signpose.datasets import open_dataset
    from signpose.estimators import EstimatorSpec
    from signpose.extract.driver import extract

    manifest = tmp_path / "list.csv"
    manifest.write_text(f"path,split,clip_id\n{video},all,different\n", encoding="utf-8")
    run = tmp_path / "run"
    summary = extract(open_dataset(manifest), run, EstimatorSpec.of("mediapipe", dict(mode="video")), make_backend("local", 1))
    assert not summary.failed
    record = find_clip(run, "different")
    assert record.frames == 64 and record.frame_rate == "30000/1001"
    assert record.detected["left_hand"] + record.detected["right_hand"] > 0
    out = render_clip(run, "all", "different", tmp_path / "d.mp4")
    with av.open(str(out.out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 64
        assert (container.streams.video[0].width, container.streams.video[0].height) == (320, 240)
    sheet = render_clip(run, "all", "different", tmp_path / "d.png")
    assert sheet.frames == 12 and Image.open(sheet.out).size == (sheet.width, sheet.height)


def test_a_folder_of_pose_files_renders_on_a_blank_canvas(run: Path, tmp_path: Path) -> None:
    """A folder of .pose files without an index (pose-format's output): frames have no
    names or sources, so the canvas is blank and frames are numbered."""
    folder = tmp_path / "poses"
    (folder / "videos").mkdir(parents=True)
    (folder / "videos" / "clip.pose").write_bytes((run / "videos" / "clip.pose").read_bytes())
    summary = render_clip(folder, None, "clip", tmp_path / "sheet.png", frames=len(PRESENT))
    assert (summary.split, summary.clip_id, summary.frames) == ("videos", "clip", len(PRESENT))
    found = [hand_pixels(tile) for tile in tiles(np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB")), len(PRESENT))]
    assert [(left > 0, right > 0) for left, right in found] == [(bool(p[2]), bool(p[3])) for p in PRESENT]
