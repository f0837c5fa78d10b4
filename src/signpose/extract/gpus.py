"""Where the torch estimator's workers run: one process per GPU by default, each pinned to
its GPU; ``--workers-per-gpu N`` plans N per GPU (several workers can keep one GPU fed
while each does its host work; 1 stays the default until a GPU has measured otherwise).

`plan_gpus` is the decision, pure (tested without a GPU); `visible_gpus` is the one part
that asks PyTorch, and only the torch estimator on a GPU asks it. The other estimators'
workers are left as they are (they use no GPU). What was planned goes into run.json
(``GpuPlan.facts``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signpose.errors import EstimatorError


@dataclass(frozen=True)
class GpuPlan:
    workers: int | None  # None: the backend's own default (local: the cores; Ray: the cluster's CPUs or GPUs)
    gpus: tuple[str, ...] | None = None  # make_backend(gpus=): None, no GPU given out; local: worker i gets gpus[i % n]
    per_gpu: int | None = None  # --workers-per-gpu as asked (None: not asked)

    def facts(self) -> dict[str, Any]:
        """What run.json records of the plan: the GPUs the local workers are pinned to and
        how many workers each got (round-robin); nothing where no GPU was given out."""
        if not self.gpus or not self.workers:
            return {}
        shares = [len(range(index, self.workers, len(self.gpus))) for index in range(len(self.gpus))]
        return {"gpu_plan": {"gpus": list(self.gpus), "workers_per_gpu": shares}}


def plan_gpus(*, estimator: str, backend: str, workers: int | None, device: str | None, visible: Sequence[str],
              per_gpu: int | None = None) -> GpuPlan:
    """The workers and GPUs of a run. ``visible``: the GPUs this machine's PyTorch sees, as
    CUDA_VISIBLE_DEVICES names them. The torch estimator on ``cuda`` (asked for, or the
    default where a GPU is visible): local, ``per_gpu`` workers per visible GPU (1 by
    default; ``workers`` instead shares them round-robin); Ray, one GPU per actor and by
    default one actor per GPU of the cluster. On the CPU, or on one named device
    (``cuda:1``), one worker by default: it batches frames itself. ``per_gpu`` anywhere
    else, or with ``workers``, is refused in one line (EstimatorError)."""
    if per_gpu is not None:
        _check_per_gpu(per_gpu, estimator=estimator, backend=backend, workers=workers, device=device)
        if device is None and not visible:
            raise EstimatorError("--workers-per-gpu: PyTorch sees no GPU here (the torch estimator would run on the CPU)")
    if estimator != "torch":
        return GpuPlan(workers)
    if not (device == "cuda" or (device is None and visible)):
        return GpuPlan(workers or 1)
    if backend == "ray":
        return GpuPlan(workers, ())
    if not visible:  # --device cuda with no GPU here: the estimator says so, in one line
        return GpuPlan(workers or 1)
    return GpuPlan(workers or (per_gpu or 1) * len(visible), tuple(visible), per_gpu)


def _check_per_gpu(per_gpu: int, *, estimator: str, backend: str, workers: int | None, device: str | None) -> None:
    if per_gpu < 1:
        raise EstimatorError(f"--workers-per-gpu must be at least 1, not {per_gpu}")
    if estimator != "torch" or device not in (None, "cuda"):
        where = f"--estimator {estimator}" + (f" --device {device}" if device else "")
        raise EstimatorError(f"--workers-per-gpu is for --estimator torch on cuda (all visible GPUs), not {where}")
    if backend == "ray":
        raise EstimatorError("--workers-per-gpu is for the local backend: on Ray each actor has a GPU of its own (use --workers)")
    if workers is not None:
        raise EstimatorError("--workers-per-gpu and --workers: give one of them (--workers shares the GPUs round-robin)")


def gpu_names(count: int, listed: str | None) -> tuple[str, ...]:
    """The names of the ``count`` GPUs a process sees, as a child's CUDA_VISIBLE_DEVICES
    must give them: the entries of this process's own list (``listed``; indices or UUIDs)
    where it has one, else 0..count-1."""
    if listed is None:
        return tuple(str(index) for index in range(count))
    return tuple(name.strip() for name in listed.split(",") if name.strip())[:count]


def visible_gpus() -> tuple[str, ...]:
    """The GPUs PyTorch sees here (none without PyTorch: the estimator then says how to get it)."""
    try:
        import torch
    except ImportError:
        return ()
    return gpu_names(torch.cuda.device_count(), os.environ.get("CUDA_VISIBLE_DEVICES"))


def gpu_plan(*, estimator: str, backend: str, workers: int | None, device: str | None, per_gpu: int | None = None) -> GpuPlan:
    """plan_gpus for this machine: PyTorch is asked only for the torch estimator on a GPU."""
    asks = estimator == "torch" and device in (None, "cuda")
    return plan_gpus(estimator=estimator, backend=backend, workers=workers, device=device,
                     visible=visible_gpus() if asks else (), per_gpu=per_gpu)
