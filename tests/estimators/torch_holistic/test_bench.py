"""The torch estimator's benchmark (GPU mode of the bench), run on the CPU on a few real
signing frames: from a video and from a folder of PNGs, every stage reported, the table and
the JSON agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from signpose.estimators.torch_holistic import bench  # noqa: E402
from tests.testdata import signing_frames, testdata  # noqa: E402

STAGES = ["decode wait", "upload", "crop/warp", *(f"net {name}" for name in bench.NETS), "geometry (host)", "pack", "write (.pose bytes)"]


@pytest.fixture(scope="module")
def video() -> Path:
    return testdata("signing") / "slp_site_asl_house.mp4"


def test_bench_from_a_video_at_phoenix_size(video: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert bench.main([str(video), "--device", "cpu", "--frames", "4", "--batch", "2", "4", "--threads", "2", "--net-batch", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["frame_size"] == "210x260" and report["device"] == "cpu" and report["dtype"] == "float32"
    assert report["frames"] == 4 and report["decode_frames_per_s"] > 0
    assert [row["batch"] for row in report["rows"]] == [2, 4]
    for row in report["rows"]:
        assert row["frames"] == 4 and row["frames_per_s"] > 0 and row["pose_bytes"] > 0
        assert list(row["stages_s"]) == STAGES
        assert row["stages_s"]["net pose_landmark"] > 0 and row["stages_s"]["crop/warp"] > 0
        assert row["found"]["pose"] == 4  # a signer in every frame
        assert row["seconds"] >= sum(row["stages_s"].values()) - row["stages_s"]["decode wait"] - 0.05
        host = row["stages_s"]["geometry (host)"] + row["stages_s"]["pack"] + row["stages_s"]["write (.pose bytes)"]
        assert row["host_seconds"] == pytest.approx(host, abs=2e-4) and row["host_frames_per_s"] > 0
    printed = capsys.readouterr().out
    table, _, text = printed.partition("\n\n{")
    assert json.loads("{" + text) == report
    assert row["syncs_per_batch"] <= 6 and "| host-device synchronisations per batch |" in table
    assert "| **end to end** |" in table and "| net hand_landmark |" in table and "| write (.pose bytes) |" in table
    assert "| host work: geometry + pack + write (one worker's ceiling) |" in table


def test_bench_from_a_folder_of_pngs(video: Path, tmp_path: Path, capsys) -> None:
    frames = tmp_path / "train" / "clip"
    frames.mkdir(parents=True)
    for index, rgb in enumerate(signing_frames(video.name, size=None, count=3)):
        cv2.imwrite(str(frames / f"images{index + 1:04d}.png"), cv2.resize(rgb, (210, 260), interpolation=cv2.INTER_AREA)[..., ::-1])
    assert bench.main([str(tmp_path), "--device", "cpu", "--frames", "4", "--batch", "4", "--threads", "1", "--net-batch", "4"]) == 0
    report = json.loads("{" + capsys.readouterr().out.partition("\n\n{")[2])
    assert report["source"] == f"3 PNG files under {tmp_path}" and report["frames"] == 4  # cycled
    assert report["frame_size"] == "210x260" and report["rows"][0]["found"]["pose"] == 4
