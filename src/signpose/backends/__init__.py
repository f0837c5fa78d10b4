"""Execution backends. They run one picklable function over clips and know nothing of MediaPipe."""

from __future__ import annotations

import os
from typing import Literal

from signpose.backends.base import Backend, BackendError, Outcome

BackendName = Literal["local", "ray"]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_backend(name: BackendName, workers: int | None = None, ray_address: str | None = None) -> Backend:
    if name == "local":
        from signpose.backends.local import LocalBackend

        return LocalBackend(workers or default_workers())
    if name == "ray":
        try:
            from signpose.backends.ray import RayBackend
        except ImportError as error:
            raise BackendError(str(error)) from error

        return RayBackend(workers, address=ray_address)
    raise ValueError(f"unknown backend {name!r} (choose local or ray)")


__all__ = ["Backend", "BackendError", "BackendName", "Outcome", "default_workers", "make_backend"]
