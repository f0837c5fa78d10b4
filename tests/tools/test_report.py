"""HTML run report: contents, escaping, self-containment, and a real headless browser."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from signpose.cli.main import main
from signpose.tools.report import ReportError, write_report

from tests.testdata import signing_frames  # tests/data, else ../shared/testdata

CHROMIUM = Path("/usr/bin/chromium")
ODD_NAME = "x<b>y&z"  # a clip folder name that must come out escaped


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real extraction of a small frame-folder dataset: a signing clip, a clip with a
    broken frame, a clip with nobody in it, and an empty (failed) clip."""
    from signpose.backends import make_backend
    from signpose.datasets import open_dataset
    from signpose.estimators import EstimatorSpec
    from signpose.extract.driver import extract

    root = tmp_path_factory.mktemp("report")
    data = root / "data"
    images = signing_frames(size=None, first=30, count=8)  # RGB, at the video's size
    for clip, picked in (("signing", images[0:6]), ("partial", images[4:8])):
        (data / "train" / clip).mkdir(parents=True)
        for i, image in enumerate(picked):
            Image.fromarray(image).save(data / "train" / clip / f"{i:04d}.png")
    (data / "train" / "partial" / "0009.png").write_bytes(b"not a png")
    (data / "test" / "nobody").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(data / "test" / "nobody" / f"{i}.png")
    (data / "test" / ODD_NAME).mkdir()
    extract(open_dataset(data), root / "run", EstimatorSpec(), make_backend("local", 1))
    return root / "run"


def test_report_sections(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    summary = write_report(run, out, lowest=2)
    page = out.read_text(encoding="utf-8")
    assert (summary.clips, summary.failed_clips, summary.clips_with_failed_frames, summary.thumbnails) == (4, 1, 1, 2)
    assert summary.bytes == out.stat().st_size
    info = json.loads((run / "run.json").read_text())
    provenance = info["estimator"]["provenance"]
    for digest in provenance["model_sha256"].values():
        assert digest in page
    versions = [value for key, value in provenance.items() if key.endswith("_version")]  # whichever estimator ran
    assert versions
    for text in ("Detection per split", "<svg", "Lowest hand detection", "Failed clips (1)",
                 "Clips with failed frames (1)", "0009.png", info["estimator"]["name"], *versions, "frames/s",
                 "start-up included", "body (world)", info["machine"]["cpu"]):
        assert text in page
    # Human labels for every run field: no raw key names in the run table.
    run_table = page[page.index("<h2>Run</h2>") : page.index("<h3>Estimator</h3>")]
    for key in ("processing_seconds", "frames_per_second", "elapsed_seconds", "clips_total"):
        assert key not in run_table
    assert page.count('src="data:image/jpeg;base64,') == 2
    lowest = page[page.index("Lowest hand detection") : page.index("Failed clips")]
    assert lowest.index("test/nobody") < lowest.index("train/")  # no hands at all comes first
    assert "x&lt;b&gt;y&amp;z" in page and ODD_NAME not in page
    # Self-contained: nothing to fetch, nothing to run.
    assert not re.search(r"<script|<link|<iframe|url\(|src=\"(?!data:)|href=", page, re.IGNORECASE)


def test_lowest_zero_and_moved_dataset(run: Path, tmp_path: Path) -> None:
    assert write_report(run, tmp_path / "none.html", lowest=0).thumbnails == 0
    assert "<img" not in (tmp_path / "none.html").read_text(encoding="utf-8")
    data = run.parent / "data"
    moved = run.parent / "moved"
    data.rename(moved)
    try:  # keypoints drawn on a blank canvas instead
        assert write_report(run, tmp_path / "moved.html", lowest=3).thumbnails == 3
        assert (tmp_path / "moved.html").read_text(encoding="utf-8").count("data:image/jpeg") == 3
    finally:
        moved.rename(data)


def test_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReportError, match="not a signpose run"):
        write_report(tmp_path, tmp_path / "r.html")
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "not a signpose run" in capsys.readouterr().err


def test_cli(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run), "-o", str(tmp_path / "r.html"), "--lowest", "1"]) == 0
    assert "4 clips, 1 failed, 1 with failed frames, 1 thumbnails" in capsys.readouterr().err


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([str(CHROMIUM), *flags, *arguments], capture_output=True, text=True, timeout=120)


def test_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (install the Debian package 'chromium' to run the browser check)")
    report = tmp_path / "report.html"
    write_report(run, report, lowest=2)
    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri(), profile=tmp_path / "p1")
    assert shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "p2").stdout
    for text in ("<h2>Run</h2>", "<h2>Detection per split</h2>", "Lowest hand detection", "Failed clips (1)", "<svg"):
        assert text in dom
    assert dom.count("<img") == 2
