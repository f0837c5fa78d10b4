"""Video layout reader: folders of video files (with or without split folders, recursive)
and CSV manifests; auto-detection against frame-folder datasets. Readers never open the
files, so empty files stand in for videos here."""

from __future__ import annotations

from pathlib import Path

import pytest

from signpose.model.clip import Clip
from signpose.datasets import DatasetError, detect_layout, open_dataset


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def keys(root: Path | str, **kwargs) -> list[tuple[str, str]]:
    return [(clip.split, clip.clip_id) for clip in open_dataset(root, **kwargs).clips]


def test_flat_folder_natural_order_any_case(tmp_path: Path) -> None:
    touch(tmp_path, "clip10.mp4", "clip2.MOV", "clip1.webm", "notes.txt", ".hidden.mp4", "cover.jpg")
    touch(tmp_path / "more" / "deeper", "x.AVI")
    touch(tmp_path / ".cache", "y.mp4")
    dataset = open_dataset(tmp_path)
    assert (dataset.layout, dataset.root, dataset.splits) == ("video", tmp_path, ("all",))
    assert [c.clip_id for c in dataset.clips] == ["clip1", "clip2", "clip10", "more__deeper__x"]
    assert dataset.clips[0] == Clip(split="all", clip_id="clip1", source=tmp_path / "clip1.webm", kind="video")
    assert dataset.clips[0].fps is None
    assert dataset.clips[3].source == tmp_path / "more" / "deeper" / "x.AVI"


def test_split_folders_recursive_ids(tmp_path: Path) -> None:
    touch(tmp_path / "test", "t.mkv")
    touch(tmp_path / "train" / "signer2", "hello.mp4")
    touch(tmp_path / "train" / "signer10", "bye.mp4")
    touch(tmp_path / "train", "a.mp4")
    touch(tmp_path / "extra", "e.mp4")
    touch(tmp_path / "validation", "v.mp4")
    touch(tmp_path / "docs", "readme.md")  # a folder without videos is no split
    assert detect_layout(tmp_path) == "video"
    assert keys(tmp_path) == [
        ("train", "a"), ("train", "signer2__hello"), ("train", "signer10__bye"),
        ("validation", "v"), ("test", "t"), ("extra", "e"),
    ]
    assert open_dataset(tmp_path).clips[1].source == tmp_path / "train" / "signer2" / "hello.mp4"
    assert keys(tmp_path, splits=["test"], layout="video") == [("test", "t")]
    assert len(keys(tmp_path, max_samples_per_split=1)) == 4
    with pytest.raises(DatasetError, match="available: train, validation, test, extra"):
        open_dataset(tmp_path, splits=["dev"])


def test_videos_in_root_make_one_split(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4")
    touch(tmp_path / "train", "b.mp4")
    assert keys(tmp_path) == [("all", "a"), ("all", "train__b")]


def test_clashing_ids_are_refused(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4", "a.mov")
    with pytest.raises(DatasetError, match="would both be clip 'a'"):
        open_dataset(tmp_path)
    other = tmp_path / "other"
    touch(other / "x", "y.mp4")
    touch(other, "x__y.mp4")
    with pytest.raises(DatasetError, match="would both be clip 'x__y'"):
        open_dataset(other, layout="video")


def test_no_videos(tmp_path: Path) -> None:
    touch(tmp_path / "a", "notes.txt")
    with pytest.raises(DatasetError, match="no video files found"):
        open_dataset(tmp_path, layout="video")


def test_manifest(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    touch(elsewhere, "abs.mp4")
    touch(tmp_path / "data" / "sub", "one.mp4")
    manifest = tmp_path / "data" / "list.csv"
    manifest.write_text(
        "\ufeffpath,split,clip_id,gloss\n"
        "sub/one.mp4,train,first,HELLO\n"
        "\n"
        f"{elsewhere / 'abs.mp4'},test,,\n"
        "sub/gone.mp4,,,\n"
        "./sub/one.mp4,train,again,\n",
        encoding="utf-8",
    )
    assert detect_layout(manifest) == "video"
    dataset = open_dataset(manifest)
    assert dataset.root == manifest and dataset.layout == "video"
    assert [(c.split, c.clip_id, c.source, c.gloss) for c in dataset.clips] == [
        ("train", "first", manifest.parent / "sub" / "one.mp4", "HELLO"),
        ("train", "again", manifest.parent / "sub" / "one.mp4", ""),
        ("test", "abs", elsewhere / "abs.mp4", ""),
        ("all", "sub__gone", manifest.parent / "sub" / "gone.mp4", ""),  # missing: listed, the worker reports it
    ]
    assert all(c.kind == "video" and c.fps is None for c in dataset.clips)
    assert keys(manifest, splits=["test"]) == [("test", "abs")]


def test_manifest_only_path_column(tmp_path: Path) -> None:
    manifest = tmp_path / "m.CSV"
    manifest.write_text("path\nb/c.webm\na.mp4\n", encoding="utf-8")
    assert keys(manifest) == [("all", "b__c"), ("all", "a")]


def test_bad_manifests(tmp_path: Path) -> None:
    duplicate = tmp_path / "dup.csv"
    duplicate.write_text("path,split,clip_id\na.mp4,train,x\nb.mp4,train,x\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"dup.csv, line 3: clip 'x' of split 'train' is already on line 2"):
        open_dataset(duplicate)
    empty_path = tmp_path / "empty.csv"
    empty_path.write_text("path,split\n,train\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2: empty 'path' column"):
        open_dataset(empty_path)
    header_only = tmp_path / "header.csv"
    header_only.write_text("path,split,clip_id\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="lists no videos"):
        open_dataset(header_only)
    # A file that is not a manifest is still refused as a root.
    other = tmp_path / "other.csv"
    other.write_text("name|video\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="is a file"):
        open_dataset(other)
    text = tmp_path / "list.txt"
    text.write_text("path\na.mp4\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="is a file"):
        open_dataset(text)


def test_detection_tells_frames_from_videos(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    touch(frames / "clip1", "0001.png", "0002.png")
    assert detect_layout(frames) == "folder"
    split_frames = tmp_path / "split_frames"
    touch(split_frames / "train" / "clip1", "0001.jpg")
    touch(split_frames / "train" / "clip2", "source.mp4", "0001.jpg")  # a stray video further on
    assert detect_layout(split_frames) == "folder"
    videos = tmp_path / "videos"
    touch(videos / "train", "a.mp4", "a.jpg")  # a thumbnail beside its video
    assert detect_layout(videos) == "video"
    nested = tmp_path / "nested"
    touch(nested / "dev" / "signer" / "session", "clip.mkv")
    assert detect_layout(nested) == "video"
    # An explicit layout still reads a mixed folder either way.
    assert keys(split_frames, layout="video") == [("train", "clip2__source")]


def test_phoenix_is_detected_before_videos(tmp_path: Path) -> None:
    csv = tmp_path / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("name|video|start|end|speaker|orth|translation\nn1|n1/1/*.png|-1|-1|S|G|t\n", encoding="utf-8")
    touch(tmp_path, "teaser.mp4")
    assert detect_layout(tmp_path) == "phoenix-2014-t"


@pytest.mark.parametrize("name", ["hello.mp4", "Hello.World.MOV", "x.webm"])
def test_one_video_file_is_a_one_clip_dataset(tmp_path: Path, name: str) -> None:
    touch(tmp_path, name, "other.mp4")  # a neighbour is not part of the dataset
    video = tmp_path / name
    assert detect_layout(video) == "video"
    stem = name.rsplit(".", 1)[0]
    for layout in ("auto", "video"):
        dataset = open_dataset(video, layout=layout)  # type: ignore[arg-type]
        assert (dataset.layout, dataset.root, dataset.splits) == ("video", video, ("all",))
        assert dataset.clips == (Clip(split="all", clip_id=stem, source=video, kind="video"),)
    assert keys(video, splits=["all"], max_samples_per_split=1) == [("all", stem)]
    with pytest.raises(DatasetError, match="no split 'train'; available: all"):
        open_dataset(video, splits=["train"])


def test_one_video_file_relative_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, "clip.mkv")
    monkeypatch.chdir(tmp_path)
    assert open_dataset("clip.mkv").clips[0].source == tmp_path / "clip.mkv"


def test_one_file_refusals(tmp_path: Path) -> None:
    touch(tmp_path, "clip.gif", "clip.mp4.txt", "clip.mp4")
    for name in ("clip.gif", "clip.mp4.txt"):
        with pytest.raises(DatasetError, match=r"is a file, not a dataset folder \(nor a video file .avi/.mkv/.mov/.mp4/.webm"):
            open_dataset(tmp_path / name)
    missing = tmp_path / "gone.mp4"
    with pytest.raises(DatasetError) as info:
        open_dataset(missing)
    assert str(info.value) == f"{missing}: video file not found"
    with pytest.raises(DatasetError, match="video file not found"):
        open_dataset(tmp_path / "GONE.MOV", layout="video")
    # A video file read as a frame or PHOENIX layout: said plainly, not a listing error.
    for layout in ("folder", "phoenix-2014-t", "phoenix-2014"):
        with pytest.raises(DatasetError, match=f"a file; the {layout} layout reads a folder"):
            open_dataset(tmp_path / "clip.mp4", layout=layout)  # type: ignore[arg-type]
    # A folder named like a video is still a folder.
    touch(tmp_path / "folder.mp4" / "clip1", "0001.png")
    assert detect_layout(tmp_path / "folder.mp4") == "folder"
