"""The Ray backend's actors: the worker that runs items (started with the GPUs it asks for,
killed), and the board where their heartbeats meet (one per run, no CPU), read by the
driver's stall watchdog."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayError

from signpose.backends import liveness
from signpose.errors import BackendError


class SignposeWorker:
    """One actor. The function is fetched the first time an item needs it (not in the
    constructor) because check() runs on the same actors before the function is known;
    it is cached, so it is unpickled once per actor and keeps its state (the model)."""

    def __init__(self) -> None:
        self._fn_ref: str | None = None
        self._fn: Callable[[Any], Any] | None = None

    def run_probe(self, probe: Callable[[], None]) -> None:
        probe()

    def run(self, boxed_fn: list, item: Any, beat: tuple | None = None) -> Any:
        # The reference comes inside a list so Ray does not resolve (and unpickle) it per call.
        if self._fn_ref != boxed_fn[0].hex():
            self._fn, self._fn_ref = ray.get(boxed_fn[0]), boxed_fn[0].hex()
        liveness.install(_RayBeat(*beat) if beat else None)
        try:
            return self._fn(item)
        finally:
            liveness.install(None)


RemoteWorker = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(SignposeWorker)


def start_worker(gpus: float = 0) -> Any:
    """A new worker actor; with ``gpus`` > 0 it holds that many GPUs (Ray sets its
    CUDA_VISIBLE_DEVICES to them, so no two whole-GPU workers share one)."""
    return (RemoteWorker.options(num_gpus=gpus) if gpus else RemoteWorker).remote()


def gpu_workers(requested: int | None, gpus_per_worker: float) -> int:
    """How many workers of ``gpus_per_worker`` GPUs each to start on the connected cluster:
    ``requested``, or as many as its GPUs hold. Where they do not fit, one clear error now
    (Ray itself would wait for the GPUs forever)."""
    gpus = float(ray.cluster_resources().get("GPU", 0))
    each = f"{gpus_per_worker:g} GPU{'' if gpus_per_worker == 1 else 's'} each"
    if gpus <= 0:
        raise BackendError(f"the Ray cluster has no GPUs, and its workers need {each}: start its nodes where GPUs are"
                           " visible (`ray start --num-gpus N`), or run on the CPU (--device cpu)")
    fits = int(gpus / gpus_per_worker + 1e-9)
    wanted = requested or max(fits, 1)
    if wanted > fits:
        plural = "" if gpus == 1 else "s"
        raise BackendError(f"the Ray cluster has {gpus:g} GPU{plural}: {wanted} worker(s) of {each} need"
                           f" {wanted * gpus_per_worker:g}" + (f"; ask for at most {fits}" if fits else ""))
    return wanted

def kill(actors: list) -> None:
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except (RayError, ValueError, RuntimeError):  # already gone, or Ray is going down
            pass


class BeatBoard:
    """Where actors' heartbeats meet: the latest count per item ticket. One per run, no CPU."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def beat(self, ticket: int, count: int) -> None:
        self._counts[ticket] = count

    def read(self, tickets: list[int]) -> dict[int, int]:
        """The counts of ``tickets`` (the items still running); the rest are forgotten."""
        self._counts = {ticket: self._counts[ticket] for ticket in tickets if ticket in self._counts}
        return dict(self._counts)


RemoteBoard = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(BeatBoard)
BEAT_SECONDS = 1.0  # an actor tells the board at most this often


class _RayBeat:
    """heartbeat() inside an actor: count, and send the count to the board now and then
    (a call that does not wait for an answer)."""

    def __init__(self, board: Any, ticket: int) -> None:
        self.board = board
        self.ticket = ticket
        self.count = 0
        self.sent = float("-inf")

    def __call__(self) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.sent >= BEAT_SECONDS:
            self.sent = now
            try:
                self.board.beat.remote(self.ticket, self.count)
            except Exception:  # noqa: BLE001 - the board is gone: the item-level bound still holds
                pass
