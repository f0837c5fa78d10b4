"""Reading a run folder: the one reader beside ``RunStore`` (the one writer).

Records, finding a clip, stats, run info, and loading a clip with its checksum checked.
export, verify, render, report and resume all read runs through here.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from signpose.errors import SourceError
from signpose.files import read_regular
from signpose.model.keypoints import ClipKeypoints
from signpose.formats.pose import from_pose_bytes
from signpose.model.stats import check_stats
from signpose.run.record import ClipResult, ClipStatus
from signpose.run.store import INDEX, RUN_INFO, STATS, RunStore

# The largest .pose file a reader opens (a clip of hours at 543 points is far smaller),
# and the largest stats.json / run.json: an index or a folder of someone else's making
# must not make a reader read without end.
MAX_POSE_BYTES = 2 * 1024**3
MAX_JSON_BYTES = 64 * 1024**2
# A path that names a root or a drive (POSIX or Windows): never a file inside the run folder.
_ANCHORED = re.compile(r"^([\\/]|[A-Za-z]:)")


@dataclass(frozen=True)
class LoadedClip:
    """One clip's .pose as read back; ``problem`` says why it cannot be trusted (or None).
    Keypoints are given whenever the file parses, even if its checksum is wrong."""

    keypoints: ClipKeypoints | None
    problem: str | None


class RunReader:
    """A finished (or interrupted) run folder, read-only. SourceError if it is not one."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not (self.root / INDEX).is_file():
            raise SourceError(f"{self.root}: not a signpose run folder (no {INDEX})")
        self._store = RunStore(self.root)
        self._root: str | None = None  # the folder with symlinks resolved, once

    # -- records ----------------------------------------------------------------------------
    def iter_records(self) -> Iterator[ClipResult]:
        """Every index line in file order (a clip may appear more than once before finalize)."""
        return self._store.iter_index()

    @cached_property
    def records(self) -> tuple[ClipResult, ...]:
        """The latest record of every clip, in index order (dataset order once finalized)."""
        return tuple(self._store.read_index().values())

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(record.split for record in self.records))

    def ok_clips(self, split: str) -> list[ClipResult]:
        return [r for r in self.records if r.split == split and r.status is ClipStatus.OK]

    def select_splits(self, splits: Sequence[str] | None) -> tuple[str, ...]:
        """The chosen splits in run order (the output then does not depend on how they were
        listed); SourceError naming any the run does not have."""
        available = self.splits
        if splits is None:
            return available
        unknown = [split for split in splits if split not in available]
        if unknown:
            raise SourceError(f"{self.root}: no split {', '.join(map(repr, unknown))} (the run has {list(available)})")
        return tuple(split for split in available if split in splits)

    def find_clip(self, clip: str, split: str | None = None) -> ClipResult:
        """The latest record of ``clip`` (``split/clip`` also works); the split may be left
        out when the clip id is unique in the run. SourceError naming near misses."""
        if split is None and "/" in clip:
            split, clip = clip.split("/", 1)
        found = [r for r in self.records if r.clip_id == clip and (split is None or r.split == split)]
        if not found:
            names = [f"{r.split}/{r.clip_id}" for r in self.records if r.status is ClipStatus.OK]
            elsewhere = [n.split("/", 1)[0] for n in names if n.split("/", 1)[1] == clip]
            if elsewhere:
                raise SourceError(f"{self.root}: clip {clip!r} is not in split {split!r}; it is in: {', '.join(elsewhere)}")
            ids = {n.split("/", 1)[1] for n in names if split is None or n.startswith(f"{split}/")}
            close = set(difflib.get_close_matches(clip, ids, n=5))
            similar = [n for n in names if n.split("/", 1)[1] in close]
            listed = ", ".join(similar[:5] or names[:5]) or "none"
            name = f"{split}/{clip}" if split else clip
            raise SourceError(f"{self.root}: no clip {name!r} in the run; {'similar' if similar else 'some available'} clips: {listed}")
        if len(found) > 1:
            splits = ", ".join(r.split for r in found)
            raise SourceError(f"{self.root}: clip {clip!r} is in several splits ({splits}); name one with --split or split/clip")
        return found[0]

    # -- run-level files --------------------------------------------------------------------
    def stats(self) -> dict[str, Any] | None:
        """stats.json, or None if the run never finished; SourceError ("unreadable") if it
        is not ``{split: {name: count}}``."""
        stats = self._json(STATS)
        if stats is not None:
            try:
                check_stats(stats)
            except ValueError as error:
                raise SourceError(f"{self.root / STATS}: unreadable ({error})") from error
        return stats

    def require_stats(self) -> dict[str, Any]:
        stats = self.stats()
        if stats is None:
            raise SourceError(f"{self.root}: no {STATS}: the run did not finish; resume it first")
        return stats

    def run_info(self) -> dict[str, Any] | None:
        """run.json, or None; SourceError ("unreadable") if it is not a JSON object or the
        parts read by name (``estimator``, its ``params`` and ``provenance``, the model
        digests, ``machine``) are not objects."""
        info = self._json(RUN_INFO)
        if info is None:
            return None
        estimator = info.get("estimator", {})
        nested = {"machine": info.get("machine", {}), "estimator": estimator}
        if isinstance(estimator, dict):
            nested |= {f"estimator.{key}": estimator.get(key, {}) for key in ("params", "provenance")}
            provenance = estimator.get("provenance", {})
            if isinstance(provenance, dict):
                nested["estimator.provenance.model_sha256"] = provenance.get("model_sha256", {})
        for where, value in nested.items():
            if value is not None and not isinstance(value, dict):
                raise SourceError(f"{self.root / RUN_INFO}: unreadable ({where} is a {type(value).__name__}, expected an object)")
        return info

    def _json(self, name: str) -> dict[str, Any] | None:
        path = self.root / name
        try:
            data = read_regular(path, MAX_JSON_BYTES)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SourceError(f"{path}: unreadable ({error.strerror or error})") from error
        try:
            value = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as error:
            raise SourceError(f"{path}: unreadable ({type(error).__name__}: {error})") from error
        if not isinstance(value, dict):
            raise SourceError(f"{path}: unreadable (a JSON object was expected)")
        return value

    # -- clips ------------------------------------------------------------------------------
    def load_clip(self, record: ClipResult) -> LoadedClip:
        """Read one ok clip's .pose, checking it against the index (checksum, frame count)."""
        if not record.pose_file:
            return LoadedClip(None, f"clip {record.clip_id!r}: the index names no .pose file")
        path, problem = self._pose_path(record)
        if problem:
            return LoadedClip(None, problem)
        try:
            data = read_regular(path, MAX_POSE_BYTES)
        except OSError as error:
            return LoadedClip(None, f"{path}: cannot read ({error.strerror or error})")
        problem = None
        if hashlib.sha256(data).hexdigest() != record.checksum:
            problem = f"{path}: sha256 differs from the index checksum (the file changed after the run wrote it)"
        try:
            keypoints = from_pose_bytes(data)
        except ValueError as error:
            return LoadedClip(None, f"{path}: {error}")
        if keypoints.num_frames != len(record.frame_names):
            return LoadedClip(None, f"{path}: has {keypoints.num_frames} frames, the index lists {len(record.frame_names)}")
        return LoadedClip(keypoints, problem)

    def _pose_path(self, record: ClipResult) -> tuple[str, str | None]:
        """Where a record's .pose file is, or why it is not opened: it must be a relative
        path without ``..`` that stays inside the run folder once symlinks are followed.
        Worked out on strings: pathlib on Python 3.11 interns every part it parses, and a
        table of the interpreter's would grow with the clips a reader loads."""
        name = str(record.pose_file)
        path = os.path.join(self.root, name)
        where = f"{self.root}: clip {record.split}/{record.clip_id}: the index's pose_file {name[:200]!r}"
        if "\0" in name or _ANCHORED.match(name):
            return path, f"{where} is an absolute path, not a file inside the run folder; not opened"
        if ".." in re.split(r"[\\/]", name):
            return path, f"{where} climbs out with '..', not a file inside the run folder; not opened"
        try:
            root, target = self._real_root(), os.path.realpath(path, strict=False)
        except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, say
            return path, f"{where} cannot be resolved ({error}); not opened"
        if not target.startswith(root.rstrip(os.sep) + os.sep):
            return path, f"{where} leads to {target}, outside the run folder; not opened"
        return target, None

    def _real_root(self) -> str:
        if self._root is None:
            self._root = str(self.root.resolve(strict=True))
        return self._root

    def trusted_clip(self, record: ClipResult) -> ClipKeypoints:
        """A clip's keypoints, or SourceError if its file is missing, damaged or changed."""
        loaded = self.load_clip(record)
        if loaded.problem or loaded.keypoints is None:
            raise SourceError(loaded.problem or f"{record.clip_id}: unreadable")
        return loaded.keypoints

    def done_clips(self) -> dict[tuple[str, str], str | None]:
        """Clips whose latest record is a success with its file whole (checksum verified):
        what a resumed run skips; each with the input fingerprint recorded when it was done."""
        latest: dict[tuple[str, str], ClipResult] = {}
        for result in self.iter_records():
            # Only what is_done and resume need, so a large index does not sit in memory.
            latest[result.key] = ClipResult(
                split=result.split, clip_id=result.clip_id, status=result.status, source="",
                pose_file=result.pose_file, checksum=result.checksum, input_fingerprint=result.input_fingerprint,
            )  # fmt: skip
        return {key: result.input_fingerprint for key, result in latest.items() if self._store.is_done(result)}


