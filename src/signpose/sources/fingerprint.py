"""A cheap fingerprint of a clip's input, kept in its index record, so a resumed run can
tell a clip whose frames or video changed since it was done (and do it again).

Frame folder: sha256 of the sorted (name, size, mtime_ns) of its image files (one folder
listing and a stat per frame, no reading). Video file: its size and mtime_ns.
"""

from __future__ import annotations

import hashlib
import os

from signpose.model.clip import Clip
from signpose.files import is_image_name


def input_fingerprint(clip: Clip) -> str | None:
    """The clip's input fingerprint, or None when its input cannot be looked at (the clip
    then fails on its own, with the reason)."""
    try:
        if clip.kind == "video":
            stat = os.stat(clip.source)
            return f"size={stat.st_size} mtime_ns={stat.st_mtime_ns}"
        entries = []
        with os.scandir(clip.source) as listing:
            for entry in listing:
                if is_image_name(entry.name) and entry.is_file():
                    stat = entry.stat()
                    entries.append((entry.name, stat.st_size, stat.st_mtime_ns))
    except OSError:
        return None
    digest = hashlib.sha256()
    for name, size, mtime_ns in sorted(entries):
        digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return f"sha256={digest.hexdigest()}"
