"""The one opener of what the tools read: a run folder, a folder of .pose files, a
keypoints pickle, or a Parquet export (a folder of ``<split>.parquet``, or one such file).

``open_input`` tells them apart: a folder holding ``index.jsonl`` is a run; a folder with
``*.parquet`` files directly in it is a Parquet export; any other folder is a folder of
.pose files; a file that starts with Parquet's magic bytes is one Parquet file; any other
file is a keypoints pickle. Every input then answers the same questions (``Input``): its
splits and stats, its clips in order (streamed: exports hold one clip at a time), one
clip's keypoints, a clip found by name (render) and one clip's arrays (verify).
"""

from __future__ import annotations

from pathlib import Path

from signpose.errors import SourceError
from signpose.run.names import INDEX
from signpose.tools.inputs.base import Input, InputClip, InputInfo, trusted
from signpose.tools.inputs.keypoints_pickle import PickleInput
from signpose.tools.inputs.posefolder import PoseFolderInput
from signpose.tools.inputs.run import RunInput

__all__ = ["Input", "InputClip", "InputInfo", "PickleInput", "PoseFolderInput", "RunInput", "open_input", "trusted"]


def open_input(path: Path | str) -> Input:
    path = Path(path)
    if path.is_dir():
        if (path / INDEX).is_file():
            return RunInput(path)
        from signpose.tools.inputs.parquet import ParquetInput, holds_parquet

        return ParquetInput.open(path) if holds_parquet(path) else PoseFolderInput(path)
    if path.is_file():
        from signpose.formats.parquet import is_parquet

        if is_parquet(path):
            from signpose.tools.inputs.parquet import ParquetInput

            return ParquetInput.open(path)
        return PickleInput(path)
    raise SourceError(f"{path}: no such file or folder")
