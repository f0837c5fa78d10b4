"""Shared fixtures: the real test data folder, and a PHOENIX-2014-T-shaped dataset made
from real signing videos (built once per session: decoding and resizing takes seconds)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.testdata import locate
from tests.testdata import testdata as require_testdata  # tests/data, else ../shared/testdata, else skip

REPO = Path(__file__).resolve().parents[1]


def signals_as_in_a_terminal() -> None:
    """``preexec_fn`` for a CLI a test starts as a terminal would: Ctrl-C (SIGINT), SIGQUIT and
    a closing terminal (SIGHUP) at their defaults, even where the tests themselves run with
    them ignored (a background job of a shell without job control ignores SIGINT; nohup,
    SIGHUP), which Python and signpose rightly keep."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
# Official-format PHOENIX-2014-T rows with clearly synthetic names, for when the real
# (research-use) CSV in ../shared/testdata is absent: a fresh clone still gets the layout.
SYNTHETIC_T_CSV = """name|video|start|end|speaker|orth|translation
01January_2000_Saturday_synthetic-1|01January_2000_Saturday_synthetic-1/1/*.png|-1|-1|Signer01|SYNTHETISCH MORGEN WETTER|synthetische zeile eins: morgen regen
01January_2000_Saturday_synthetic-2|01January_2000_Saturday_synthetic-2/1/*.png|-1|-1|Signer02|SYNTHETISCH SONNE|synthetische zeile zwei: im süden sonne
01January_2000_Saturday_synthetic-3|01January_2000_Saturday_synthetic-3/1/*.png|-1|-1|Signer03|SYNTHETISCH WIND NORD|synthetische zeile drei: wind aus nord
02January_2000_Sunday_synthetic-4|02January_2000_Sunday_synthetic-4/1/*.png|-1|-1|Signer04|SYNTHETISCH SCHNEE BERG|synthetische zeile vier: schnee in den bergen
02January_2000_Sunday_synthetic-5|02January_2000_Sunday_synthetic-5/1/*.png|-1|-1|Signer05|SYNTHETISCH TEMPERATUR|synthetische zeile fünf: temperaturen um null grad
"""


@pytest.fixture(scope="session")
def phoenix_t_root(tmp_path_factory) -> Path:
    """Release root of a PHOENIX-2014-T-shaped dataset: 5 clips of 12 real signing frames
    each, 210×260 PNGs; clip names, signers and texts from the real CSV in
    ../shared/testdata, or from SYNTHETIC_T_CSV (same format) where that is absent."""
    from bench.dataset import build_phoenix_t, real_rows

    videos = sorted(require_testdata("signing").glob("slp_*.mp4"))
    base = tmp_path_factory.mktemp("phoenix")
    csv = locate("phoenix", "PHOENIX-2014-T", "annotations", "manual", "PHOENIX-2014-T.train.corpus.csv")
    if not csv.is_file():
        csv = base / "synthetic.train.corpus.csv"
        csv.write_text(SYNTHETIC_T_CSV, encoding="utf-8")
    rows = real_rows(csv, 5)
    release = base / "PHOENIX-2014-T-release-v3"
    build_phoenix_t(release / "PHOENIX-2014-T", videos, rows, frames_per_clip=12, start_offsets=(0, 20))
    return release
