"""Split and clip names are checked against the run folder's own namespace: a split may not
be one of the run's files (index.jsonl, stats.json, run.json, logs, .lock), and no name may
be hidden or look like a temporary file (those are swept). Such clips are failed clips,
with the reason; the run's own files stay whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signpose.errors import StoreError
from signpose.run.store import RunStore, run_name, safe_name
from tests.e2e_helpers import signpose
from tests.testdata import testdata


@pytest.mark.parametrize("split", ["index.jsonl", "stats.json", "run.json", "logs", ".lock", ".hidden", "a.tmp-1"])
def test_a_split_may_not_take_a_name_of_the_run(tmp_path: Path, split: str) -> None:
    with pytest.raises(StoreError, match=f"refusing to write split {split!r}"):
        RunStore(tmp_path).pose_relpath(split, "clip")
    with pytest.raises(StoreError):
        RunStore(tmp_path).write_log(split, "clip", "traceback")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("clip_id", [".hidden", "x.tmp-1", "x.pose.tmp-123"])
def test_a_clip_id_may_not_be_hidden_or_look_temporary(tmp_path: Path, clip_id: str) -> None:
    with pytest.raises(StoreError, match=f"refusing to write clip id {clip_id!r}"):
        RunStore(tmp_path).write_pose("train", clip_id, b"data")
    assert list(tmp_path.iterdir()) == []


def test_ordinary_names_are_accepted() -> None:
    for name in ("train", "dev", "01April_2010_Thursday_heute-6694", "clip.with.dots", "logs.txt"):
        assert run_name(name, "split") == name
    assert run_name("logs", "clip id") == "logs"  # train/logs.pose is no file of the run
    assert safe_name(".hidden", "split") == ".hidden"  # safe_name alone keeps its old contract


def test_manifest_clips_named_like_the_runs_files_are_failed_clips(tmp_path: Path) -> None:
    video = testdata("signing", "slp_site_asl_different.mp4")
    manifest = tmp_path / "clips.csv"
    manifest.write_text(
        "path,split,clip_id\n"
        f"{video},index.jsonl,a\n"
        f"{video},train,x.tmp-1\n"
        f"{video},train,.hidden\n"
        f"{video},logs,b\n",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    result = signpose("extract", manifest, "-o", run, "--workers", 1, "--quiet", check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    for split, clip, name in (("index.jsonl", "a", "split 'index.jsonl'"), ("train", "x.tmp-1", "clip id 'x.tmp-1'"),
                              ("train", ".hidden", "clip id '.hidden'"), ("logs", "b", "split 'logs'")):  # fmt: skip
        assert f"FAILED {split}/{clip}: refusing to write {name}" in result.stderr, result.stderr[-3000:]
    assert (run / "index.jsonl").is_file()
    records = [json.loads(line) for line in (run / "index.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["status"] == "failed" and r["error_kind"] == "input" for r in records)
    assert sorted(p.name for p in run.iterdir()) == ["index.jsonl", "run.json", "stats.json"]
    assert json.loads((run / "stats.json").read_text())["index.jsonl"]["failed_clips"] == 1
