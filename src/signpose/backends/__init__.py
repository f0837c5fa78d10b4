"""Execution backends. They run one picklable function over clips and know nothing of MediaPipe."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from signpose.backends.base import Backend, BackendError, Outcome, cores
from signpose.backends.liveness import DEFAULT_STALL_TIMEOUT, heartbeat

STALL_TIMEOUT_VARIABLE = "SIGNPOSE_STALL_TIMEOUT"

BackendName = Literal["local", "ray"]


def stall_timeout_from_environment() -> float:
    """The stall bound's floor in seconds: SIGNPOSE_STALL_TIMEOUT, else the default (300)."""
    text = os.environ.get(STALL_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_STALL_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise BackendError(f"{STALL_TIMEOUT_VARIABLE}={text!r}: not a positive number of seconds")
    return seconds


def make_backend(
    name: BackendName,
    workers: int | None = None,
    ray_address: str | None = None,
    stall_timeout: float | None = None,
    *,
    gpus: Sequence[str] | None = None,
) -> Backend:
    """The backend ``name``. A worker that makes no progress for ``stall_timeout`` seconds
    (default: SIGNPOSE_STALL_TIMEOUT, else 300; more once slower items have been seen) is
    killed and its item retried. For Ray, an unreachable ``ray_address`` fails here, within
    seconds, before anything is written. ``gpus`` (None: no GPU is given out): one GPU per
    worker. Local: worker i sees only GPU ``gpus[i % len(gpus)]`` (its CUDA_VISIBLE_DEVICES);
    Ray: each actor holds one GPU that Ray picks (num_gpus=1; the names are not used), and
    by default there is one actor per GPU of the cluster."""
    stall = stall_timeout if stall_timeout is not None else stall_timeout_from_environment()
    if name == "local":
        from signpose.backends.local import LocalBackend

        return LocalBackend(workers or cores(), stall_timeout=stall, gpus=tuple(gpus or ()))
    if name == "ray":
        try:
            from signpose.backends.ray import RayBackend
        except ImportError as error:
            raise BackendError(str(error)) from error

        return RayBackend(workers, address=ray_address, stall_timeout=stall, gpus_per_worker=1 if gpus is not None else 0)
    raise ValueError(f"unknown backend {name!r} (choose local or ray)")


__all__ = ["Backend", "BackendError", "BackendName", "Outcome", "cores", "heartbeat", "make_backend"]
