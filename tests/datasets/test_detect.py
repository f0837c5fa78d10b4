"""Layout detection, overrides and root errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest

import signpose.errors
from signpose.datasets import LAYOUTS, READERS, DatasetError, Layout, detect_layout, open_dataset

T_ROW = "n1|n1/1/*.png|-1|-1|Signer01|GLOSS|übersetzung"
MS_ROW = "m1|m1/1/*.png|Signer02|GLOSS"


def write_t(base: Path) -> None:
    csv = base / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text(f"name|video|start|end|speaker|orth|translation\n{T_ROW}\n", encoding="utf-8")
    frames = base / "features" / "fullFrame-210x260px" / "train" / "n1"
    frames.mkdir(parents=True)
    (frames / "images0001.png").write_bytes(b"")


def write_ms(base: Path) -> None:
    csv = base / "annotations" / "manual" / "dev.corpus.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text(f"id|folder|signer|annotation\n{MS_ROW}\n", encoding="utf-8")


def write_folder(base: Path) -> None:
    (base / "clip").mkdir(parents=True)
    (base / "clip" / "0.png").write_bytes(b"")


def test_layout_names_match_readers() -> None:
    assert LAYOUTS == get_args(Layout)
    assert LAYOUTS == ("auto", *(reader.name for reader in READERS))
    assert DatasetError is signpose.errors.DatasetError


@pytest.mark.parametrize(
    ("make", "inner", "layout"),
    [
        (write_t, "", "phoenix-2014-t"),
        (write_t, "PHOENIX-2014-T", "phoenix-2014-t"),
        (write_ms, "", "phoenix-2014"),
        (write_ms, "phoenix-2014-multisigner", "phoenix-2014"),
        (write_folder, "", "folder"),
    ],
)
def test_auto_detection(tmp_path: Path, make: Callable[[Path], None], inner: str, layout: str) -> None:
    make(tmp_path / inner if inner else tmp_path)
    assert detect_layout(tmp_path) == layout
    dataset = open_dataset(tmp_path)
    assert dataset.layout == layout
    assert dataset.root == (tmp_path / inner if inner else tmp_path)
    assert len(dataset.clips) == 1


def test_t_wins_when_both_phoenix_releases_are_present(tmp_path: Path) -> None:
    write_t(tmp_path / "PHOENIX-2014-T")
    write_ms(tmp_path / "phoenix-2014-multisigner")
    assert open_dataset(tmp_path).layout == "phoenix-2014-t"
    assert [c.clip_id for c in open_dataset(tmp_path, layout="phoenix-2014").clips] == ["m1"]


def test_layout_override(tmp_path: Path) -> None:
    write_t(tmp_path)
    # The frames folder of a PHOENIX-2014-T release is itself a split-folder dataset.
    frames = open_dataset(tmp_path / "features" / "fullFrame-210x260px", layout="folder")
    assert [(c.split, c.clip_id, c.fps) for c in frames.clips] == [("train", "n1", None)]
    with pytest.raises(DatasetError, match="no PHOENIX-2014 multisigner annotations"):
        open_dataset(tmp_path, layout="phoenix-2014")
    with pytest.raises(DatasetError, match="unknown layout 'videos'"):
        open_dataset(tmp_path, layout="videos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown layout"):
        open_dataset(tmp_path, layout="Folder")  # type: ignore[arg-type]


def test_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError) as info:
        open_dataset(missing)
    assert str(info.value) == f"{missing}: dataset folder not found"
    with pytest.raises(DatasetError, match="dataset folder not found"):
        detect_layout(str(missing))


def test_root_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "x.csv"
    file.write_text("name|video\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="is a file"):
        open_dataset(file)


def test_nothing_recognisable_lists_accepted_layouts(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DatasetError, match="no dataset layout recognised") as info:
        open_dataset(tmp_path)
    message = str(info.value)
    for reader in READERS:
        assert reader.name in message
    assert "PHOENIX-2014-T.{train,dev,test}.corpus.csv" in message


def test_relative_root_gives_absolute_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_folder(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    dataset = open_dataset("data")
    assert dataset.root == tmp_path / "data"
    assert dataset.clips[0].source == tmp_path / "data" / "clip"
