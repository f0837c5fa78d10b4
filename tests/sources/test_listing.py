"""list_frames: image files only, hidden files skipped, natural order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from signpose.files import IMAGE_EXTENSIONS, natural_key
from signpose.sources.listing import list_frames


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_natural_order_of_phoenix_t_names(tmp_path: Path) -> None:
    names = [f"images{i:04d}.png" for i in range(1, 13)]
    shuffled = names[:]
    random.Random(0).shuffle(shuffled)
    touch(tmp_path, *shuffled)
    frames = list_frames(tmp_path)
    assert [frame.name for frame in frames] == names
    assert all(frame.parent == tmp_path for frame in frames)


def test_numbers_compare_as_integers(tmp_path: Path) -> None:
    touch(tmp_path, "a10.png", "a2.png", "a1.png", "b1.png")
    assert [f.name for f in list_frames(tmp_path)] == ["a1.png", "a2.png", "a10.png", "b1.png"]


def test_multisigner_names_sort_by_their_numbers(tmp_path: Path) -> None:
    clip = "01April_2010_Thursday_heute_default-0"
    names = [f"{clip}.avi_pid0_fn{i:06d}-0.png" for i in (10, 2, 0, 100, 1)]
    touch(tmp_path, *names)
    got = [f.name for f in list_frames(tmp_path)]
    assert got == [f"{clip}.avi_pid0_fn{i:06d}-0.png" for i in (0, 1, 2, 10, 100)]


def test_strays_hidden_files_and_folders_are_ignored(tmp_path: Path) -> None:
    touch(tmp_path, "images0002.png", "images0001.png", "foo.lprof", ".DS_Store", ".hidden.png", "notes.txt")
    (tmp_path / "sub.png").mkdir()  # a folder with an image name is not a frame
    assert [f.name for f in list_frames(tmp_path)] == ["images0001.png", "images0002.png"]


def test_extensions_are_case_insensitive(tmp_path: Path) -> None:
    touch(tmp_path, "f3.WEBP", "f1.PNG", "f2.Jpeg", "f4.tif", "f5.bmp", "f6.tiff", "f7.jpg")
    assert [f.name for f in list_frames(tmp_path)] == [
        "f1.PNG", "f2.Jpeg", "f3.WEBP", "f4.tif", "f5.bmp", "f6.tiff", "f7.jpg"
    ]
    assert IMAGE_EXTENSIONS == {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def test_missing_folder_raises_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="frame folder not found") as info:
        list_frames(missing)
    assert str(missing) in str(info.value)


def test_a_file_is_not_a_frame_folder(tmp_path: Path) -> None:
    touch(tmp_path, "x.png")
    with pytest.raises(FileNotFoundError, match="frame folder not found"):
        list_frames(tmp_path / "x.png")


def test_folder_without_images_gives_empty_list(tmp_path: Path) -> None:
    touch(tmp_path, "foo.lprof")
    assert list_frames(tmp_path) == []


def test_natural_key_is_total() -> None:
    names = ["a01", "a1", "A1", "1a", "a", "", "a1b", "a1.png", "10", "9"]
    first = sorted(names, key=natural_key)
    assert sorted(reversed(names), key=natural_key) == first
    assert first.index("9") < first.index("10")
    assert len({natural_key(name) for name in names}) == len(names)
