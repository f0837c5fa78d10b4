"""The frame images of one clip folder, in natural order."""

from __future__ import annotations

import os
from pathlib import Path

from signpose.files import is_image_name, natural_key


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
