"""The Ray backend's actors: the worker that runs items and honours the function's hooks
(started with the GPUs it asks for, killed), and the board where their heartbeats meet
(one per run, no CPU), read by the driver's stall watchdog."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayError

from signpose.backends import liveness
from signpose.backends.base import WorkerFunction
from signpose.errors import BackendError


class SignposeWorker:
    """One actor, running one WorkerFunction for its life, with its hooks as a local worker
    process honours them: ``start()`` as it gets the function (made with it, or ``load``ed
    when made earlier by check(), before the function was known); ``prepare(item)`` as soon
    as it is ``tell``-ed of items coming to it, on a thread of its own (the ``inbox``
    concurrency group) while an item runs; ``run`` runs one item at a time.

    The function comes as a reference inside a list, so Ray does not resolve (and unpickle)
    it per call; it is fetched once per actor and keeps its state (the model). Each item
    comes with a ticket, its number in this run: it is prepared once, by ``tell`` or, should
    ``run`` come first, by ``run`` just before the call."""

    def __init__(self, boxed_fn: list | None = None) -> None:
        self._loading = threading.Lock()  # start() runs once, before any prepare or call
        self._claiming = threading.Lock()
        self._fn_ref: str | None = None
        self._fn: WorkerFunction | None = None
        self._prepared: dict[int, threading.Event] = {}  # ticket -> set once its item is prepared
        self._ready = threading.Event()  # an item prepared and run: its ticket's event from then on
        self._ready.set()
        if boxed_fn is not None:
            self._function(boxed_fn)

    def _function(self, boxed_fn: list) -> WorkerFunction:
        with self._loading:
            if self._fn is None or self._fn_ref != boxed_fn[0].hex():
                fn = ray.get(boxed_fn[0])
                fn.start()
                self._fn, self._fn_ref = fn, boxed_fn[0].hex()
            return self._fn

    def _claim(self, ticket: int) -> threading.Event | None:
        """None: the caller prepares this ticket's item now (and then sets its event);
        else the event that is set once it is prepared."""
        with self._claiming:
            event = self._prepared.get(ticket)
            if event is None:
                self._prepared[ticket] = threading.Event()
            return event

    def _prepare(self, fn: WorkerFunction, ticket: int, item: Any) -> None:
        """Prepare the item unless that was done, or is being done (then wait for it)."""
        event = self._claim(ticket)
        if event is not None:
            event.wait()
            return
        try:
            fn.prepare(item)
        except Exception:  # noqa: BLE001 - the item's own call meets the problem and reports it
            pass
        finally:
            self._prepared[ticket].set()

    def run_probe(self, probe: Callable[[], None]) -> None:
        probe()

    @ray.method(num_returns=0)
    def load(self, boxed_fn: list) -> None:
        self._function(boxed_fn)

    @ray.method(concurrency_group="inbox", num_returns=0)
    def tell(self, boxed_fn: list, items: list[tuple[int, Any]]) -> None:
        fn = self._function(boxed_fn)
        for ticket, item in items:
            self._prepare(fn, ticket, item)

    def run(self, boxed_fn: list, ticket: int, item: Any, beat: tuple | None = None) -> Any:
        fn = self._function(boxed_fn)
        self._prepare(fn, ticket, item)  # by a tell that came first, or now
        self._prepared[ticket] = self._ready  # a tell coming after this leaves it be
        liveness.install(_RayBeat(*beat) if beat else None)
        try:
            return fn(item)
        finally:
            liveness.install(None)


RemoteWorker = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0, concurrency_groups={"inbox": 1})(SignposeWorker)


def start_worker(gpus: float = 0, boxed_fn: list | None = None) -> Any:
    """A new worker actor; with ``gpus`` > 0 it holds that many GPUs (Ray sets its
    CUDA_VISIBLE_DEVICES to them, so no two whole-GPU workers share one). Given the
    function (``boxed_fn``), it starts it as it is made."""
    actor = RemoteWorker.options(num_gpus=gpus) if gpus else RemoteWorker
    return actor.remote(boxed_fn) if boxed_fn is not None else actor.remote()


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
