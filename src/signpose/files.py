"""Reading files that may be hostile (only regular files, of bounded size, never blocking),
and the natural order of file names.

A FIFO or a device put where a frame, a .pose or a JSON file should be would hang or
exhaust a reader; these are refused on the open descriptor, before anything is read.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from signpose.errors import NotRegularFile

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


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
    ):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``. OSError from
    opening or reading; NotRegularFile (an OSError whose message says why) for a FIFO, a
    device, a folder, or a file over the limit. Opened non-blocking and checked on the
    descriptor, so nothing put in the file's place can hang the reader."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{file_kind(info.st_mode)}, not a regular file; not read")
        if info.st_size > max_bytes:
            raise NotRegularFile(f"{info.st_size} bytes, over the limit of {max_bytes} bytes; not read")
        # read(n) allocates n bytes up front: ask for what fstat saw (+1 to notice growth)
        data = handle.read(info.st_size + 1)
    if len(data) > info.st_size:
        raise NotRegularFile("the file grew while it was read (being written?); not read")
    return data
