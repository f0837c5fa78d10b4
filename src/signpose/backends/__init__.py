"""Execution backends. They run one picklable function over clips and know nothing of MediaPipe."""

from __future__ import annotations

from typing import Literal

from signpose.backends.base import Backend, BackendError, Outcome
from signpose.backends.workers import WorkerPlan, default_workers, plan_workers

BackendName = Literal["local", "ray"]


def make_backend(name: BackendName, workers: int | None = None, ray_address: str | None = None) -> Backend:
    if name == "local":
        from signpose.backends.local import LocalBackend

        return LocalBackend(plan_workers(workers).workers)
    if name == "ray":
        try:
            from signpose.backends.ray import RayBackend
        except ImportError as error:
            raise BackendError(str(error)) from error

        return RayBackend(workers, address=ray_address)
    raise ValueError(f"unknown backend {name!r} (choose local or ray)")


__all__ = ["Backend", "BackendError", "BackendName", "Outcome", "WorkerPlan", "default_workers", "make_backend", "plan_workers"]
