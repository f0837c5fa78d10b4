"""export, report and render never write over a run folder's own files (index, stats,
run info, lock, logs, split folders, .pose files) nor into a run folder itself: exit 2
with one line, the run untouched. A new file next to them is fine. The pickle export to
an existing folder is one clear line too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from signpose.backends.local import LocalBackend
from signpose.cli.main import main
from signpose.datasets import open_dataset
from signpose.errors import StoreError
from signpose.estimators import EstimatorSpec
from signpose.extract.driver import extract
from signpose.run.guard import check_output_path
from tests.toy_cli import make_toy_dataset


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A MediaPipe run (of tiny frames: nothing detected, but the keypoints pickle's parts, so
    the pickle export works on it too)."""
    base = tmp_path_factory.mktemp("guard")
    out = base / "run"
    summary = extract(open_dataset(make_toy_dataset(base / "data", clips=2, frames=2)), out, EstimatorSpec(), LocalBackend(1))
    assert not summary.failed
    (out / "logs").mkdir()  # as an internal error leaves it
    return out


@pytest.fixture
def run(base_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(base_run, out)
    return out


def _snapshot(run: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(run)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(run.rglob("*")) if p.is_file()} | {
        str(p.relative_to(run)): (b"<dir>", 0) for p in run.rglob("*") if p.is_dir()
    }


def _refused(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("signpose: error: "), err
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["export", "{run}", "{run}/index.jsonl"],
        ["export", "{run}", "{run}/stats.json"],
        ["export", "{run}", "{run}/run.json"],
        ["export", "{run}", "{run}/.lock"],
        ["export", "{run}", "{run}/train/clip0.pose"],
        ["export", "{run}", "{run}/train/new.pkl"],
        ["export", "{run}", "{run}/logs/x.pkl"],
        ["export", "{run}", "{run}", "--format", "npz"],
        ["export", "{run}", "{run}/train", "--format", "npz"],
        ["report", "{run}", "-o", "{run}/index.jsonl"],
        ["report", "{run}", "-o", "{run}/run.json"],
        ["report", "{run}", "-o", "{run}/train/report.html"],
        ["render", "{run}", "train/clip0", "-o", "{run}/train/clip0.png"],
        ["render", "{run}", "train/clip0", "-o", "{run}/logs/clip0.gif"],
    ],
)
def test_outputs_never_write_over_a_run(run: Path, capsys, command: list[str]) -> None:
    before = _snapshot(run)
    line = _refused(capsys, [part.format(run=run) for part in command])
    assert str(run) in line and ("signpose run" in line or ".pose file" in line), line
    assert _snapshot(run) == before


def test_the_pickle_export_to_an_existing_folder_is_one_line(run: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    line = _refused(capsys, ["export", str(run), str(folder)])
    assert f"{folder}: is a folder; the pickle export writes one file" in line
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["exports", "run"]


def test_a_new_file_next_to_the_runs_files_is_fine(run: Path, capsys) -> None:
    assert main(["report", str(run), "-o", str(run / "report.html")]) == 0
    assert (run / "report.html").is_file()
    (run / "report.html").unlink()
    check_output_path(run / "exports" / "all.pkl")
    check_output_path(run.parent / "elsewhere.pkl")


def test_a_symlink_into_a_run_is_seen_through(run: Path, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(run)
    with pytest.raises(StoreError, match="part of the signpose run"):
        check_output_path(tmp_path / "link" / "index.jsonl")
