"""Plain frame folders: ``<root>/<clip>/<frames>`` or ``<root>/<split>/<clip>/<frames>``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from signpose.model.clip import Clip
from signpose.errors import DatasetError
from signpose.files import is_image_name, natural_key
from signpose.run.guard import holds_run

ALL_SPLIT = "all"
# Known split names come first, in the PHOENIX order; any others follow in natural order.
SPLIT_ORDER: tuple[str, ...] = ("train", "dev", "test")

DESCRIPTION = "<root>/<clip>/<images> (split 'all') or <root>/<split>/<clip>/<images>"

Listing = tuple[Path, dict[str, Iterable[Clip]]]


def _scan(folder: Path) -> tuple[list[str], bool]:
    """Visible subfolder names (natural order) and whether ``folder`` directly holds an image."""
    try:
        with os.scandir(folder) as entries:
            subfolders: list[str] = []
            has_image = False
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if not holds_run(Path(entry.path)):  # a run folder is never part of the dataset
                        subfolders.append(entry.name)
                elif not has_image and is_image_name(entry.name) and entry.is_file():
                    has_image = True
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    subfolders.sort(key=natural_key)
    return subfolders, has_image


def _has_image(folder: Path) -> bool:
    # Stops at the first image: clip folders hold hundreds of frames.
    try:
        with os.scandir(folder) as entries:
            return any(is_image_name(entry.name) and entry.is_file() for entry in entries)
    except OSError:
        return False


def _structure(root: Path) -> dict[str, list[Path]] | None:
    """Clip folders by split (``{"all": ...}`` when flat), or None if no frames anywhere."""
    top, _ = _scan(root)
    if any(_has_image(root / name) for name in top):
        return {ALL_SPLIT: [root / name for name in top]}
    nested = {name: _scan(root / name)[0] for name in top}
    if not any(_has_image(root / split / clip) for split, clips in nested.items() for clip in clips):
        return None
    order = {name: i for i, name in enumerate(SPLIT_ORDER)}
    splits = sorted(
        (split for split, clips in nested.items() if clips),
        key=lambda split: (order.get(split, len(order)), natural_key(split)),
    )
    return {split: [root / split / clip for clip in nested[split]] for split in splits}


def detect_folder(root: Path) -> bool:
    """Frames one or two folder levels below ``root``, or (refused later) directly in it."""
    _, has_image = _scan(root)
    return has_image or _structure(root) is not None


def read_folder(root: Path) -> Listing:
    """Every clip folder, in natural order, split by split; fps unknown (None)."""
    _, has_image = _scan(root)
    if has_image:
        raise DatasetError(
            f"{root}: holds frame images directly; a folder dataset is {DESCRIPTION}. "
            "Move the frames into a clip folder and pass its parent."
        )
    structure = _structure(root)
    if structure is None:
        raise DatasetError(f"{root}: no frame images found; a folder dataset is {DESCRIPTION}")
    return root, {
        split: [Clip(split=split, clip_id=path.name, source=path, kind="frames") for path in paths]
        for split, paths in structure.items()
    }
