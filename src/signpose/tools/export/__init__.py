"""Exports: a run (or a folder of .pose files, or a Parquet export) written as something
else, one clip in memory at a time. ``export`` picks the writer by format: ``pickle`` (the
keypoints pickle, ``keypoints_pickle.py``), ``npz`` (``npz.py``), ``parquet`` (``parquet.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from signpose.tools.export.common import ExportSummary, LeftOut

__all__ = ["FORMATS", "ExportSummary", "Format", "LeftOut", "export"]

Format = Literal["pickle", "npz", "parquet"]
FORMATS: tuple[Format, ...] = ("pickle", "npz", "parquet")


def export(path: Path, out: Path, *, format: Format = "pickle", splits: Sequence[str] | None = None) -> ExportSummary:
    """Export ``path`` (a run folder, a folder of .pose files or a Parquet export) to ``out``."""
    if format == "npz":
        from signpose.tools.export.npz import export_npz

        return export_npz(path, out, splits=splits)
    if format == "parquet":
        from signpose.tools.export.parquet import export_parquet

        return export_parquet(path, out, splits=splits)
    from signpose.tools.export.keypoints_pickle import export_pickle

    return export_pickle(path, out, splits=splits)
