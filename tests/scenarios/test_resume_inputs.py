"""A resume checks its inputs: a run folder made from another dataset root or layout is
refused; a done clip whose frames or video changed since (its input fingerprint differs)
is done again, and the summary says how many; and the run folder itself is never listed
as part of the dataset, even when it lies inside it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from signpose.backends.local import LocalBackend
from tests.testdata import testdata
from signpose.model.clip import Clip, Dataset
from signpose.datasets import open_dataset
from signpose.errors import StoreError
from signpose.sources.fingerprint import input_fingerprint
from signpose.extract.driver import extract
from tests.estimators.test_seam import TOY
from tests.toy_cli import make_toy_dataset, toy_signpose


def _records(run: Path) -> dict[str, dict]:
    return {r["clip_id"]: r for r in map(json.loads, (run / "index.jsonl").read_text().splitlines())}


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("signpose: error: "), result.stderr[-3000:]
    return lines[0]


def test_resuming_from_another_dataset_root_is_refused(tmp_path: Path) -> None:
    first = make_toy_dataset(tmp_path / "first")
    other = make_toy_dataset(tmp_path / "other")
    run = tmp_path / "run"
    assert toy_signpose("extract", first, "-o", run, "--quiet").returncode == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    line = _one_error_line(toy_signpose("extract", other, "-o", run, "--quiet"))
    assert f"{run}: holds a run of {first} (layout folder), not of {other} (layout folder); use --overwrite or another folder" in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert toy_signpose("extract", other, "-o", run, "--quiet", "--overwrite").returncode == 0
    assert json.loads((run / "run.json").read_text())["dataset_root"] == str(other)


def test_resuming_with_another_layout_is_refused(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data")
    run = tmp_path / "run"
    extract(open_dataset(data), run, TOY, LocalBackend(1))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(info | {"layout": "video"}))  # as if read as videos
    with pytest.raises(StoreError, match=r"holds a run of .* \(layout video\), not of .* \(layout folder\); use --overwrite"):
        extract(open_dataset(data), run, TOY, LocalBackend(1))


def test_done_clips_whose_inputs_changed_are_redone_and_counted(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=4)
    run = tmp_path / "run"
    assert toy_signpose("extract", data, "-o", run, "--quiet").returncode == 0
    before = _records(run)
    assert all(r["input_fingerprint"] for r in before.values())
    mtimes = {clip: (run / r["pose_file"]).stat().st_mtime_ns for clip, r in before.items()}
    # clip0: a frame rewritten with other pixels; clip1: a frame added; clip2: a frame touched
    frame = data / "train" / "clip0" / "0001.png"
    Image.fromarray(np.full((24, 32, 3), 250, np.uint8)).save(frame)
    shutil.copy(data / "train" / "clip1" / "0003.png", data / "train" / "clip1" / "0004.png")
    touched = data / "train" / "clip2" / "0000.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))

    resumed = toy_signpose("extract", data, "-o", run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "(1 already done, 3 processed)" in resumed.stderr
    assert "3 clips changed since the last run: redone" in resumed.stderr
    after = _records(run)
    assert after["clip0"]["checksum"] != before["clip0"]["checksum"]
    assert after["clip1"]["frames"] == 5
    assert (run / after["clip3"]["pose_file"]).stat().st_mtime_ns == mtimes["clip3"]  # unchanged: kept
    assert all(after[c]["input_fingerprint"] != before[c]["input_fingerprint"] for c in ("clip0", "clip1", "clip2"))
    assert json.loads((run / "run.json").read_text())["clips_changed"] == 3
    again = toy_signpose("extract", data, "-o", run, "--quiet")
    assert "(4 already done, 0 processed)" in again.stderr and "changed" not in again.stderr


def test_input_fingerprint_of_frames_and_videos(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=1)
    folder = data / "train" / "clip0"
    clip = Clip("train", "clip0", folder)
    first = input_fingerprint(clip)
    assert first and first == input_fingerprint(clip)
    (folder / "notes.txt").write_text("not a frame")  # only image files count
    assert input_fingerprint(clip) == first
    (folder / "0000.png").write_bytes((folder / "0000.png").read_bytes() + b"\0")
    assert input_fingerprint(clip) != first
    assert input_fingerprint(Clip("train", "gone", tmp_path / "gone")) is None
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    stat = video.stat()
    assert input_fingerprint(Clip("all", "v", video, kind="video")) == f"size=10 mtime_ns={stat.st_mtime_ns}"


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "with-splits"])
def test_a_run_folder_inside_a_folder_dataset_is_never_part_of_it(tmp_path: Path, nested: bool) -> None:
    data = make_toy_dataset(tmp_path / "data")
    if not nested:  # <root>/<clip>/<frames>
        for clip in (data / "train").iterdir():
            clip.rename(data / clip.name)
        (data / "train").rmdir()
    run = data / "run"
    first = toy_signpose("extract", data, "-o", run, "--quiet")
    assert first.returncode == 0 and "3 clips (0 already done, 3 processed)" in first.stderr, first.stderr
    again = toy_signpose("extract", data, "-o", run, "--quiet")
    assert again.returncode == 0 and "3 clips (3 already done, 0 processed)" in again.stderr, again.stderr
    assert sorted(_records(run)) == ["clip0", "clip1", "clip2"]


def test_clips_inside_the_run_folder_are_left_out(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=2)
    run = tmp_path / "run"
    dataset = open_dataset(data)
    clips = (*dataset.clips, Clip("train", "stray", run / "stray"))  # listed by a reader that did not skip it
    summary = extract(Dataset(dataset.root, dataset.layout, clips), run, TOY, LocalBackend(1))
    assert summary.clips_total == 2 and not summary.failed


def test_a_run_folder_inside_a_video_dataset_is_never_part_of_it(tmp_path: Path) -> None:
    video = testdata("signing", "slp_site_asl_different.mp4")
    if not video.is_file():
        pytest.skip(f"needs {video}")
    data = tmp_path / "videos"
    data.mkdir()
    shutil.copy(video, data / "hello.mp4")
    run = data / "run"  # a finished run, and (below) one being written: only the lock yet
    (run / "train").mkdir(parents=True)
    shutil.copy(video, run / "train" / "stray.mp4")
    (run / "index.jsonl").write_text("")
    (run / "run.json").write_text("{}")
    assert [clip.clip_id for clip in open_dataset(data).clips] == ["hello"]
    (run / "index.jsonl").unlink()
    (run / "run.json").unlink()
    (run / ".lock").write_text("signpose pid 1 on host h since then\n")
    assert [clip.clip_id for clip in open_dataset(data).clips] == ["hello"]
    (run / ".lock").unlink()  # no longer a run: its videos are the dataset's
    assert [clip.clip_id for clip in open_dataset(data).clips] == ["hello", "run__train__stray"]
