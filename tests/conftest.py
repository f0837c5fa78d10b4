"""Shared fixtures: the real test data folder, and a PHOENIX-2014-T-shaped dataset made
from real signing videos (built once per session: decoding and resizing takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTDATA = (REPO / ".." / "shared" / "testdata").resolve()
SIGNING = TESTDATA / "signing"
PHOENIX_T_CSV = TESTDATA / "phoenix" / "PHOENIX-2014-T" / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv"


def require_testdata(*parts: str) -> Path:
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/testdata ({path} is absent): real data is only there")
    return path


@pytest.fixture(scope="session")
def phoenix_t_root(tmp_path_factory) -> Path:
    """Release root of a PHOENIX-2014-T-shaped dataset: 5 clips (real clip names, signers
    and texts from the real CSV) of 12 real signing frames each, 210×260 PNGs."""
    from bench.dataset import build_phoenix_t, real_rows

    videos = sorted(require_testdata("signing").glob("slp_*.mp4"))
    rows = real_rows(require_testdata("phoenix", "PHOENIX-2014-T", "annotations", "manual", "PHOENIX-2014-T.train.corpus.csv"), 5)
    release = tmp_path_factory.mktemp("phoenix") / "PHOENIX-2014-T-release-v3"
    build_phoenix_t(release / "PHOENIX-2014-T", videos, rows, frames_per_clip=12, start_offsets=(0, 20))
    return release
