"""The run folder, and the only code that writes into it.

Layout: ``<out>/<split>/<clip>.pose`` per clip, ``index.jsonl`` (one line per clip),
``stats.json`` and ``run.json``. Every file appears atomically (temporary name, fsync,
rename), so a crash at any moment leaves finished files whole and nothing half-written
under a final name. Clips finish in any order; the index is appended as they do, and
rewritten in dataset order when a run ends, so its bytes do not depend on the workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from signpose.errors import OutputError, StoreError
from signpose.run.journal import IndexJournal
from signpose.run.guard import output_problem
from signpose.run.record import ClipResult, ClipStatus
from signpose.run.names import INDEX, LOCK, LOGS, POSE_SUFFIX, RESERVED_NAMES, RUN_ERRNOS, RUN_INFO, STATS, TMP_MARK

__all__ = ["INDEX", "LOCK", "LOGS", "POSE_SUFFIX", "RUN_INFO", "STATS", "TMP_MARK", "RunStore", "StatsCounter", "atomic_open",
           "compute_stats", "run_name", "safe_name", "sha256_file"]

def safe_name(name: str, what: str) -> str:
    """Refuse names that would place a file outside its folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or ".." in name:
        raise StoreError(f"refusing to write {what} {name!r}: it contains a path separator or '..'")
    return name


def run_name(name: str, what: str) -> str:
    """A split or clip name as the run folder may hold it: safe (see ``safe_name``), not
    hidden, not looking like a temporary file (those are swept), and for a split not one
    of the run's own files or folders."""
    safe_name(name, what)
    if name.startswith("."):
        raise StoreError(f"refusing to write {what} {name!r}: a name starting with '.' is reserved for the run's own hidden files")
    if TMP_MARK in name:
        raise StoreError(f"refusing to write {what} {name!r}: names containing {TMP_MARK!r} are the run's temporary files")
    if what == "split" and name in RESERVED_NAMES:
        raise StoreError(f"refusing to write {what} {name!r}: it is the name of one of the run folder's own files")
    return name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_open(path: Path) -> Iterator[IO[bytes]]:
    """A file that appears under ``path`` only once it is completely written and synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    try:
        with temporary.open("wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def _parse(line: bytes) -> ClipResult | None:
    try:
        return ClipResult.from_json(json.loads(line))
    except (ValueError, TypeError, KeyError):
        return None


def _dumps(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


class RunStore:
    """A run folder. Workers call ``write_pose``; the driver owns index, stats and run info."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- per clip, in workers -------------------------------------------------------------
    def pose_relpath(self, split: str, clip_id: str) -> str:
        return f"{run_name(split, 'split')}/{run_name(clip_id, 'clip id')}{POSE_SUFFIX}"

    def write_pose(self, split: str, clip_id: str, data: bytes) -> tuple[str, str]:
        """Write one clip's .pose atomically; returns its path relative to the run and sha256.
        A run-level write error (disk full, read-only, no permission) becomes an
        ``OutputError`` (the worker records it as an output problem: the run stops)."""
        relpath = self.pose_relpath(split, clip_id)
        try:
            _write_atomic(self.root / relpath, data)
        except OSError as error:
            if error.errno in RUN_ERRNOS:
                raise OutputError(output_problem(error.errno, self.root), error.errno) from error
            raise
        return relpath, hashlib.sha256(data).hexdigest()

    def write_log(self, split: str, clip_id: str, text: str) -> str:
        """Keep a clip's internal-error traceback; returns its path relative to the run."""
        relpath = f"{LOGS}/{run_name(split, 'split')}/{run_name(clip_id, 'clip id')}.txt"
        _write_atomic(self.root / relpath, text.encode("utf-8", "replace"))
        return relpath

    def write_probe(self, host: str) -> None:
        """Prove this machine can write into the run folder (then clean up)."""
        probe = self.root / f".probe{TMP_MARK}{host}-{os.getpid()}"
        try:
            _write_atomic(probe, b"signpose write check\n")
            probe.unlink()
        except OSError as error:
            raise OSError(f"on {host}: cannot write into the output folder {self.root} ({error})") from error

    # -- run life cycle, in the driver ----------------------------------------------------
    def prepare(self, overwrite: bool) -> None:
        """Make the folder ready: refuse a foreign non-empty folder, clear a run on
        ``overwrite``, and remove temporary files a killed run left behind. (The run lock,
        taken first, has checked that the path can be a run folder.)"""
        self.root.mkdir(parents=True, exist_ok=True)
        ours = {INDEX, STATS, RUN_INFO}
        entries = [entry for entry in self.root.iterdir() if entry.name not in ours and not entry.name.startswith(".")]
        is_run = any((self.root / name).exists() for name in ours)
        if entries and not is_run:
            raise StoreError(
                f"{self.root}: folder is not empty and holds no signpose run; choose a new or empty output folder"
            )
        if overwrite:
            for name in ours:
                (self.root / name).unlink(missing_ok=True)
            for pose in self.root.glob(f"*/*{POSE_SUFFIX}"):
                pose.unlink()
            for log in self.root.glob(f"{LOGS}/*/*.txt"):
                log.unlink()
        self.remove_temporaries()

    def remove_temporaries(self) -> list[Path]:
        removed = [path for path in self.root.glob(f"**/.*{TMP_MARK}*") if path.is_file()]
        for path in removed:
            path.unlink(missing_ok=True)
        return removed

    def iter_index(self) -> Iterator[ClipResult]:
        """Every record in file order, one at a time. A torn last line (the machine died
        mid-append) is skipped: its clip is simply done again."""
        for _, _, result in self._index_lines():
            yield result

    def read_index(self) -> dict[tuple[str, str], ClipResult]:
        """The latest record of every clip (a later line for the same clip wins)."""
        return {result.key: result for result in self.iter_index()}

    def _index_lines(self) -> Iterator[tuple[int, int, ClipResult]]:
        path = self.root / INDEX
        if not path.exists():
            return
        offset = 0
        with path.open("rb") as handle:
            for line in handle:
                result = _parse(line)
                if result is not None:
                    yield offset, len(line), result
                offset += len(line)

    def is_done(self, result: ClipResult) -> bool:
        """A clip counts as done only if it succeeded and its file is there, whole, at the one
        place the store writes it (an index naming any other path is not trusted)."""
        if result.status is not ClipStatus.OK or not result.pose_file or not result.checksum:
            return False
        try:
            if result.pose_file != self.pose_relpath(result.split, result.clip_id):
                return False
        except StoreError:
            return False
        path = self.root / result.pose_file
        return path.is_file() and sha256_file(path) == result.checksum

    def journal(self, on_synced: Callable[[ClipResult], None]) -> IndexJournal:
        """The index opened for a run's appends: written at once, synced in groups, each
        record handed to ``on_synced`` once it is on disk (see ``journal``)."""
        return IndexJournal(self.root / INDEX, on_synced)

    def finalize(self, order: Iterable[tuple[str, str]]) -> None:
        """Rewrite the index in dataset order (then any clips of earlier runs outside this
        selection, in their order) and write stats.json from it. Streams: only each clip's
        line position is held, never the records, so memory stays flat."""
        latest: dict[tuple[str, str], tuple[int, int]] = {}
        for offset, length, result in self._index_lines():
            latest.pop(result.key, None)  # re-insert: a clip of an earlier run keeps its latest place
            latest[result.key] = (offset, length)
        wanted = [key for key in dict.fromkeys(order) if key in latest]
        chosen = set(wanted)
        keys = wanted + [key for key in latest if key not in chosen]
        stats = StatsCounter()
        source = self.root / INDEX
        if source.exists():
            with source.open("rb") as old, atomic_open(source) as new:
                for key in keys:
                    offset, length = latest[key]
                    old.seek(offset)
                    line = old.read(length)
                    new.write(line if line.endswith(b"\n") else line + b"\n")
                    stats.add(_parse(line))
        _write_atomic(self.root / STATS, _dumps(stats.stats).encode("utf-8"))

    def read_run_info(self) -> dict[str, Any] | None:
        path = self.root / RUN_INFO
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def write_run_info(self, info: dict[str, Any]) -> None:
        _write_atomic(self.root / RUN_INFO, _dumps(info).encode("utf-8"))


class StatsCounter:
    """Per split counts, added up one record at a time. Nothing about timing or workers:
    equal runs have equal stats."""

    def __init__(self) -> None:
        self.stats: dict[str, dict[str, int]] = {}

    def add(self, result: ClipResult | None) -> None:
        if result is None:
            return
        split = self.stats.setdefault(result.split, {"clips": 0, "frames": 0, "failed_clips": 0, "failed_frames": 0})
        split["clips"] += 1
        split["frames"] += result.frames
        split["failed_clips"] += result.status is ClipStatus.FAILED
        split["failed_frames"] += result.failed_frames
        for part, count in result.detected.items():
            split[f"frames_with_{part}"] = split.get(f"frames_with_{part}", 0) + count


def compute_stats(results: Iterable[ClipResult]) -> dict[str, dict[str, int]]:
    counter = StatsCounter()
    for result in results:
        counter.add(result)
    return counter.stats
