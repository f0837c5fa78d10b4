"""The estimator seam is real: an estimator with another layout (tests/estimators/toy.py,
two parts of 5 and 7 points) runs end to end through the local backend, the store,
verify, npz export, render and report, and nothing assumes MediaPipe's parts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from signpose.backends import make_backend
from signpose.datasets import open_dataset
from signpose.errors import EstimatorError, SourceError, StoreError
from signpose.estimators import EstimatorSpec, make_estimator
from signpose.tools.export.keypoints_pickle import export_pickle
from signpose.tools.export.npz import export_npz
from signpose.formats.pose import read_pose_file
from signpose.tools.render import render_clip
from signpose.tools.report import write_report
from signpose.extract.driver import extract
from signpose.tools.verify import compare_sources
from tests.estimators.toy import LAYOUT

TOY = EstimatorSpec.of("tests.estimators.toy:ToyEstimator", {"threshold": 90.0})


def frame(clip: int, index: int) -> np.ndarray:
    image = np.full((24, 32, 3), 40 + 30 * (clip + index), np.uint8)
    image[:, 5 + 6 * index] = 255  # the brightest column moves
    return image


COMETS = sum(frame(c, f).mean() > 90.0 for c in range(3) for f in range(4))  # frames with a comet


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Three clips of 4 frames; brightness climbs so 'comet' comes and goes."""
    root = tmp_path_factory.mktemp("toy") / "data"
    for c in range(3):
        folder = root / "train" / f"clip{c}"
        folder.mkdir(parents=True)
        for f in range(4):
            Image.fromarray(frame(c, f)).save(folder / f"{f:04d}.png")
    assert 0 < COMETS < 12
    return root


@pytest.fixture(scope="module")
def runs(dataset, tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("runs")
    one = extract(open_dataset(dataset), out / "one", TOY, make_backend("local", 1))
    two = extract(open_dataset(dataset), out / "two", TOY, make_backend("local", 2))
    assert not one.failed and not two.failed and one.frames_processed == 12
    return out / "one", out / "two"


def test_files_stats_and_run_json_follow_the_toy_layout(runs) -> None:
    one, _ = runs
    keypoints = read_pose_file(one / "train" / "clip2.pose")
    assert keypoints.layout == LAYOUT and keypoints.points.shape == (4, 12, 3)
    assert keypoints.part_present("comet").tolist() == [True, True, True, True]
    stats = json.loads((one / "stats.json").read_text())["train"]
    assert stats == {"clips": 3, "frames": 12, "failed_clips": 0, "failed_frames": 0, "frames_with_star": 12, "frames_with_comet": COMETS}
    info = json.loads((one / "run.json").read_text())
    assert info["estimator"] == {"name": TOY.name, "params": {"threshold": 90.0}, "provenance": {"toy_version": "1"}}


def test_worker_count_does_not_change_the_bytes(runs) -> None:
    one, two = runs
    for name in ("index.jsonl", "stats.json", "train/clip0.pose", "train/clip1.pose", "train/clip2.pose"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    report = compare_sources(one, two)
    assert report.equal and [p.part for p in report.splits[0].parts] == ["star", "comet"]


def test_verify_sees_a_changed_toy_point(runs, tmp_path) -> None:
    one, _ = runs
    changed = extract(open_dataset(_data(one)), tmp_path / "t",
                      EstimatorSpec.of(TOY.name, {"threshold": 200.0}), make_backend("local", 1))  # fmt: skip
    assert not changed.failed
    report = compare_sources(one, tmp_path / "t")
    comet = next(p for p in report.splits[0].parts if p.part == "comet")
    assert not report.equal and comet.only_a == COMETS


def _data(run: Path) -> Path:
    return Path(json.loads((run / "run.json").read_text())["dataset_root"])


def test_npz_export_iterates_the_toy_parts(runs, tmp_path) -> None:
    export_npz(runs[0], tmp_path / "npz")
    with np.load(tmp_path / "npz" / "train.npz") as npz:
        assert npz["keypoints"].shape == (12, 12, 4)
        assert npz["parts"].tolist() == ["star", "comet"] and npz["part_offsets"].tolist() == [0, 5, 12]
        assert npz["present"].sum(axis=0).tolist() == [12, COMETS] and "world_keypoints" not in npz


def test_render_and_report_draw_the_toy_parts(runs, tmp_path) -> None:
    summary = render_clip(runs[0], None, "clip2", tmp_path / "sheet.png", no_video=False, frames=4)
    assert summary.frames == 4
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB")).astype(int)
    assert ((sheet[..., 0] > 200) & (sheet[..., 1] < 120)).any()  # the star's red
    report = write_report(runs[0], tmp_path / "report.html", lowest=2)
    page = (tmp_path / "report.html").read_text()
    assert report.clips == 3 and "star" in page and "comet" in page and "tests.estimators.toy:ToyEstimator" in page


def test_the_keypoints_pickle_needs_its_four_parts(runs, tmp_path) -> None:
    with pytest.raises(SourceError, match="lack the keypoints pickle's pose, face, left_hand, right_hand"):
        export_pickle(runs[0], tmp_path / "x.pkl")


def test_resume_compares_specs(runs, dataset) -> None:
    with pytest.raises(StoreError, match="other options"):
        extract(open_dataset(dataset), runs[0], EstimatorSpec.of(TOY.name, {"threshold": 1.0}), make_backend("local", 1))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nonesuch", {}, "unknown estimator 'nonesuch'"),
        ("tests.estimators.toy:Missing", {}, "has no Missing"),
        ("no_such_module:Thing", {}, "cannot be loaded"),
        (TOY.name, {"colour": "red"}, "unexpected keyword argument 'colour'"),
    ],
)
def test_bad_specs_are_estimator_errors(name, params, message) -> None:
    with pytest.raises(EstimatorError, match=message):
        make_estimator(EstimatorSpec.of(name, params))
