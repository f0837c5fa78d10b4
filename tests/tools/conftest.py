"""Real runs the tools' tests share, made once per session with the litert estimator (the
default, no MediaPipe needed) on real signing frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testdata import signing_frames

# (split, clip, frames): clips of different lengths, so batches are padded
LITERT_CLIPS = (("train", "a", 4), ("train", "b", 2), ("dev", "c", 3))


def _extract(dataset: Path, out: Path) -> Path:
    from signpose.backends import make_backend
    from signpose.datasets import open_dataset
    from signpose.estimators import EstimatorSpec
    from signpose.extract.driver import extract

    summary = extract(open_dataset(dataset), out, EstimatorSpec.of("litert", {}), make_backend("local", 1))
    assert not summary.failed, summary.failed
    return out


@pytest.fixture(scope="session")
def litert_run(tmp_path_factory) -> Path:
    """A real run of a frame-folder dataset (PHOENIX's 210x260, every 6th frame of a
    shipped ASL video): train/a (4 frames), train/b (2), dev/c (3)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("litert")
    frames = iter(signing_frames(count=sum(n for _, _, n in LITERT_CLIPS), step=6))
    for split, clip, count in LITERT_CLIPS:
        (root / "data" / split / clip).mkdir(parents=True)
        for index in range(count):
            Image.fromarray(next(frames)).save(root / "data" / split / clip / f"images{index + 1:04d}.png")
    return _extract(root / "data", root / "run")


@pytest.fixture(scope="session")
def phoenix_run(tmp_path_factory, phoenix_t_root) -> Path:
    """A real run of the PHOENIX-2014-T-shaped dataset (5 clips of 12 real frames, with
    the CSV's speakers, glosses and translations)."""
    return _extract(phoenix_t_root, tmp_path_factory.mktemp("phoenix-run") / "run")
