"""What a run folder already holds, for a run that resumes it: which clips are done, which
of those changed since, and whether the dataset and the estimator are the ones it was
started with (a run never mixes two)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signpose.errors import StoreError
from signpose.estimators import EstimatorSpec
from signpose.model.clip import Clip, Dataset
from signpose.run.names import INDEX
from signpose.run.reader import RunReader
from signpose.sources.fingerprint import input_fingerprint


def recorded_estimator(info: dict[str, Any] | None) -> str | None:
    """The name of the estimator a run's ``run.json`` says it was started with."""
    recorded = (info or {}).get("estimator")
    name = recorded.get("name") if isinstance(recorded, dict) else None
    return name if isinstance(name, str) else None


def check_same_estimator(previous: dict[str, Any] | None, spec: EstimatorSpec, out: Path) -> None:
    if previous is None:
        return
    recorded = previous.get("estimator")
    before = {"name": recorded.get("name"), "params": recorded.get("params")} if isinstance(recorded, dict) else None
    if before == spec.to_json():
        return
    shown = f"{before['name']} {before['params']}" if before else "an older signpose (no estimator recorded)"
    raise StoreError(
        f"{out}: holds a run made with other options ({shown}); resuming with {spec.name} {spec.options}"
        " would mix them. Use --overwrite to start over, or another output folder."
    )


def check_same_dataset(previous: dict[str, Any] | None, dataset: Dataset, out: Path) -> None:
    if previous is None or "dataset_root" not in previous:
        return
    root, layout = previous.get("dataset_root"), previous.get("layout")
    same_root = root == str(dataset.root) or (
        isinstance(root, str) and os.path.exists(root) and os.path.exists(dataset.root) and os.path.samefile(root, dataset.root)
    )
    if same_root and layout == dataset.layout:
        return
    raise StoreError(
        f"{out}: holds a run of {root} (layout {layout}), not of {dataset.root} (layout {dataset.layout});"
        " use --overwrite or another folder"
    )


@dataclass(frozen=True)
class Work:
    """The clips of a run: all of them (``keys``, in dataset order), those still to do,
    and how many of the done ones changed since (they are done again)."""

    keys: tuple[tuple[str, str], ...]
    todo: tuple[Clip, ...]
    changed: int

    @property
    def skipped(self) -> int:
        return len(self.keys) - len(self.todo)


def _inside(path: Path, folder: str) -> bool:
    return os.path.abspath(path).startswith(folder + os.sep) or os.path.realpath(path).startswith(folder + os.sep)


def work(dataset: Dataset, out: Path) -> Work:
    """The clips of ``dataset`` that ``out`` does not hold done and unchanged. The run
    folder is never part of the dataset (a run folder inside a folder dataset)."""
    own = os.path.realpath(out)
    clips = [clip for clip in dataset.clips if not _inside(clip.source, own)]
    keys = tuple(dict.fromkeys((clip.split, clip.clip_id) for clip in clips))
    done = RunReader(out).done_clips() if (Path(out) / INDEX).is_file() else {}
    # records without a fingerprint (older runs) are trusted
    changed = {(c.split, c.clip_id) for c in clips if done.get((c.split, c.clip_id)) is not None
               and input_fingerprint(c) != done[(c.split, c.clip_id)]}  # fmt: skip
    todo = {(c.split, c.clip_id): c for c in clips if (c.split, c.clip_id) not in done or (c.split, c.clip_id) in changed}
    return Work(keys, tuple(todo.values()), len(changed))
