from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signpose.errors import SourceError
from signpose.formats.keypoints_pickle import (
    PARTS,
    FRAME_KEYS,
    check_frame,
    check_pickle,
    clip_frames,
    frame_arrays,
    frame_name,
    group_frames,
    image_path,
    keypoint_arrays,
)
from tests.runs_builder import make_keypoints


def test_clip_frames_follow_the_schema():
    keypoints = make_keypoints(3, frames=5)
    frames = clip_frames(keypoints)
    assert len(frames) == 5
    for index, frame in enumerate(frames):
        assert tuple(frame) == FRAME_KEYS
        check_frame(frame, f"keypoints[{index}]")
        for column, part in enumerate(PARTS):
            assert (frame[part] is not None) == bool(keypoints.present[index, column])
    first = frames[0]
    assert first["pose"].shape == (33, 4) and first["pose"].dtype == np.float32
    assert first["face"].shape == (468, 3) and first["left_hand"].shape == (21, 3)
    np.testing.assert_array_equal(first["pose"][:, :3], keypoints.part("pose")[0])
    np.testing.assert_array_equal(first["pose"][:, 3], keypoints.part_confidence("pose")[0])
    assert all(value is None for value in frames[-1].values())


def test_refined_face_has_478_points():
    frames = clip_frames(make_keypoints(1, frames=3, refine=True))
    assert frames[0]["face"].shape == (478, 3)
    check_frame(frames[0], "keypoints[0]")


def test_frames_do_not_share_memory_with_the_clip():
    keypoints = make_keypoints(2, frames=3)
    frames = clip_frames(keypoints)
    frames[0]["pose"][:] = 7
    assert not (keypoints.points == 7).any()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ([], "is a list, expected a dict"),
        ({"face": None, "left_hand": None, "right_hand": None}, "missing 'pose'"),
        ({"face": None, "left_hand": None, "right_hand": None, "pose": None, "x": 1}, "unexpected 'x'"),
        ({"face": None, "left_hand": None, "right_hand": None, "pose": np.zeros((33, 3), np.float32)},
         "keypoints[12]['pose'] has shape (33, 3), expected (33, 4)"),
        ({"face": np.zeros((470, 3), np.float32), "left_hand": None, "right_hand": None, "pose": None},
         "expected (468, 3) or (478, 3)"),
        ({"face": None, "left_hand": [[0.0] * 3] * 21, "right_hand": None, "pose": None}, "is a list, expected a numpy"),
        ({"face": None, "left_hand": None, "right_hand": np.zeros((21, 3), np.int32), "pose": None}, "dtype int32"),
    ],
)
def test_check_frame_names_the_problem(frame, message):
    with pytest.raises(SourceError) as caught:
        check_frame(frame, "split 'train': keypoints[12]")
    assert message in str(caught.value)
    assert "split 'train'" in str(caught.value)


def test_check_pickle_top_level_and_split_shape():
    with pytest.raises(SourceError, match="holds a list"):
        check_pickle([1, 2], "x.pkl")
    with pytest.raises(SourceError, match="has no 'video_ids'"):
        check_pickle({"train": {"image_paths": [], "keypoints": []}}, "x.pkl")
    with pytest.raises(SourceError, match="differ in length"):
        check_pickle({"train": {"image_paths": ["a"], "keypoints": [], "video_ids": []}}, "x.pkl")
    with pytest.raises(SourceError, match=r"video_ids\[0\] is a int"):
        frame = {"face": None, "left_hand": None, "right_hand": None, "pose": None}
        check_pickle({"train": {"image_paths": ["a"], "keypoints": [frame], "video_ids": [3]}}, "x.pkl")
    assert check_pickle({"stats": {}}, "x.pkl") == {}


def test_paths_and_frame_names():
    assert image_path("/data/x/clip/1", "0001.png") == "/data/x/clip/1/0001.png"
    assert frame_name("/data/x/clip/1/0001.png") == "0001.png"
    assert frame_name("C:\\data\\clip\\0002.png") == "0002.png"


def test_group_frames_refuses_duplicates():
    assert group_frames(["a", "a", "b"], ["/x/1.png", "/x/2.png", "/y/1.png"], "w") == {"a": [0, 1], "b": [2]}
    with pytest.raises(SourceError, match="appears twice"):
        group_frames(["a", "a"], ["/x/1.png", "/elsewhere/1.png"], "w")


def test_frame_arrays_round_trip_keypoint_arrays():
    keypoints = make_keypoints(5, frames=4)
    names = tuple(f"{i:04d}.png" for i in range(4))
    direct = keypoint_arrays(keypoints, "/src", names)
    frames = clip_frames(keypoints)
    stacked = frame_arrays(frames, list(direct.paths), "w")
    assert stacked.names == direct.names == names
    for part in PARTS:
        np.testing.assert_array_equal(stacked.present[part], direct.present[part])
        columns = stacked.values[part].shape[2]  # the keypoints pickle keeps confidence for the body only
        np.testing.assert_array_equal(stacked.values[part], direct.values[part][..., :columns])


# -- stats of a keypoints pickle are checked before use (issue #9, item 8) ---------------------


def _cyclic() -> dict:
    stats: dict = {}
    stats["train"] = stats
    return stats


def _deep() -> dict:
    inner: dict = {}
    outer = inner
    for _ in range(100_000):
        inner = {"x": inner}
    return {"train": inner, "dev": outer}


@pytest.mark.parametrize(
    "stats",
    [
        {"train": {"clips": "3"}},
        {"train": {"clips": True}},
        {"train": {"clips": -1}},
        {"train": {"clips": 10**5000}},
        {"train": {"clips": 1.5}},
        {"train": [1, 2]},
        {3: {"clips": 1}},
        {"train": {3: 1}},
        {"train": {"clips": {"nested": 1}}},
        {f"split{i}": {} for i in range(10_001)},
        {"train": {f"n{i}": 1 for i in range(10_001)}},
    ],
    ids=["str", "bool", "negative", "huge", "float", "list", "int-split", "int-name", "nested", "many-splits", "many-names"],
)
def test_check_pickle_refuses_stats_not_of_split_name_count(stats):
    with pytest.raises(SourceError) as caught:
        check_pickle({"stats": stats}, "x.pkl")
    assert "x.pkl" in str(caught.value) and "stats" in str(caught.value)


def test_check_pickle_refuses_cyclic_and_deep_stats_at_once():
    for stats in (_cyclic(), _deep()):
        with pytest.raises(SourceError, match="stats"):
            check_pickle({"stats": stats}, "x.pkl")


def test_check_pickle_accepts_real_stats():
    stats = {"train": {"clips": 3, "frames": 13, "failed_clips": 1, "failed_frames": 0, "frames_with_pose": 13}, "dev": {}}
    assert check_pickle({"stats": stats}, "x.pkl") == {}


def test_keypoints_pickle_load_with_hostile_stats_is_a_source_error(tmp_path):
    import pickle

    from signpose.formats.keypoints_pickle import KeypointsPickle

    path = tmp_path / "keypoints.pkl"
    path.write_bytes(pickle.dumps({"stats": _cyclic()}))
    with pytest.raises(SourceError, match="stats"):
        KeypointsPickle.load(path)


@pytest.mark.parametrize("source", ["/data/x", "/data/x/", "data/x", "./data//x/.", "//net/x", "///x", "/", "", ".", "a/./b", "/a/../b"])
def test_image_path_is_what_pathlib_writes(source: str) -> None:
    assert image_path(source, "images0001.png") == str(Path(source) / "images0001.png")
