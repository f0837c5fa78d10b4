"""Where a run's output may go: the one-line reasons a run folder cannot be written
(disk full, read-only...), the same in every worker, and the guard that keeps export, report and render from writing over a run's own files."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from signpose.errors import OutputError, StoreError
from signpose.run.names import INDEX, LOCK, LOGS, POSE_SUFFIX, RESERVED_NAMES, RUN_ERRNOS, RUN_INFO


def output_problem(code: int | None, out: Path | str) -> str:
    """One line for a run-level output error (the same text in every worker)."""
    if code == errno.ENOSPC:
        return f"output disk full at {out}: free space and rerun to resume"
    if code == errno.EDQUOT:
        return f"disk quota exceeded at {out}: free space (or raise the quota) and rerun to resume"
    if code == errno.EROFS:
        return f"output folder {out} is on a read-only file system: make it writable (or choose another folder) and rerun"
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to write into the output folder {out}: fix its permissions (or choose another folder) and rerun"
    return f"cannot write into the output folder {out} ({os.strerror(code) if code else 'unknown error'})"


def describe_output_error(error: OSError, out: Path | str) -> str:
    """``output_problem`` for a run-level errno, else the error with the file it names."""
    if error.errno in RUN_ERRNOS:
        return output_problem(error.errno, out)
    where = f" ({error.filename})" if error.filename else ""
    return f"cannot write into the output folder {out}: {error.strerror or error}{where}"


@contextmanager
def output_errors(out: Path | str) -> Iterator[None]:
    """An OSError writing into the run folder ``out`` becomes an OutputError saying what to do."""
    try:
        yield
    except OSError as error:
        raise OutputError(describe_output_error(error, out), error.errno) from error


def holds_run(folder: Path | str) -> bool:
    """Is ``folder`` a signpose run folder (finished, or being written now)? Dataset
    readers skip such folders: a run is never part of a dataset."""
    folder = Path(folder)
    if (folder / INDEX).is_file() and (folder / RUN_INFO).is_file():
        return True
    try:
        with (folder / LOCK).open("rb") as handle:
            return handle.read(9) == b"signpose "
    except OSError:
        return False


def _is_split_folder(folder: Path, run: Path) -> bool:
    if folder.name == LOGS:
        return True
    try:
        with os.scandir(folder) as entries:
            if any(entry.name.endswith(POSE_SUFFIX) for entry in entries):
                return True
    except OSError:
        pass
    try:
        splits = json.loads((run / RUN_INFO).read_text(encoding="utf-8")).get("splits") or []
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(splits, list) and folder.name in splits


def check_output_path(out: Path | str) -> None:
    """Refuse an output path (of export, report, render) that is a run folder or would
    write over one of its own files: index, stats, run info, lock, logs, its split folders
    and .pose files. A new file next to them (``RUN/report.html``) is fine."""
    target = Path(os.path.realpath(out))
    if target.suffix == POSE_SUFFIX and target.exists():
        raise StoreError(f"{out}: refusing to write over a {POSE_SUFFIX} file; choose another output name")
    for folder in (target, *target.parents):
        if not holds_run(folder):
            continue
        relative = target.relative_to(folder).parts
        if not relative:
            raise StoreError(f"{out}: is a signpose run folder; refusing to write into it, choose another output path")
        first = relative[0]
        if first in RESERVED_NAMES or first.startswith(".") or first.endswith(POSE_SUFFIX) or _is_split_folder(folder / first, folder):
            raise StoreError(
                f"{out}: would write over {folder / first}, part of the signpose run {folder}; choose another output path"
            )
