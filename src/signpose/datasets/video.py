"""Video files: a folder of videos, with or without split folders, or a CSV manifest.

Folder: ``<root>/**/<clip>.<ext>`` is one split, ``all``. When ``<root>`` holds no video
directly, each immediate subfolder that holds videos (at any depth) is a split instead:
``<root>/<split>/**/<clip>.<ext>``. Subfolders without videos are ignored.

Clip ids: the video's path relative to its split folder, without the extension, with
``/`` replaced by ``__``: ``train/signer1/hello.mp4`` is clip ``signer1__hello`` of split
``train``. The run folder keeps one flat folder per split (the store refuses ids with a
path separator), and the id stays readable and traceable back to the file.

One file: a single video file passed as the dataset root (by extension, the same set as
in a folder) is a dataset of one clip, split ``all`` (as in a folder without split
folders), clip id the file's stem: ``/data/hello.mp4`` is clip ``hello`` of split ``all``.

Manifest: a ``.csv`` file passed as the dataset root, header ``path,split,clip_id`` (only
``path`` is required; optional ``signer``, ``gloss``, ``translation`` columns are kept).
Paths are relative to the CSV's folder, or absolute. An empty split means ``all``; an
empty clip id is made from the path as above (an absolute path gives its file name).
Rows stay in file order; a listed file that does not exist is still listed, and the
worker reports it as a failed clip.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path, PurePath

from signpose.model.clip import Clip
from signpose.errors import DatasetError
from signpose.files import is_image_name, natural_key
from signpose.run.guard import holds_run

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})
ALL_SPLIT = "all"
# Known split names come first in this order; any others follow in natural order.
SPLIT_ORDER: tuple[str, ...] = ("train", "dev", "val", "validation", "test")
MANIFEST_SUFFIX = ".csv"
OPTIONAL_COLUMNS: tuple[str, ...] = ("split", "clip_id", "signer", "gloss", "translation")
ID_SEPARATOR = "__"

DESCRIPTION = (
    "<root>/**/<clip>.{mp4,mov,avi,mkv,webm} (split 'all'), <root>/<split>/**/<clip>.<ext>, "
    "one video file <clip>.<ext> (split 'all'), or a manifest .csv file with header path,split,clip_id"
)

Listing = tuple[Path, dict[str, Iterable[Clip]]]


def is_video_name(name: str) -> bool:
    """Visible file name with a video extension (case-insensitive)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def _scan(folder: Path) -> tuple[list[str], list[str], bool]:
    """Visible subfolders and video files (natural order), and whether an image is there."""
    subfolders: list[str] = []
    videos: list[str] = []
    has_image = False
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if not holds_run(Path(entry.path)):  # a run folder is never part of the dataset
                        subfolders.append(entry.name)
                elif is_video_name(entry.name) and entry.is_file():
                    videos.append(entry.name)
                elif not has_image and is_image_name(entry.name):
                    has_image = True
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    subfolders.sort(key=natural_key)
    videos.sort(key=natural_key)
    return subfolders, videos, has_image


def _first_media(folder: Path, seen: set[str]) -> str | None:
    """``"video"`` or ``"image"``: what the first folder holding media (depth first, in
    natural order) holds. Stops there, so telling a frame dataset from a video dataset
    costs a few folder listings, never a walk over a million frames."""
    real = os.path.realpath(folder)
    if real in seen:  # a symlink loop
        return None
    seen.add(real)
    subfolders, videos, has_image = _scan(folder)
    if videos:
        return "video"
    if has_image:
        return "image"
    for name in subfolders:
        found = _first_media(folder / name, seen)
        if found:
            return found
    return None


def _walk(folder: Path, seen: set[str]) -> list[PurePath]:
    """Every video under ``folder``, as paths relative to it, in natural order."""
    real = os.path.realpath(folder)
    if real in seen:
        return []
    seen.add(real)
    subfolders, videos, _ = _scan(folder)
    found = [PurePath(name) for name in videos]
    for name in subfolders:
        found += [PurePath(name) / path for path in _walk(folder / name, seen)]
    return sorted(found, key=lambda path: tuple(natural_key(part) for part in path.parts))


def clip_id_for(relative: PurePath) -> str:
    """``signer1/hello.mp4`` -> ``signer1__hello``."""
    return ID_SEPARATOR.join((*relative.parent.parts, relative.stem))


def _clips(split: str, folder: Path) -> list[Clip]:
    clips: dict[str, Clip] = {}
    for relative in _walk(folder, set()):
        clip_id = clip_id_for(relative)
        if clip_id in clips:
            raise DatasetError(
                f"{folder}: {clips[clip_id].source.name} and {relative} would both be clip {clip_id!r} of split "
                f"{split!r}; rename one (clip ids are the path without extension, '/' as '{ID_SEPARATOR}')"
            )
        clips[clip_id] = Clip(split=split, clip_id=clip_id, source=folder / relative, kind="video")
    return list(clips.values())


def is_video_file(path: Path) -> bool:
    """An existing file with a video extension (case-insensitive): a one-clip dataset."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()


def _read_one_file(path: Path) -> Listing:
    """One video file: one clip, split ``all``, id the file's stem."""
    return path, {ALL_SPLIT: [Clip(split=ALL_SPLIT, clip_id=path.stem, source=path, kind="video")]}


def is_manifest(path: Path) -> bool:
    """A ``.csv`` file whose header has a ``path`` column."""
    if path.suffix.lower() != MANIFEST_SUFFIX or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return "path" in (column.strip() for column in header)


def detect_video(root: Path) -> bool:
    if root.is_file():
        return is_video_file(root) or is_manifest(root)
    return _first_media(root, set()) == "video"


def _split_key(split: str) -> tuple[int, tuple]:
    order = {name: i for i, name in enumerate(SPLIT_ORDER)}
    return order.get(split, len(order)), natural_key(split)


def _read_folder(root: Path) -> Listing:
    subfolders, videos, _ = _scan(root)
    if videos:
        return root, {ALL_SPLIT: _clips(ALL_SPLIT, root)}
    splits = {name: _clips(name, root / name) for name in subfolders}
    splits = {name: clips for name, clips in splits.items() if clips}
    if not splits:
        raise DatasetError(f"{root}: no video files found; a video dataset is {DESCRIPTION}")
    return root, {name: splits[name] for name in sorted(splits, key=_split_key)}


def _manifest_clip(csv_path: Path, line: int, row: dict[str, str | None]) -> Clip:
    text = {key: (value or "").strip() for key, value in row.items() if key is not None}
    if not text.get("path"):
        raise DatasetError(f"{csv_path}, line {line}: empty 'path' column")
    listed = Path(text["path"])
    source = listed if listed.is_absolute() else csv_path.parent / listed
    if text.get("clip_id"):
        clip_id = text["clip_id"]
    else:
        parts = PurePath(text["path"].replace("\\", "/"))
        relative = PurePath(parts.name) if parts.is_absolute() else PurePath(*[p for p in parts.parts if p not in (".", "..")])
        clip_id = clip_id_for(relative)
    return Clip(
        split=text.get("split") or ALL_SPLIT,
        clip_id=clip_id,
        source=source,
        kind="video",
        signer=text.get("signer", ""),
        gloss=text.get("gloss", ""),
        translation=text.get("translation", ""),
    )


def _read_manifest(csv_path: Path) -> Listing:
    splits: dict[str, list[Clip]] = {}
    lines: dict[tuple[str, str], int] = {}
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [column.strip() for column in reader.fieldnames or []]
            if "path" not in columns:
                raise DatasetError(f"{csv_path}: header {','.join(columns)!r} lacks a 'path' column; expected path,split,clip_id")
            reader.fieldnames = columns
            for row in reader:
                if not any((value or "").strip() for key, value in row.items() if key is not None):
                    continue
                clip = _manifest_clip(csv_path, reader.line_num, row)
                key = (clip.split, clip.clip_id)
                if key in lines:
                    raise DatasetError(
                        f"{csv_path}, line {reader.line_num}: clip {clip.clip_id!r} of split {clip.split!r} "
                        f"is already on line {lines[key]}"
                    )
                lines[key] = reader.line_num
                splits.setdefault(clip.split, []).append(clip)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{csv_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DatasetError(f"{csv_path}: not a valid CSV file ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{csv_path}: cannot read ({exc.strerror or exc})") from None
    if not splits:
        raise DatasetError(f"{csv_path}: the manifest lists no videos")
    return csv_path, dict(splits)


def read_video(root: Path) -> Listing:
    """Every video clip, split by split: folder listings in natural order, manifests in
    file order, one video file as its one clip. fps unknown (None): the worker reads the
    exact rate from each file."""
    if root.is_file():
        if is_video_file(root):
            return _read_one_file(root)
        if not is_manifest(root):
            raise DatasetError(
                f"{root}: neither a video file ({', '.join(sorted(VIDEO_EXTENSIONS))}) nor a video manifest "
                "(a .csv file with header path,split,clip_id)"
            )
        return _read_manifest(root)
    return _read_folder(root)
