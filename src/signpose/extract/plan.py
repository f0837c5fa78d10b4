"""What an extraction asked for (``Request``: what the command line says) becomes what it
runs (``extract.driver.Plan``): the estimator (a run being resumed keeps its own unless
another is asked for), the dataset, the workers (planned once, from the estimator's hints
and the GPUs), and the backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from signpose.backends import BackendName, make_backend
from signpose.datasets import open_dataset
from signpose.errors import EstimatorError
from signpose.estimators import DEFAULT, EstimatorSpec, default_options, make_estimator
from signpose.extract.driver import Plan
from signpose.extract.gpus import gpu_plan
from signpose.extract.resume import recorded_estimator
from signpose.extract.workers import plan_workers


@dataclass(frozen=True)
class Request:
    """An extraction as asked for. ``estimator`` None: the run's own when resuming, else
    the default; ``options``: the estimator options given (``mode`` None: the estimator's
    default; ``device`` and ``batch_size`` only where given)."""

    dataset: Path
    estimator: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    layout: str = "auto"
    splits: tuple[str, ...] | None = None
    max_samples_per_split: int | None = None
    backend: BackendName = "local"
    workers: int | None = None
    ray_address: str | None = None
    stall_timeout: float | None = None
    workers_per_gpu: int | None = None  # torch on cuda, local: workers per GPU (extract.gpus)


def estimator_spec(name: str, options: dict[str, Any]) -> EstimatorSpec:
    """The estimator ``name`` with the options given; ``mode`` left unsaid is the
    estimator's own default (mediapipe: image; litert and torch: frame), and options the
    estimator does not take are refused in one line."""
    known = default_options(name)
    params = {key: value for key, value in options.items() if value is not None}
    params["mode"] = options.get("mode") or known.get("mode", "frame")
    for option in ("device", "batch_size"):
        if option in params and option not in known:
            raise EstimatorError(f"--{option.replace('_', '-')} is an option of --estimator torch, not of {name}")
    return EstimatorSpec.of(name, params)


def make_plan(request: Request, previous: dict[str, Any] | None, *, note: Callable[[str], None] = lambda text: None) -> Plan:
    """The plan of ``request`` for a run folder holding ``previous`` (its run info, or None)."""
    name = request.estimator or recorded_estimator(previous) or DEFAULT
    spec = estimator_spec(name, request.options)
    estimator = make_estimator(spec)  # checks the options; its hints size the workers
    dataset = open_dataset(request.dataset, request.layout, request.splits, request.max_samples_per_split)
    gpus = gpu_plan(estimator=name, backend=request.backend, workers=request.workers, device=spec.options.get("device"),
                    per_gpu=request.workers_per_gpu)  # fmt: skip
    workers = gpus.workers  # torch: one process per GPU (it batches frames itself), pinned to it
    if request.backend == "local":
        planned = plan_workers(workers, per_core=estimator.hints.workers_per_core, worker_memory=estimator.hints.worker_memory)
        if planned.note:
            note(planned.note)
        workers = planned.workers
    backend = make_backend(request.backend, workers, request.ray_address, stall_timeout=request.stall_timeout, gpus=gpus.gpus)
    return Plan(dataset, spec, estimator, backend, request.backend, facts=replace(gpus, workers=workers).facts())
