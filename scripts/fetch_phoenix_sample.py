"""Unpack the real PHOENIX-2014-T sample that the sign-language-datasets package ships.

Two real frames of clip 25October_2010_Monday_tagesschau-17 per split, in the official
release layout, with one-row official CSVs. The wheel comes from PyPI (pip download); only
its PHOENIX dummy data is unpacked, to ``DEST/PHOENIX-2014-T-release-v3``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "sign-language-datasets==0.4.0"
PREFIX = "sign_language_datasets/datasets/rwth_phoenix2014_t/dummy_data/annotations/"


def fetch(dest: Path) -> Path:
    release = dest / "PHOENIX-2014-T-release-v3"
    if release.is_dir():
        return release
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PACKAGE, "-d", download], check=True
        )
        wheel = next(Path(download).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith(PREFIX) and not name.endswith("/"):
                    target = dest / name[len(PREFIX):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
    return release


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1] if len(sys.argv) > 1 else "build/sample")))
