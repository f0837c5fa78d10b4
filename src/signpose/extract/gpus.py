"""Where the torch estimator's workers run: one process per GPU, each pinned to its GPU.

`plan_gpus` is the decision, pure (tested without a GPU); `visible_gpus` is the one part
that asks PyTorch, and only the torch estimator on a GPU asks it. The MediaPipe estimator's
workers are left as they are (they use no GPU).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuPlan:
    workers: int | None  # None: the backend's own default (local: the cores; Ray: the cluster's CPUs or GPUs)
    gpus: tuple[str, ...] | None = None  # make_backend(gpus=): None, no GPU given out; local: worker i gets gpus[i % n]


def plan_gpus(*, estimator: str, backend: str, workers: int | None, device: str | None, visible: Sequence[str]) -> GpuPlan:
    """The workers and GPUs of a run. ``visible``: the GPUs this machine's PyTorch sees, as
    CUDA_VISIBLE_DEVICES names them. The torch estimator on ``cuda`` (asked for, or the
    default where a GPU is visible): local, one worker per visible GPU by default (more
    share them round-robin); Ray, one GPU per actor and by default one actor per GPU of the
    cluster. On the CPU, or on one named device (``cuda:1``), one worker by default: it
    batches frames itself."""
    if estimator != "torch":
        return GpuPlan(workers)
    if not (device == "cuda" or (device is None and visible)):
        return GpuPlan(workers or 1)
    if backend == "ray":
        return GpuPlan(workers, ())
    if not visible:  # --device cuda with no GPU here: the estimator says so, in one line
        return GpuPlan(workers or 1)
    return GpuPlan(workers or len(visible), tuple(visible))


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


def gpu_plan(*, estimator: str, backend: str, workers: int | None, device: str | None) -> GpuPlan:
    """plan_gpus for this machine: PyTorch is asked only for the torch estimator on a GPU."""
    asks = estimator == "torch" and device in (None, "cuda")
    return plan_gpus(estimator=estimator, backend=backend, workers=workers, device=device, visible=visible_gpus() if asks else ())
