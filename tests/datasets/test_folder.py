"""Plain frame-folder reader: with and without split subfolders."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from signpose.model.clip import Clip
from signpose.datasets import DatasetError, open_dataset
from signpose.sources.listing import list_frames


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_flat_clips_in_natural_order(tmp_path: Path) -> None:
    for clip in ("clip10", "clip2", "clipB", "clip1"):
        touch(tmp_path / clip, "0001.jpg", "0002.jpg")
    touch(tmp_path / ".git", "x.png")  # hidden folders are not clips
    touch(tmp_path, "README.txt")
    dataset = open_dataset(tmp_path)
    assert (dataset.layout, dataset.root, dataset.splits) == ("folder", tmp_path, ("all",))
    assert [c.clip_id for c in dataset.clips] == ["clip1", "clip2", "clip10", "clipB"]
    assert dataset.clips[0] == Clip(split="all", clip_id="clip1", source=tmp_path / "clip1", kind="frames")
    assert dataset.clips[0].fps is None


def test_split_subfolders(tmp_path: Path) -> None:
    for split, name in [("test", "c"), ("extra", "x"), ("train", "a10"), ("train", "a9"), ("dev", "b")]:
        touch(tmp_path / split / name, "f1.png", "f2.png", "f10.png")
    (tmp_path / "unused").mkdir()  # a folder without clip folders is no split
    dataset = open_dataset(tmp_path)
    assert dataset.splits == ("train", "dev", "test", "extra")
    assert [(c.split, c.clip_id) for c in dataset.clips][:2] == [("train", "a9"), ("train", "a10")]
    clip = dataset.clips[0]
    assert clip.source == tmp_path / "train" / "a9"
    assert [f.name for f in list_frames(clip.source)] == ["f1.png", "f2.png", "f10.png"]
    assert open_dataset(tmp_path, splits=["dev"], layout="folder").clips[0].clip_id == "b"
    assert len(open_dataset(tmp_path, max_samples_per_split=1).clips) == 4
    with pytest.raises(DatasetError, match="available: train, dev, test, extra"):
        open_dataset(tmp_path, splits=["val"])


def test_empty_clip_folder_is_listed(tmp_path: Path) -> None:
    touch(tmp_path / "a", "1.png")
    touch(tmp_path / "b", "notes.txt")
    clips = open_dataset(tmp_path).clips
    assert [c.clip_id for c in clips] == ["a", "b"]
    assert list_frames(clips[1].source) == []


def test_images_directly_in_root_are_refused(tmp_path: Path) -> None:
    touch(tmp_path, "images0001.png")
    touch(tmp_path / "clip", "images0001.png")
    layouts: tuple[Literal["auto", "folder"], ...] = ("auto", "folder")
    for layout in layouts:
        with pytest.raises(DatasetError, match="holds frame images directly.*<root>/<clip>/"):
            open_dataset(tmp_path, layout=layout)


def test_no_frames_anywhere(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "b", "notes.txt")
    with pytest.raises(DatasetError, match="no frame images found"):
        open_dataset(tmp_path, layout="folder")
    with pytest.raises(DatasetError, match="no dataset layout recognised"):
        open_dataset(tmp_path)
