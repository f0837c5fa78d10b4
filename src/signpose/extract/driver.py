"""A whole extraction: pick the clips still to do, run them on a backend, record each one
as it finishes, and leave the run folder consistent however the run ends."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from signpose import __version__
from signpose.backends.base import Backend
from signpose.model.clip import Clip, Dataset
from signpose.errors import OutputError, StoreError
from signpose.estimators import Estimator, EstimatorSpec
from signpose.sources.fingerprint import input_fingerprint
from signpose.extract.machine import describe_machine
from signpose.extract.worker import ClipProcessor, check_access, failed_result
from signpose.sources import FrameLimits
from signpose.run.reader import RunReader
from signpose.run.record import ClipResult, ClipStatus, ErrorKind
from signpose.run.lock import run_lock
from signpose.run.guard import describe_output_error, is_output_problem
from signpose.run.store import INDEX, RunStore

RunStatus = Literal["complete", "interrupted", "stopped"]


@dataclass(frozen=True)
class Progress:
    """Reported after every clip (and once before the first)."""

    clips_done: int
    clips_total: int
    frames_done: int
    elapsed: float
    last: ClipResult | None = None


@dataclass(frozen=True)
class RunSummary:
    out: Path
    status: RunStatus
    clips_total: int
    clips_skipped: int
    clips_processed: int
    clips_retried: int
    frames_processed: int
    elapsed: float
    failed: tuple[ClipResult, ...] = ()
    frame_failures: tuple[ClipResult, ...] = field(default=())
    clips_changed: int = 0  # done in an earlier run, redone because their input changed since

    @property
    def internal_errors(self) -> tuple[ClipResult, ...]:
        """Failed clips whose cause is a bug, not their input (tracebacks in OUT/logs/)."""
        return tuple(r for r in self.failed if r.error_kind is ErrorKind.INTERNAL)

    @property
    def frames_per_second(self) -> float:
        return self.frames_processed / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class _Tally:
    """Clips and frames recorded so far (on disk), and when the last one was."""

    last: float
    processed: int = 0
    frames: int = 0

    def count(self, result: ClipResult) -> None:
        self.processed += 1
        self.frames += result.frames
        self.last = time.monotonic()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _first_readable(clips: list[Clip], look: int = 20) -> Path | None:
    """The first clip source that exists here, to prove the workers can read it too. A
    missing clip folder is that clip's failure, not the run's."""
    return next((clip.source for clip in clips[:look] if clip.source.exists()), None)


def _done_clips(store: RunStore) -> dict[tuple[str, str], str | None]:
    return RunReader(store.root).done_clips() if (store.root / INDEX).is_file() else {}


def _changed_clips(clips: list[Clip], done: dict[tuple[str, str], str | None]) -> set[tuple[str, str]]:
    """Done clips whose input fingerprint differs from the one recorded when they were done
    (records without one, from older runs, are trusted)."""
    return {
        (clip.split, clip.clip_id)
        for clip in clips
        if done.get((clip.split, clip.clip_id)) is not None and input_fingerprint(clip) != done[(clip.split, clip.clip_id)]
    }


def _inside(path: Path, folder: str) -> bool:
    return os.path.abspath(path).startswith(folder + os.sep) or os.path.realpath(path).startswith(folder + os.sep)


def recorded_estimator(out: Path) -> str | None:
    """The name of the estimator the run in ``out`` was started with (None: no run there,
    or none recorded)."""
    try:
        recorded = (RunStore(out).read_run_info() or {}).get("estimator")
    except (OSError, ValueError, AttributeError):
        return None
    name = recorded.get("name") if isinstance(recorded, dict) else None
    return name if isinstance(name, str) else None


def _check_same_dataset(previous: dict[str, Any] | None, dataset: Dataset, out: Path) -> None:
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


def _check_same_estimator(previous: dict[str, Any] | None, spec: EstimatorSpec, out: Path) -> None:
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


def extract(
    dataset: Dataset,
    out: Path,
    spec: EstimatorSpec,
    backend: Backend,
    overwrite: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    backend_name: str = "local",
    limits: FrameLimits = FrameLimits(),
    *,
    locked: bool = False,
    estimator: Estimator | None = None,
) -> RunSummary:
    """Extract keypoints for every clip of ``dataset`` not already done in ``out``.

    Holds ``out``'s run lock throughout (RunBusyError if another run holds it), unless
    ``locked`` says the caller already does. A write
    into ``out`` that fails for every clip alike (disk full, read-only, no permission)
    stops the run: finished clips are kept, run.json says "stopped" with the reason, and
    OutputError is raised; rerunning resumes."""
    if locked:  # the caller holds the lock (the CLI takes it before reading the dataset)
        return _extract(dataset, Path(out), spec, backend, overwrite, on_progress, backend_name, limits, estimator)
    with run_lock(Path(out)):
        return _extract(dataset, Path(out), spec, backend, overwrite, on_progress, backend_name, limits, estimator)


def _extract(
    dataset: Dataset,
    out: Path,
    spec: EstimatorSpec,
    backend: Backend,
    overwrite: bool,
    on_progress: Callable[[Progress], None] | None,
    backend_name: str,
    limits: FrameLimits,
    estimator: Estimator | None,
) -> RunSummary:
    processor = ClipProcessor(spec, out, limits, estimator)
    # Built once (by the caller, or here): checks the options and model files before any
    # work, gives the provenance and tells the backend how far ahead to feed workers (it
    # is not pickled: each worker builds its own).
    estimator = processor.estimator
    store = RunStore(out)
    try:
        store.prepare(overwrite)
        previous = store.read_run_info()
    except OSError as error:
        raise OutputError(describe_output_error(error, out), error.errno) from error
    _check_same_estimator(previous, spec, out)
    _check_same_dataset(previous, dataset, out)

    # The run folder is never part of the dataset (a run folder inside a folder dataset).
    own = os.path.realpath(out)
    clips = [clip for clip in dataset.clips if not _inside(clip.source, own)]
    keys = list(dict.fromkeys((clip.split, clip.clip_id) for clip in clips))
    done = _done_clips(store)
    changed = _changed_clips(clips, done)
    todo = list({(c.split, c.clip_id): c for c in clips if (c.split, c.clip_id) not in done or (c.split, c.clip_id) in changed}.values())

    info: dict[str, Any] = {
        "signpose_version": __version__,
        "pose_format_version": _version("pose-format"),
        "python_version": platform.python_version(),
        "estimator": spec.to_json() | {"provenance": estimator.provenance()},
        "machine": describe_machine(),
        "dataset_root": str(dataset.root),
        "layout": dataset.layout,
        "splits": list(dataset.splits),
        "backend": backend_name,
        "workers": backend.workers,
        "clips_total": len(keys),
        "clips_skipped": len(keys) - len(todo),
        "clips_changed": len(changed),
        "started": _now(),
    }
    try:
        store.write_run_info(info | {"status": "running"})
    except OSError as error:
        raise OutputError(describe_output_error(error, out), error.errno) from error
    if todo:
        backend.check(partial(check_access, _first_readable(todo) or dataset.root, Path(out)))

    started = time.monotonic()
    tally = _Tally(started)
    retried = 0
    report = on_progress or (lambda progress: None)
    report(Progress(0, len(todo), 0, 0.0))

    def synced(result: ClipResult) -> None:  # on the journal's thread, once the record is on disk
        tally.count(result)
        report(Progress(tally.processed, len(todo), tally.frames, time.monotonic() - started, result))

    status: RunStatus = "complete"
    stop: OutputError | None = None
    try:
        with store.journal(synced) as journal, closing(backend.map_unordered(processor, todo)) as outcomes:
            for outcome in outcomes:
                result = outcome.result if outcome.result is not None else failed_result(outcome.item, outcome.crash, ErrorKind.WORKER)
                if result.status is ClipStatus.FAILED and is_output_problem(result.error, out):
                    # Not this clip's fault: every clip would fail alike. Stop scheduling.
                    stop = OutputError(result.error or "")
                    break
                try:
                    journal.append(result)
                except OSError as error:
                    stop = OutputError(describe_output_error(error, out), error.errno)
                    break
                retried += outcome.attempts > 1
    except KeyboardInterrupt:
        status = "interrupted"
    except OSError as error:  # opening the index, or its last sync
        stop = stop or OutputError(describe_output_error(error, out), error.errno)
    finally:
        frames, processed, last_result = tally.frames, tally.processed, tally.last
        try:
            store.remove_temporaries()
            store.finalize(keys)
        except OSError as error:  # the index as appended stays: a resume reads it
            stop = stop or OutputError(describe_output_error(error, out), error.errno)
        if stop is not None:
            status = "stopped"
        elapsed = time.monotonic() - started
        try:
            store.write_run_info(
                info
                | {
                    "status": status,
                    **({"reason": str(stop)} if stop is not None else {}),
                    "finished": _now(),
                    "elapsed_seconds": round(elapsed, 3),
                    "clips_processed": processed,
                    "clips_retried": retried,
                    "frames_processed": frames,
                    # Until the last result: leaves out finalising and the backend shutting down (Ray: ~1.4 s).
                    "processing_seconds": round(last_result - started, 3),
                    "frames_per_second": round(frames / elapsed, 3) if elapsed > 0 else 0.0,
                }
            )
        except OSError as error:
            stop = stop or OutputError(describe_output_error(error, out), error.errno)
    if stop is not None:
        raise stop
    wanted = set(keys)
    problems = [r for r in store.iter_index() if r.key in wanted and (r.status is ClipStatus.FAILED or r.failed_frames)]
    return RunSummary(
        out=Path(out),
        status=status,
        clips_total=len(keys),
        clips_skipped=len(keys) - len(todo),
        clips_processed=processed,
        clips_retried=retried,
        frames_processed=frames,
        elapsed=elapsed,
        failed=tuple(r for r in problems if r.status is ClipStatus.FAILED),
        frame_failures=tuple(r for r in problems if r.failed_frames),
        clips_changed=len(changed),
    )

