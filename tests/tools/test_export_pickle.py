from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest

from signpose.tools.export.keypoints_pickle import ExportSummary, export_pickle
from signpose.tools.export.npz import export_npz
from signpose.tools.export.common import LeftOut
from signpose.formats.pose import read_pose_file
from signpose.errors import SourceError
from signpose.formats.safepickle import load_pickle
from signpose.formats.keypoints_pickle import check_pickle
from tests.runs_builder import PARTS, ClipSpec, build_run, deep_equal, holistic, make_keypoints, pickle_dict, standard_clips


@pytest.fixture
def run(tmp_path) -> Path:
    return build_run(tmp_path / "run", standard_clips())


def test_streamed_pickle_equals_the_in_memory_dict(run, tmp_path):
    out = tmp_path / "keypoints.pkl"
    summary = export_pickle(run, out)
    failed = LeftOut("train", "broken_clip", "failed", "cannot open")  # listed, not silently dropped
    assert summary == ExportSummary(splits=("train", "dev"), clips=3, frames=13, files=(out,), left_out=(failed,))
    expected = pickle_dict(run, ["train", "dev"])
    with out.open("rb") as handle:
        streamed = pickle.load(handle)
    assert deep_equal(streamed, expected)
    assert deep_equal(load_pickle(out), expected)
    check_pickle(streamed, str(out))
    list(pickletools.genops(out.read_bytes()))  # every opcode well formed, STOP at the end
    assert not list(out.parent.glob(".*tmp-*"))


def test_pickle_content_in_dataset_order(run, tmp_path):
    out = tmp_path / "k.pkl"
    export_pickle(run, out)
    data = load_pickle(out)
    train = data["train"]
    # dataset order although build_run appended the clips in reverse
    assert train["video_ids"] == ["01April_2010_Thursday_heute-6694"] * 6 + ["01April_2010_Thursday_tagesschau-4332"] * 4
    assert train["image_paths"][0].endswith("/train/01April_2010_Thursday_heute-6694/1/0000.png")
    assert data["stats"]["train"]["failed_clips"] == 1 and data["stats"]["train"]["clips"] == 3
    # the last frame of each clip detected nothing: still an entry, every part None
    assert all(value is None for value in train["keypoints"][5].values())
    pose = read_pose_file(run / "train" / "01April_2010_Thursday_heute-6694.pose")
    np.testing.assert_array_equal(train["keypoints"][0]["pose"][:, :3], pose.part("pose")[0])
    np.testing.assert_array_equal(train["keypoints"][0]["pose"][:, 3], pose.part_confidence("pose")[0])


def test_pickle_splits_filter(run, tmp_path):
    out = tmp_path / "dev.pkl"
    summary = export_pickle(run, out, splits=["dev"])
    assert summary.splits == ("dev",) and summary.frames == 3 and summary.clips == 1
    data = load_pickle(out)
    assert set(data) == {"dev", "stats"} and set(data["stats"]) == {"dev"}
    assert deep_equal(data, pickle_dict(run, ["dev"]))
    with pytest.raises(SourceError, match="no split 'test'"):
        export_pickle(run, tmp_path / "x.pkl", splits=["test"])
    assert not (tmp_path / "x.pkl").exists()


def test_not_a_run_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"not a signpose run folder \(no index.jsonl\)"):
        export_pickle(tmp_path / "empty", tmp_path / "x.pkl")
    with pytest.raises(SourceError, match="not a signpose run folder"):
        export_npz(tmp_path / "empty", tmp_path / "npz")


def test_corrupted_pose_is_refused_and_nothing_is_written(run, tmp_path):
    pose = run / "dev" / "03June_2011_Friday_tagesschau-7649.pose"
    pose.write_bytes(pose.read_bytes() + b"x")
    out = tmp_path / "k.pkl"
    with pytest.raises(SourceError, match="sha256 differs"):
        export_pickle(run, out)
    assert not out.exists() and not list(tmp_path.glob(".*tmp-*"))


def test_npz_arrays(run, tmp_path):
    out = tmp_path / "npz"
    summary = export_npz(run, out)
    assert summary.files == (out / "train.npz", out / "dev.npz") and summary.frames == 13
    with np.load(out / "train.npz") as npz:
        arrays = dict(npz)
    assert arrays["keypoints"].shape == (10, 543, 4) and arrays["keypoints"].dtype == np.float32
    assert arrays["present"].shape == (10, 4) and arrays["present"].dtype == bool
    assert list(arrays["clip_ids"]) == ["01April_2010_Thursday_heute-6694", "01April_2010_Thursday_tagesschau-4332"]
    assert arrays["clip_offsets"].tolist() == [0, 6, 10] and arrays["clip_offsets"].dtype == np.int64
    assert list(arrays["parts"]) == list(PARTS) and arrays["part_offsets"].tolist() == [0, 33, 501, 522, 543]
    assert len(arrays["image_paths"]) == 10 and arrays["image_paths"][6].endswith("tagesschau-4332/1/0000.png")
    second = read_pose_file(run / "train" / "01April_2010_Thursday_tagesschau-4332.pose")
    np.testing.assert_array_equal(arrays["keypoints"][6:10, :, :3], second.points)
    np.testing.assert_array_equal(arrays["keypoints"][6:10, :, 3], second.confidence)
    np.testing.assert_array_equal(arrays["present"][6:10], second.present)
    assert not arrays["present"][5].any()


def test_npz_refined_face_and_splits(tmp_path):
    run = build_run(tmp_path / "run", standard_clips(seed=4, refine=True))
    summary = export_npz(run, tmp_path / "npz", splits=["dev"])
    assert summary.files == (tmp_path / "npz" / "dev.npz",)
    with np.load(tmp_path / "npz" / "dev.npz") as npz:
        assert npz["keypoints"].shape == (3, 553, 4)
        assert npz["part_offsets"].tolist() == [0, 33, 511, 532, 553]


def test_npz_refuses_mixed_face_sizes(tmp_path):
    clips = [ClipSpec("train", "a", make_keypoints(0, 3)), ClipSpec("train", "b", make_keypoints(1, 3, refine=True))]
    run = build_run(tmp_path / "run", clips)
    with pytest.raises(SourceError, match="one NPZ array cannot hold both"):
        export_npz(run, tmp_path / "npz")


def test_npz_out_must_be_a_folder(run, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SourceError, match="folder"):
        export_npz(run, tmp_path / "file")


def test_npz_world_points_are_their_own_array(tmp_path):
    layout = holistic(world=True)
    clips = [ClipSpec("train", "a", make_keypoints(0, 4, layout=layout)), ClipSpec("train", "b", make_keypoints(1, 3, layout=layout))]
    run = build_run(tmp_path / "run", clips)
    export_npz(run, tmp_path / "npz")
    with np.load(tmp_path / "npz" / "train.npz") as npz:
        arrays = dict(npz)
    assert arrays["keypoints"].shape == (7, 543, 4) and arrays["world_keypoints"].shape == (7, 33, 4)
    assert list(arrays["parts"]) == list(PARTS) and list(arrays["world_parts"]) == ["pose_world"]
    assert arrays["world_part_offsets"].tolist() == [0, 33] and arrays["world_present"].shape == (7, 1)
    second = read_pose_file(run / "train" / "b.pose")
    np.testing.assert_array_equal(arrays["world_keypoints"][4:, :, :3], second.part("pose_world"))
    np.testing.assert_array_equal(arrays["world_present"][4:, 0], second.part_present("pose_world"))
    np.testing.assert_array_equal(arrays["keypoints"][4:, :, :3], second.points[:, :543])
