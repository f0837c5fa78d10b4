"""PHOENIX-2014-T and PHOENIX-2014 multisigner readers, on the real annotations and tmp copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from signpose.model.clip import Clip
from signpose.datasets import DatasetError, open_dataset
from signpose.sources.listing import list_frames

from tests.testdata import locate, testdata  # PHOENIX is research-use: only in ../shared/testdata

PHOENIX = locate("phoenix")
T_DIR = PHOENIX / "PHOENIX-2014-T"
MS_DIR = PHOENIX / "phoenix-2014-multisigner"
SAMPLE_RELEASE = PHOENIX / "sample-2014T" / "PHOENIX-2014-T-release-v3"
FRAMES = Path("features", "fullFrame-210x260px")

# Real rows (official format, `<name>/1/*.png`) so the core tests run without shared data.
T_HEADER = "name|video|start|end|speaker|orth|translation"
T_ROWS = [
    "11August_2010_Wednesday_tagesschau-2|11August_2010_Wednesday_tagesschau-2/1/*.png|-1|-1|Signer08"
    "|DRUCK TIEF KOMMEN|tiefer luftdruck bestimmt in den nächsten tagen unser wetter",
    "11August_2010_Wednesday_tagesschau-3|11August_2010_Wednesday_tagesschau-3/1/*.png|-1|-1|Signer08"
    "|ES-BEDEUTET VIEL WOLKE UND KOENNEN REGEN GEWITTER KOENNEN"
    "|das bedeutet viele wolken und immer wieder zum teil kräftige schauer und gewitter",
]
MS_HEADER = "id|folder|signer|annotation"
MS_ROWS = [
    "01April_2010_Thursday_heute_default-1|01April_2010_Thursday_heute_default-1/1/*.png|Signer04"
    "|ICH OSTERN WETTER ZUFRIEDEN MITTAG TEMPERATUR  SUED WARM MEIN NICHT",
    "01August_2011_Monday_heute_default-6|01August_2011_Monday_heute_default-6/1/*.png|Signer07"
    "|VIELLEICHT THUERINGEN REGION AUCH BISSCHEN WOLKE",
]


@pytest.fixture
def phoenix() -> Path:
    return testdata("phoenix")  # skips, naming it, if absent


def t_csv(base: Path, split: str) -> Path:
    return base / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv"


def ms_csv(base: Path, split: str) -> Path:
    return base / "annotations" / "manual" / f"{split}.corpus.csv"


def write_lines(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def csv_rows(csv: Path) -> list[list[str]]:
    lines = csv.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("|") for line in lines if line.strip()]


def frame_counts(psv: Path) -> dict[tuple[str, str], int]:
    rows = [line.split("|") for line in psv.read_text(encoding="utf-8").splitlines()[1:]]
    return {(split, name): int(count) for split, name, count in rows}


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def ids(clips: tuple[Clip, ...], split: str) -> list[str]:
    return [clip.clip_id for clip in clips if clip.split == split]


# --- real annotations -------------------------------------------------------------------


def test_t_real_csvs_list_every_row_in_csv_order(phoenix: Path) -> None:
    dataset = open_dataset(T_DIR)
    assert dataset.layout == "phoenix-2014-t"
    assert dataset.root == T_DIR
    assert dataset.splits == ("train", "dev", "test")
    for split, count in {"train": 7096, "dev": 519, "test": 642}.items():
        expected = [row[0] for row in csv_rows(t_csv(T_DIR, split))]
        assert len(expected) == count
        assert ids(dataset.clips, split) == expected
    assert all(clip.fps == 25.0 and clip.kind == "frames" for clip in dataset.clips)


def test_t_real_row_keeps_signer_gloss_and_umlauts(phoenix: Path) -> None:
    clip = open_dataset(T_DIR, splits=["dev"]).clips[0]
    assert clip == Clip(
        split="dev",
        clip_id="11August_2010_Wednesday_tagesschau-2",
        source=T_DIR / FRAMES / "dev" / "11August_2010_Wednesday_tagesschau-2",
        kind="frames",
        signer="Signer08",
        gloss="DRUCK TIEF KOMMEN",
        translation="tiefer luftdruck bestimmt in den nächsten tagen unser wetter",
        fps=25.0,
    )


def test_t_found_from_the_folder_above(phoenix: Path) -> None:
    dataset = open_dataset(phoenix, max_samples_per_split=1)
    assert (dataset.layout, dataset.root) == ("phoenix-2014-t", T_DIR)


def test_multisigner_real_csvs(phoenix: Path) -> None:
    dataset = open_dataset(MS_DIR)
    assert (dataset.layout, dataset.root) == ("phoenix-2014", MS_DIR)
    assert dataset.splits == ("train", "dev", "test")
    assert len(ids(dataset.clips, "train")) == 5671
    for split in dataset.splits:
        assert ids(dataset.clips, split) == [row[0] for row in csv_rows(ms_csv(MS_DIR, split))]
    clip = next(c for c in dataset.clips if c.split == "dev")
    assert clip.clip_id == "01April_2010_Thursday_heute_default-1"
    assert clip.source == MS_DIR / FRAMES / "dev" / "01April_2010_Thursday_heute_default-1" / "1"
    assert clip.signer == "Signer04"
    assert clip.gloss == "ICH OSTERN WETTER ZUFRIEDEN MITTAG TEMPERATUR  SUED WARM MEIN NICHT"
    assert (clip.translation, clip.fps) == ("", 25.0)


def test_multisigner_from_release_root(phoenix: Path) -> None:
    dataset = open_dataset(phoenix, layout="phoenix-2014", splits=["test"], max_samples_per_split=2)
    assert (dataset.layout, dataset.root) == ("phoenix-2014", MS_DIR)
    assert ids(dataset.clips, "test") == [row[0] for row in csv_rows(ms_csv(MS_DIR, "test"))[:2]]


def test_max_samples_and_splits(phoenix: Path) -> None:
    dataset = open_dataset(T_DIR, max_samples_per_split=3)
    assert len(dataset.clips) == 9
    for split in ("train", "dev", "test"):
        assert ids(dataset.clips, split) == [row[0] for row in csv_rows(t_csv(T_DIR, split))[:3]]
    assert open_dataset(T_DIR, splits=["dev"]).splits == ("dev",)
    assert len(open_dataset(T_DIR, splits="dev").clips) == 519
    # Dataset order, whatever order the splits were named in.
    assert open_dataset(T_DIR, splits=("test", "train"), max_samples_per_split=1).splits == ("train", "test")
    with pytest.raises(DatasetError, match="available: train, dev, test"):
        open_dataset(T_DIR, splits=["val"])
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="max_samples_per_split"):
            open_dataset(T_DIR, max_samples_per_split=bad)  # type: ignore[arg-type]
    with pytest.raises(DatasetError):
        open_dataset(T_DIR, max_samples_per_split=0)


def test_official_video_column_with_1_folder(phoenix: Path, tmp_path: Path) -> None:
    base = tmp_path / "PHOENIX-2014-T"
    lines = t_csv(T_DIR, "dev").read_text(encoding="utf-8").splitlines()
    rewritten = [lines[0]] + [line.replace("/*.png|", "/1/*.png|", 1) for line in lines[1:]]
    write_lines(t_csv(base, "dev"), rewritten)
    a, b, c = (row[0] for row in csv_rows(t_csv(base, "dev"))[:3])
    split_dir = base / FRAMES / "dev"
    touch(split_dir / a / "1", "images0001.png")  # the CSV's 1/ folder exists: used
    touch(split_dir / b, "images0001.png")  # the released layout: no 1/ folder
    dataset = open_dataset(tmp_path)  # release root
    assert len(dataset.clips) == 519
    assert [clip.source for clip in dataset.clips[:3]] == [split_dir / a / "1", split_dir / b, split_dir / c]


@pytest.mark.parametrize("root", [SAMPLE_RELEASE, SAMPLE_RELEASE / "PHOENIX-2014-T"])
def test_sample_2014t_two_frames(phoenix: Path, root: Path) -> None:
    dataset = open_dataset(root)
    assert dataset.layout == "phoenix-2014-t"
    assert dataset.splits == ("train", "dev", "test")
    for clip in dataset.clips:
        assert clip.clip_id == "25October_2010_Monday_tagesschau-17"
        assert clip.source == SAMPLE_RELEASE / "PHOENIX-2014-T" / FRAMES / clip.split / clip.clip_id
        assert [f.name for f in list_frames(clip.source)] == ["images0001.png", "images0002.png"]


# --- tmp datasets with real frame counts ------------------------------------------------


def test_t_frames_with_real_counts_and_strays(phoenix: Path, tmp_path: Path) -> None:
    counts = frame_counts(T_DIR / "frame_counts.psv")
    lines = t_csv(T_DIR, "dev").read_text(encoding="utf-8").splitlines()[:4]
    write_lines(t_csv(tmp_path, "dev"), lines)
    for name in (line.split("|")[0] for line in lines[1:]):
        touch(tmp_path / FRAMES / "dev" / name, *(f"images{i:04d}.png" for i in range(counts["dev", name], 0, -1)))
        touch(tmp_path / FRAMES / "dev" / name, "foo.lprof", ".DS_Store")
    dataset = open_dataset(tmp_path)
    assert len(dataset.clips) == 3
    for clip in dataset.clips:
        n = counts["dev", clip.clip_id]
        assert n >= 12
        assert [f.name for f in list_frames(clip.source)] == [f"images{i:04d}.png" for i in range(1, n + 1)]


def test_multisigner_frames_with_real_counts(phoenix: Path, tmp_path: Path) -> None:
    counts = frame_counts(MS_DIR / "frame_counts.psv")
    lines = ms_csv(MS_DIR, "train").read_text(encoding="utf-8").splitlines()[:3]
    write_lines(ms_csv(tmp_path / "phoenix-2014-multisigner", "train"), lines)
    for clip_id in (line.split("|")[0] for line in lines[1:]):
        folder = tmp_path / "phoenix-2014-multisigner" / FRAMES / "train" / clip_id / "1"
        touch(folder, *(f"{clip_id}.avi_pid0_fn{i:06d}-0.png" for i in range(counts["train", clip_id])), "x.lprof")
    dataset = open_dataset(tmp_path)
    assert dataset.layout == "phoenix-2014"
    assert len(dataset.clips) == 2
    for clip in dataset.clips:
        frames = list_frames(clip.source)
        assert len(frames) == counts["train", clip.clip_id]
        assert frames[10].name == f"{clip.clip_id}.avi_pid0_fn000010-0.png"


# --- core behaviour (no shared data needed) --------------------------------------------


def test_both_video_column_styles(tmp_path: Path) -> None:
    plain = [line.replace("/1/*.png", "/*.png") for line in T_ROWS]
    write_lines(t_csv(tmp_path, "train"), [T_HEADER, *T_ROWS])
    write_lines(t_csv(tmp_path, "test"), [T_HEADER, *plain])
    dataset = open_dataset(tmp_path)
    assert dataset.splits == ("train", "test")  # dev has no CSV
    for clip in dataset.clips:
        assert clip.source == tmp_path / FRAMES / clip.split / clip.clip_id


def test_missing_and_empty_clip_folders_are_still_listed(tmp_path: Path) -> None:
    write_lines(t_csv(tmp_path, "dev"), [T_HEADER, *T_ROWS])
    (tmp_path / FRAMES / "dev" / "11August_2010_Wednesday_tagesschau-3").mkdir(parents=True)
    missing, empty = open_dataset(tmp_path).clips
    with pytest.raises(FileNotFoundError, match="frame folder not found") as info:
        list_frames(missing.source)
    assert str(missing.source) in str(info.value)
    assert list_frames(empty.source) == []


def test_broken_row_names_file_and_line(tmp_path: Path) -> None:
    csv = write_lines(t_csv(tmp_path, "train"), [T_HEADER, T_ROWS[0], "", "a|b|c", T_ROWS[1]])
    with pytest.raises(DatasetError, match=r"line 4: 3 '\|'-separated columns, expected 7") as info:
        open_dataset(tmp_path)
    assert str(csv) in str(info.value)


def test_header_without_needed_columns(tmp_path: Path) -> None:
    write_lines(ms_csv(tmp_path, "dev"), ["id|folder|speaker|annotation", MS_ROWS[0]])
    with pytest.raises(DatasetError, match="lacks column"):
        open_dataset(tmp_path)


def test_crlf_bom_and_blank_lines(tmp_path: Path) -> None:
    csv = write_lines(ms_csv(tmp_path, "dev"), ["", MS_HEADER, "  ", *MS_ROWS, ""], newline="\r\n")
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    dataset = open_dataset(tmp_path)
    assert [c.clip_id for c in dataset.clips] == [row.split("|")[0] for row in MS_ROWS]
    assert dataset.clips[1].gloss == "VIELLEICHT THUERINGEN REGION AUCH BISSCHEN WOLKE"
    assert dataset.clips[1].source == tmp_path / FRAMES / "dev" / "01August_2011_Monday_heute_default-6" / "1"


def test_not_utf8(tmp_path: Path) -> None:
    csv = t_csv(tmp_path, "dev")
    csv.parent.mkdir(parents=True)
    csv.write_bytes((T_HEADER + "\n" + T_ROWS[0] + "\n").encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        open_dataset(tmp_path)


def test_odd_ids_pass_through(tmp_path: Path) -> None:
    rows = [f"{name}|{name}/*.png|-1|-1|S|G|t" for name in ("a/b", "../up", "x y")]
    write_lines(t_csv(tmp_path, "test"), [T_HEADER, *rows])
    assert [c.clip_id for c in open_dataset(tmp_path).clips] == ["a/b", "../up", "x y"]


def test_header_only_csv_is_an_empty_split(tmp_path: Path) -> None:
    write_lines(t_csv(tmp_path, "train"), [T_HEADER])
    write_lines(t_csv(tmp_path, "dev"), [T_HEADER, T_ROWS[0]])
    assert open_dataset(tmp_path).splits == ("dev",)
    assert open_dataset(tmp_path, splits=["train"]).clips == ()


def test_forced_phoenix_layout_without_csvs_names_expected_paths(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no PHOENIX-2014-T annotations") as info:
        open_dataset(tmp_path, layout="phoenix-2014-t")
    assert str(t_csv(tmp_path / "PHOENIX-2014-T", "test")) in str(info.value)
    with pytest.raises(DatasetError) as info:
        open_dataset(tmp_path, layout="phoenix-2014")
    assert str(ms_csv(tmp_path, "train")) in str(info.value)
