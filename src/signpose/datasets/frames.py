"""The frame images of one clip folder, in natural order."""

from __future__ import annotations

import os
import re
from pathlib import Path

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

_DIGIT_RUNS = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that orders ``a2`` before ``a10`` and ``images0002`` before ``images0010``.

    ``re.split`` with a capturing group always alternates text, digits, text, ..., so
    position i holds the same type in every key and tuples never compare str with int.
    The raw name breaks ties (``a01`` vs ``a1``, ``A`` vs ``a``) so the order is total.
    """
    parts = _DIGIT_RUNS.split(name)
    return (
        tuple(int(part) if i % 2 else part.casefold() for i, part in enumerate(parts)),
        name,
    )


def is_image_name(name: str) -> bool:
    """Visible file name with an image extension (case-insensitive)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_frames(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, in natural order.

    Hidden files and non-images (PHOENIX has a stray ``*.lprof``) are skipped. An existing
    folder without images gives ``[]``: whether that is an error is the caller's call.
    """
    folder = Path(folder)
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if is_image_name(entry.name) and entry.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{folder}: frame folder not found") from None
    names.sort(key=natural_key)
    return [folder / name for name in names]
