"""Dataset readers: list the clips of a dataset without decoding (or even listing) frames."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from signpose.model.clip import Clip, Dataset
from signpose.errors import DatasetError
from signpose.datasets import folder, phoenix, video

__all__ = [
    "LAYOUTS",
    "READERS",
    "DatasetError",
    "Layout",
    "LayoutReader",
    "detect_layout",
    "open_dataset",
]

# Keep in step with READERS (a test checks): type checkers need the names spelled out.
Layout = Literal["auto", "phoenix-2014-t", "phoenix-2014", "video", "folder"]


@dataclass(frozen=True)
class LayoutReader:
    """One dataset layout.

    ``detect(root)`` says whether ``root`` looks like this layout (cheaply: no frame listing).
    ``read(root)`` returns the dataset folder it actually used (e.g. ``root/PHOENIX-2014-T``)
    and the available splits in dataset order, each mapped to its clips in order; the clip
    iterables may be lazy, so unselected splits and rows past the limit cost nothing.
    ``description`` tells a user what folder structure the layout expects.
    """

    name: str
    detect: Callable[[Path], bool]
    read: Callable[[Path], tuple[Path, Mapping[str, Iterable[Clip]]]]
    description: str


# Auto-detection tries these in order; the first whose detect() accepts the root wins.
READERS: tuple[LayoutReader, ...] = (
    LayoutReader("phoenix-2014-t", phoenix.detect_2014_t, phoenix.read_2014_t, phoenix.DESCRIPTION_2014_T),
    LayoutReader("phoenix-2014", phoenix.detect_2014, phoenix.read_2014, phoenix.DESCRIPTION_2014),
    LayoutReader("video", video.detect_video, video.read_video, video.DESCRIPTION),
    LayoutReader("folder", folder.detect_folder, folder.read_folder, folder.DESCRIPTION),
)

LAYOUTS: tuple[str, ...] = ("auto", *(reader.name for reader in READERS))


class _BadArgument(DatasetError, ValueError):
    """A bad argument: catchable as DatasetError (CLI) or ValueError (library callers)."""


def _check_root(root: Path | str) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        if path.suffix.lower() in video.VIDEO_EXTENSIONS:
            raise DatasetError(f"{root}: video file not found")
        raise DatasetError(f"{root}: dataset folder not found")
    if not path.is_dir() and not video.is_video_file(path) and not video.is_manifest(path):
        raise DatasetError(
            f"{root}: is a file, not a dataset folder (nor a video file "
            f"{'/'.join(sorted(video.VIDEO_EXTENSIONS))}, nor a video manifest .csv with a 'path' column)"
        )
    # Absolute, so clip sources stay valid for workers with another working directory.
    return path.absolute()


def _choose(path: Path, root: Path | str, layout: str) -> LayoutReader:
    if layout == "auto":
        for reader in READERS:
            if reader.detect(path):
                return reader
        accepted = "\n".join(f"  {reader.name}: {reader.description}" for reader in READERS)
        raise DatasetError(f"{root}: no dataset layout recognised; accepted layouts:\n{accepted}")
    for reader in READERS:
        if reader.name == layout:
            if path.is_file() and reader.name != "video":
                raise DatasetError(f"{root}: a file; the {layout} layout reads a folder (a file is read by layout video or auto)")
            return reader
    raise _BadArgument(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")


def detect_layout(root: Path | str) -> str:
    """The layout ``open_dataset(root)`` would use; DatasetError if none fits."""
    return _choose(_check_root(root), root, "auto").name


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    try:
        value = operator.index(limit)  # accepts numpy ints, refuses floats and strings
    except TypeError:
        raise _BadArgument(f"max_samples_per_split must be an integer >= 1, got {limit!r}") from None
    if value < 1 or isinstance(limit, bool):
        raise _BadArgument(f"max_samples_per_split must be an integer >= 1, got {limit!r}")
    return value


def _select(root: Path | str, available: Sequence[str], splits: Sequence[str] | None) -> list[str]:
    if splits is None:
        return list(available)
    # A bare string is a Sequence[str] too; "train" must not mean splits t, r, a, i, n.
    wanted = [splits] if isinstance(splits, str) else list(splits)
    if not wanted:
        raise _BadArgument("splits=[] selects nothing; pass None for every split")
    unknown = [split for split in wanted if split not in available]
    if unknown:
        raise DatasetError(
            f"{root}: no split {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(available) or 'none'}"
        )
    # Dataset order, whatever order the caller named them in.
    return [split for split in available if split in wanted]


def open_dataset(
    root: Path | str,
    layout: Layout = "auto",
    splits: Sequence[str] | None = None,
    max_samples_per_split: int | None = None,
) -> Dataset:
    """List the clips of the dataset at ``root``.

    ``layout="auto"`` tries PHOENIX-2014-T, then PHOENIX-2014 multisigner, then video
    files (or one video file, or a ``.csv`` manifest, given as ``root``), then plain frame folders. ``splits`` keeps only the named splits (dataset order is kept);
    ``max_samples_per_split=N`` keeps the first N clips of each split. Clip folders are
    not checked: a missing one is listed anyway and reported by the worker. The returned
    ``Dataset.root`` is the folder the layout was found in, or the video file or manifest
    given as ``root`` (absolute).
    """
    limit = _check_limit(max_samples_per_split)
    path = _check_root(root)
    reader = _choose(path, root, layout)
    base, available = reader.read(path)
    selected = _select(root, list(available), splits)
    clips = tuple(clip for split in selected for clip in itertools.islice(available[split], limit))
    return Dataset(root=base, layout=reader.name, clips=clips)
