"""The Parquet export: one row per clip with the dataset's labels, values equal to the run,
its schema in the file's metadata, streamed one row group per clip, atomic, the same bytes
for the same input, failed and unreadable clips listed, and readable by pyarrow, pandas,
polars and Hugging Face datasets."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="the parquet extra (pip install 'signpose[parquet]') is not installed")
pq = pytest.importorskip("pyarrow.parquet")

from signpose import __version__  # noqa: E402
from signpose.cli.main import main  # noqa: E402
from signpose.errors import DependencyError, SourceError, StoreError  # noqa: E402
from signpose.formats.parquet import INSTALL  # noqa: E402
from signpose.formats.pose import read_pose_file  # noqa: E402
from signpose.run.reader import RunReader  # noqa: E402
from signpose.tools.export.npz import export_npz  # noqa: E402
from signpose.tools.export.parquet import export_parquet  # noqa: E402
from signpose.tools.export.common import LeftOut  # noqa: E402
from tests.runs_builder import ClipSpec, build_run, make_keypoints, standard_clips  # noqa: E402

COMMON = ["dataset_layout", "layout", "frames", "fps", "width", "height", "source", "frame_names", "keypoints", "confidence", "present"]


def metadata(path: Path) -> dict:
    return json.loads(pq.read_metadata(path).metadata[b"signpose"])


def labelled(root: Path, layout: str, labels: dict[str, tuple[str, str, str]]) -> Path:
    """``standard_clips`` as a run of ``layout`` whose clips carry (signer, gloss, translation)."""
    build_run(root, standard_clips())
    index = root / "index.jsonl"
    records = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]
    for record in records:
        record["signer"], record["gloss"], record["translation"] = labels.get(record["clip_id"], ("", "", ""))
    index.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    estimator = {"name": "litert", "params": {"mode": "frame"}, "provenance": {"runtime": "litert"}}
    (root / "run.json").write_text(json.dumps({"layout": layout, "estimator": estimator}), encoding="utf-8")
    return root


def rows_equal_run(path: Path, run: Path, split: str) -> None:
    """Every row of ``path`` holds its clip exactly as the run's .pose file does (read
    through pyarrow's own Python conversion, not signpose's reader)."""
    table = pq.read_table(path)
    reader = RunReader(run)
    records = {r.clip_id: r for r in reader.ok_clips(split)}
    assert table.column("clip_id").to_pylist() == list(records)
    for row, record in enumerate(records.values()):
        keypoints = read_pose_file(run / record.pose_file)
        frames = keypoints.num_frames
        assert table.column("frames")[row].as_py() == frames == len(record.frame_names)
        assert (table.column("width")[row].as_py(), table.column("height")[row].as_py()) == (record.width, record.height)
        assert table.column("fps")[row].as_py() == record.fps and table.column("source")[row].as_py() == record.source
        assert table.column("frame_names")[row].as_py() == list(record.frame_names)
        points = np.array(table.column("keypoints")[row].as_py(), dtype=np.float32)
        assert points.shape == (frames, keypoints.layout.total, 3)
        assert points.tobytes() == keypoints.points.tobytes()  # bit for bit, normalised
        confidence = np.array(table.column("confidence")[row].as_py(), dtype=np.float32)
        assert confidence.tobytes() == keypoints.confidence.tobytes()
        assert np.array_equal(np.array(table.column("present")[row].as_py(), dtype=bool), keypoints.present)


def test_phoenix_t_rows_carry_the_dataset_labels_and_the_run_s_values(phoenix_run, tmp_path) -> None:
    summary = export_parquet(phoenix_run, tmp_path / "out")
    assert summary.files == (tmp_path / "out" / "train.parquet",) and summary.left_out == ()
    path = summary.files[0]
    table = pq.read_table(path)
    assert table.column_names == ["split", "clip_id", "speaker", "orth", "translation", *COMMON]
    records = RunReader(phoenix_run).ok_clips("train")
    assert summary.clips == table.num_rows == len(records) == 5 and summary.frames == 60
    assert table.column("speaker").to_pylist() == [r.signer for r in records]
    assert table.column("orth").to_pylist() == [r.gloss for r in records]
    assert table.column("translation").to_pylist() == [r.translation for r in records]
    assert all(r.signer and r.gloss and r.translation for r in records)  # the CSV's, not empty
    assert set(table.column("dataset_layout").to_pylist()) == {"phoenix-2014-t"}
    assert set(table.column("layout").to_pylist()) == {"576 points: pose 33, face 468, left_hand 21, right_hand 21, pose_world 33"}
    assert table.schema.field("keypoints").type.value_type.list_size == 576  # world landmarks included
    rows_equal_run(path, phoenix_run, "train")
    assert pq.ParquetFile(path).num_row_groups == 5  # written clip by clip
    doc = metadata(path)
    header = read_pose_file(phoenix_run / records[0].pose_file).layout
    assert [part["name"] for part in doc["parts"]] == list(header.names)
    assert [part["points"] for part in doc["parts"]] == [list(part.points) for part in header]
    assert [part["offset"] for part in doc["parts"]] == [header.slices[name].start for name in header.names]
    info = json.loads((phoenix_run / "run.json").read_text())
    stats = json.loads((phoenix_run / "stats.json").read_text())
    assert doc["estimator"] == info["estimator"] and doc["signpose_version"] == __version__
    assert doc["stats"] == stats["train"] and doc["points"] == 576 and doc["left_out"] == []
    assert doc["label_columns"] == {"speaker": "signer", "orth": "gloss", "translation": "translation"}
    assert doc["split"] == "train" and doc["dataset_layout"] == "phoenix-2014-t" and set(doc["columns"]) >= set(COMMON)


def test_the_same_coordinates_as_the_npz_export(phoenix_run, tmp_path) -> None:
    export_parquet(phoenix_run, tmp_path / "pq")
    export_npz(phoenix_run, tmp_path / "npz")
    table = pq.read_table(tmp_path / "pq" / "train.parquet")
    points = np.concatenate([np.array(table.column("keypoints")[row].as_py(), np.float32) for row in range(table.num_rows)])
    with np.load(tmp_path / "npz" / "train.npz") as npz:
        assert points[:, :543].tobytes() == np.ascontiguousarray(npz["keypoints"][..., :3]).tobytes()
        assert points[:, 543:].tobytes() == np.ascontiguousarray(npz["world_keypoints"][..., :3]).tobytes()


def test_phoenix_2014_and_folder_layouts(tmp_path, litert_run) -> None:
    labels = {"01April_2010_Thursday_heute-6694": ("Signer04", "REGEN MORGEN", "")}
    run = labelled(tmp_path / "multi", "phoenix-2014", labels)
    export_parquet(run, tmp_path / "multi-out")
    table = pq.read_table(tmp_path / "multi-out" / "train.parquet")
    assert table.column_names == ["split", "clip_id", "signer", "annotation", *COMMON]
    assert table.column("signer").to_pylist() == ["Signer04", ""] and table.column("annotation")[0].as_py() == "REGEN MORGEN"
    rows_equal_run(tmp_path / "multi-out" / "train.parquet", run, "train")
    export_parquet(litert_run, tmp_path / "folder-out")  # frame folders: no labels
    for split in ("train", "dev"):
        path = tmp_path / "folder-out" / f"{split}.parquet"
        assert pq.read_table(path).column_names == ["split", "clip_id", *COMMON]
        assert metadata(path)["dataset_layout"] == "folder"
        rows_equal_run(path, litert_run, split)


def test_a_video_manifest_s_labels_are_kept(tmp_path) -> None:
    run = labelled(tmp_path / "videos", "video", {"03June_2011_Friday_tagesschau-7649": ("ann", "HELLO", "hello")})
    export_parquet(run, tmp_path / "out")
    table = pq.read_table(tmp_path / "out" / "dev.parquet")
    assert table.column_names == ["split", "clip_id", "signer", "gloss", "translation", *COMMON]
    assert table.to_pylist()[0]["gloss"] == "HELLO"


def test_failed_and_unreadable_clips_are_listed_never_dropped(tmp_path, capsys) -> None:
    run = build_run(tmp_path / "run", standard_clips())
    (run / "train" / "01April_2010_Thursday_tagesschau-4332.pose").write_bytes(b"damaged")
    summary = export_parquet(run, tmp_path / "out")
    kinds = {(clip.clip_id, clip.kind) for clip in summary.left_out}
    assert kinds == {("broken_clip", "failed"), ("01April_2010_Thursday_tagesschau-4332", "unreadable")}
    assert [clip.clip_id for clip in summary.unreadable] == ["01April_2010_Thursday_tagesschau-4332"]
    doc = metadata(tmp_path / "out" / "train.parquet")
    assert {(c["clip_id"], c["kind"]) for c in doc["left_out"]} == kinds and doc["clips"] == 1
    assert next(c for c in doc["left_out"] if c["kind"] == "failed")["reason"] == "cannot open"
    assert "not a readable .pose file" in next(c for c in doc["left_out"] if c["kind"] == "unreadable")["reason"]
    assert pq.read_table(tmp_path / "out" / "train.parquet").column("clip_id").to_pylist() == ["01April_2010_Thursday_heute-6694"]
    assert main(["export", str(run), str(tmp_path / "cli"), "--format", "parquet"]) == 1  # the export is not the run
    err = capsys.readouterr().err
    assert "left out train/broken_clip (failed): cannot open" in err and "2 clip(s) left out" in err
    assert "left out train/01April_2010_Thursday_tagesschau-4332 (unreadable)" in err


def test_the_same_input_gives_the_same_bytes(tmp_path) -> None:
    run = build_run(tmp_path / "run", standard_clips())
    export_parquet(run, tmp_path / "one")
    shutil.copytree(run, tmp_path / "copy")
    export_parquet(tmp_path / "copy", tmp_path / "two")  # another folder, another time: the same bytes
    for split in ("train", "dev"):
        assert (tmp_path / "one" / f"{split}.parquet").read_bytes() == (tmp_path / "two" / f"{split}.parquet").read_bytes()


def test_written_atomically(tmp_path) -> None:
    clips = [ClipSpec("train", "a", make_keypoints(0, 3)), ClipSpec("train", "b", make_keypoints(1, 3, refine=True))]
    run = build_run(tmp_path / "run", clips)
    out = tmp_path / "out"
    out.mkdir()
    (out / "train.parquet").write_bytes(b"an earlier export")
    with pytest.raises(SourceError, match="one Parquet column cannot hold both"):
        export_parquet(run, out)
    assert (out / "train.parquet").read_bytes() == b"an earlier export"  # untouched
    assert sorted(p.name for p in out.iterdir()) == ["train.parquet"]  # no temporary file left
    good = build_run(tmp_path / "good", standard_clips())
    before = (out / "train.parquet").stat().st_ino
    export_parquet(good, out)
    assert (out / "train.parquet").stat().st_ino != before  # a new file renamed into place
    assert sorted(p.name for p in out.iterdir()) == ["dev.parquet", "train.parquet"]


def test_outputs_that_cannot_be(tmp_path) -> None:
    run = labelled(tmp_path / "run", "folder", {})  # with its run.json: a run folder the guard knows
    (tmp_path / "file").write_text("x")
    with pytest.raises(SourceError, match="this path is a file"):
        export_parquet(run, tmp_path / "file")
    with pytest.raises(StoreError, match="refusing to write into it"):
        export_parquet(run, run)
    with pytest.raises(SourceError, match="no split 'test'"):
        export_parquet(run, tmp_path / "out", splits=["test"])
    summary = export_parquet(run, tmp_path / "dev-only", splits=["dev"])
    assert summary.files == (tmp_path / "dev-only" / "dev.parquet",) and summary.frames == 3


def test_a_folder_of_pose_files_exports_without_frame_names(tmp_path) -> None:
    run = build_run(tmp_path / "run", standard_clips())
    folder = tmp_path / "poses"
    shutil.copytree(run / "train", folder / "train")
    export_parquet(folder, tmp_path / "out")
    table = pq.read_table(tmp_path / "out" / "train.parquet")
    assert table.column("frame_names").to_pylist() == [None, None]  # frames have no names: matched by position
    assert table.column("source").to_pylist() == ["train/01April_2010_Thursday_heute-6694.pose", "train/01April_2010_Thursday_tagesschau-4332.pose"]
    doc = metadata(tmp_path / "out" / "train.parquet")
    assert doc["dataset_layout"] == "" and doc["estimator"] is None and doc["stats"]["frames"] == 10


def test_a_parquet_export_exports_again(tmp_path) -> None:
    run = build_run(tmp_path / "run", standard_clips())
    export_parquet(run, tmp_path / "pq")
    export_npz(run, tmp_path / "from-run")
    export_npz(tmp_path / "pq", tmp_path / "from-parquet")
    for split in ("train", "dev"):
        with np.load(tmp_path / "from-run" / f"{split}.npz") as a, np.load(tmp_path / "from-parquet" / f"{split}.npz") as b:
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


@pytest.fixture
def exported(tmp_path) -> Path:
    """The standard clips' run, exported to ``tmp_path / "out"``; the run itself."""
    run = build_run(tmp_path / "run", standard_clips())
    export_parquet(run, tmp_path / "out")
    return run


def test_read_back_with_pandas(exported, tmp_path) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed (the test extra lists it)")
    run = exported
    frame = pd.read_parquet(tmp_path / "out" / "train.parquet")
    heute = read_pose_file(run / "train" / "01April_2010_Thursday_heute-6694.pose")
    assert list(frame["clip_id"]) == ["01April_2010_Thursday_heute-6694", "01April_2010_Thursday_tagesschau-4332"]
    points = np.stack([np.stack(frame_points) for frame_points in frame["keypoints"][0]]).astype(np.float32)
    assert points.shape == (6, 543, 3) and points.tobytes() == heute.points.tobytes()
    assert np.array_equal(np.stack(frame["present"][0]), heute.present)
    both = pd.read_parquet(tmp_path / "out")  # the folder: every split
    assert sorted(both["split"].unique()) == ["dev", "train"] and len(both) == 3


def test_read_back_with_polars(exported, tmp_path) -> None:
    pl = pytest.importorskip("polars", reason="polars is not installed (the test extra lists it)")
    run = exported
    frame = pl.read_parquet(tmp_path / "out" / "train.parquet")
    heute = read_pose_file(run / "train" / "01April_2010_Thursday_heute-6694.pose")
    points = frame["keypoints"][0].to_numpy()  # polars: a list of Array(Float32, (543, 3))
    assert points.shape == (6, 543, 3) and points.astype(np.float32).tobytes() == heute.points.tobytes()
    assert frame["frames"].to_list() == [6, 4]
    assert json.loads(pl.read_parquet_metadata(tmp_path / "out" / "train.parquet")["signpose"])["points"] == 543


def test_read_back_with_hugging_face_datasets(exported, tmp_path, monkeypatch) -> None:
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed (the test extra lists it)")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = exported
    files = {"train": str(tmp_path / "out" / "train.parquet"), "dev": str(tmp_path / "out" / "dev.parquet")}
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf-cache"))
    dev = loaded["dev"].with_format("numpy")
    keypoints = read_pose_file(run / "dev" / "03June_2011_Friday_tagesschau-7649.pose")
    row = dev[0]
    assert row["clip_id"] == "03June_2011_Friday_tagesschau-7649" and row["frames"] == 3
    assert np.asarray(row["keypoints"], np.float32).tobytes() == keypoints.points.tobytes()
    assert np.array_equal(np.asarray(row["present"]), keypoints.present) and loaded["train"].num_rows == 2


def test_without_pyarrow_one_line_with_the_install_command(tmp_path, monkeypatch, capsys) -> None:
    run = build_run(tmp_path / "run", standard_clips())
    for name in [name for name in sys.modules if name == "pyarrow" or name.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow: ImportError
    with pytest.raises(DependencyError, match=r"pip install 'signpose\[parquet\]'"):
        export_parquet(run, tmp_path / "out")
    assert main(["export", str(run), str(tmp_path / "out"), "--format", "parquet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("signpose: error: ") and INSTALL in err[0]
    assert not (tmp_path / "out").exists()


def test_cli_summary(tmp_path, capsys) -> None:
    run = build_run(tmp_path / "run", standard_clips())
    assert main(["export", str(run), str(tmp_path / "out"), "--format", "parquet"]) == 0
    err = capsys.readouterr().err
    assert "13 frames of 3 clips (train, dev); 1 clip(s) left out (listed above, and in each file's metadata)" in err
    assert "left out train/broken_clip (failed): cannot open" in err
    assert LeftOut("train", "broken_clip", "failed", "x").to_json()["kind"] == "failed"
