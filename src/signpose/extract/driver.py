"""A whole extraction, one straight way: lock the run folder, open the dataset, decide the
estimator and the workers, run the clips still to do on a backend, record each one as it
finishes, and leave the run folder consistent however the run ends."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from signpose import __version__
from signpose.backends.base import Backend, Outcome
from signpose.errors import BackendError, EstimatorError, OutputError, SignposeError
from signpose.estimators import Estimator, EstimatorSpec, make_estimator
from signpose.extract.machine import describe_machine
from signpose.extract.resume import Work, check_same_dataset, check_same_estimator, work
from signpose.extract.worker import ClipProcessor, check_access, failed_result
from signpose.model.clip import Dataset
from signpose.run.guard import output_errors
from signpose.run.lock import run_lock
from signpose.run.record import ClipResult, ClipStatus, ErrorKind
from signpose.run.store import RunStore
from signpose.sources import FrameLimits

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


@dataclass(frozen=True)
class Plan:
    """What a run needs once the folder is locked: the dataset, the estimator (its spec and
    the driver's own instance, for provenance and hints) and the backend to run it on."""

    dataset: Dataset
    spec: EstimatorSpec
    estimator: Estimator
    backend: Backend
    backend_name: str = "local"
    facts: dict[str, Any] = field(default_factory=dict)  # more for run.json (the GPU plan...)


def extract(dataset: Dataset, out: Path, spec: EstimatorSpec, backend: Backend, overwrite: bool = False,
            on_progress: Callable[[Progress], None] | None = None, backend_name: str = "local",
            limits: FrameLimits = FrameLimits()) -> RunSummary:
    """Extract keypoints for every clip of ``dataset`` not already done in ``out`` (the
    library's way in: dataset, estimator and backend chosen by the caller)."""
    return run_extraction(out, lambda previous: Plan(dataset, spec, make_estimator(spec), backend, backend_name),
                          overwrite=overwrite, on_progress=on_progress, limits=limits)  # fmt: skip


def run_extraction(out: Path, plan: Callable[[dict[str, Any] | None], Plan], *, overwrite: bool = False,
                   on_progress: Callable[[Progress], None] | None = None, limits: FrameLimits = FrameLimits()) -> RunSummary:
    """The run: ``out``'s lock is held throughout (RunBusyError if another run holds it);
    ``plan`` is asked, under the lock, with the run info the folder holds (None: none, or
    ``overwrite``) for what to run, before anything in the folder changes.

    A write into ``out`` that fails for every clip alike (disk full, read-only, no
    permission) stops the run: finished clips are kept, run.json says "stopped" with the
    reason, and OutputError is raised; rerunning resumes."""
    out = Path(out)
    with run_lock(out):
        store = RunStore(out)
        # planned before anything in the folder changes: a bad option never costs a run its --overwrite
        chosen = plan(None if overwrite else store.read_run_info())
        with output_errors(out):
            store.prepare(overwrite)
            previous = store.read_run_info()
        check_same_estimator(previous, chosen.spec, out)
        check_same_dataset(previous, chosen.dataset, out)
        return _Extraction(store, chosen, work(chosen.dataset, out), limits, on_progress).run()


# What a worker reports that no clip can help: the run stops with it (never an index record).
STOPS: dict[ErrorKind, type[SignposeError]] = {ErrorKind.OUTPUT: OutputError, ErrorKind.ESTIMATOR: EstimatorError}


def _next(outcomes: Iterator[Outcome]) -> Outcome | None:
    """The backend's next outcome (None at the end); its OSError is the backend's, not the
    output folder's (starting a worker, a lost connection to a cluster)."""
    try:
        return next(outcomes, None)
    except OSError as error:
        raise BackendError(f"the {type(error).__name__} of a worker or the cluster: {error}") from error


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


class _Extraction:
    """One run of ``plan`` over ``work`` into ``store``: run info, drain, finish."""

    def __init__(self, store: RunStore, plan: Plan, work: Work, limits: FrameLimits,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.store, self.plan, self.work, self.limits = store, plan, work, limits
        self.report = on_progress or (lambda progress: None)
        self.out = store.root
        self.processor = ClipProcessor(plan.spec, self.out, limits, plan.estimator)
        self.info = self._run_info()
        self.frames = self.processed = self.retried = 0
        self.last = self.started = time.monotonic()
        self.stop: SignposeError | None = None  # what stopped the run for every clip alike (output, estimator)
        self.failure: str | None = None  # an exception that ended the run otherwise (the backend, a bug)

    def _run_info(self) -> dict[str, Any]:
        plan, dataset = self.plan, self.plan.dataset
        return {
            "signpose_version": __version__,
            "pose_format_version": _version("pose-format"),
            "python_version": platform.python_version(),
            "estimator": plan.spec.to_json() | {"provenance": plan.estimator.provenance()},
            "machine": describe_machine(),
            "dataset_root": str(dataset.root),
            "layout": dataset.layout,
            "splits": list(dataset.splits),
            "backend": plan.backend_name,
            "workers": plan.backend.workers,
            **plan.facts,
            "clips_total": len(self.work.keys),
            "clips_skipped": self.work.skipped,
            "clips_changed": self.work.changed,
            "started": _now(),
        }

    def run(self) -> RunSummary:
        with output_errors(self.out):
            self.store.write_run_info(self.info | {"status": "running"})
        todo = list(self.work.todo)
        if todo:
            first = next((clip.source for clip in todo[:20] if clip.source.exists()), None) or self.plan.dataset.root
            self.plan.backend.check(partial(check_access, first, self.out))
        self.started = self.last = time.monotonic()
        self.report(Progress(0, len(todo), 0, 0.0))
        status: RunStatus = "complete"
        try:
            self._drain(todo)
        except KeyboardInterrupt:
            status = "interrupted"
        except BaseException as error:  # the backend failed, or a bug: never recorded as complete
            status, self.failure = "stopped", f"{type(error).__name__}: {error}"
            raise
        finally:
            status = self._finish(status)
        if self.stop is not None:
            raise self.stop
        return self._summary(status)

    def _synced(self, total: int, result: ClipResult) -> None:
        """On the journal's thread, once the record is on disk: counted, reported."""
        self.processed += 1
        self.frames += result.frames
        self.last = time.monotonic()
        self.report(Progress(self.processed, total, self.frames, self.last - self.started, result))

    def _drain(self, todo: list) -> None:
        """Results into the index as they come. An OSError from the index is the output
        folder's (OutputError); one from the backend is the backend's, and ends the run."""
        try:
            with output_errors(self.out), self.store.journal(partial(self._synced, len(todo))) as journal, \
                    closing(self.plan.backend.map_unordered(self.processor, todo)) as outcomes:  # fmt: skip
                while (outcome := _next(outcomes)) is not None:
                    result = outcome.result or failed_result(outcome.item, outcome.crash, ErrorKind.WORKER)
                    if result.error_kind in STOPS:
                        # Not this clip's fault: every clip would fail alike. Stop scheduling.
                        self.stop = STOPS[result.error_kind](result.error or "every clip fails alike")
                        return
                    journal.append(result)
                    self.retried += outcome.attempts > 1
        except OutputError as error:  # opening or appending to the index, or its last sync
            self.stop = self.stop or error

    def _finish(self, status: RunStatus) -> RunStatus:
        """Index in dataset order, stats, temporaries swept, run.json with the outcome."""
        frames, processed, last = self.frames, self.processed, self.last
        try:
            with output_errors(self.out):
                self.store.remove_temporaries()
                self.store.finalize(list(self.work.keys))
        except OutputError as error:  # the index as appended stays: a resume reads it
            self.stop = self.stop or error
        if self.stop is not None:
            status = "stopped"
        self.elapsed = time.monotonic() - self.started
        reason = str(self.stop) if self.stop is not None else self.failure
        try:
            with output_errors(self.out):
                self.store.write_run_info(self.info | {
                    "status": status,
                    **({"reason": reason} if reason is not None else {}),
                    "finished": _now(),
                    "elapsed_seconds": round(self.elapsed, 3),
                    "clips_processed": processed,
                    "clips_retried": self.retried,
                    "frames_processed": frames,
                    # Until the last result: leaves out finalising and the backend shutting down (Ray: ~1.4 s).
                    "processing_seconds": round(last - self.started, 3),
                    "frames_per_second": round(frames / self.elapsed, 3) if self.elapsed > 0 else 0.0,
                })  # fmt: skip
        except OutputError as error:
            self.stop = self.stop or error
        return status

    def _summary(self, status: RunStatus) -> RunSummary:
        wanted = set(self.work.keys)
        problems = [r for r in self.store.iter_index() if r.key in wanted and (r.status is ClipStatus.FAILED or r.failed_frames)]
        return RunSummary(
            out=self.out, status=status, clips_total=len(self.work.keys), clips_skipped=self.work.skipped,
            clips_processed=self.processed, clips_retried=self.retried, frames_processed=self.frames, elapsed=self.elapsed,
            failed=tuple(r for r in problems if r.status is ClipStatus.FAILED),
            frame_failures=tuple(r for r in problems if r.failed_frames), clips_changed=self.work.changed,
        )  # fmt: skip
