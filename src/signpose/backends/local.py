"""Local backend: a pool of worker processes on this machine.

The driver keeps track of which items each worker holds, so when a worker dies (SIGKILL,
the OOM killer) it starts a fresh worker and gives those items out again (``retry``).
multiprocessing.Pool would hang on a dead worker and ProcessPoolExecutor breaks the whole
pool, which is why this is a small pool of its own.

No idle gaps: a worker holds its current item and, while enough items are left, the next
one (or the next ``fn.items_ahead``), so it never waits for the driver between items; the
function is told of each item (``fn.prepare``) as soon as it arrives, to list and decode
ahead or to batch with the current one, and builds its state (``fn.start()``, a model) as
soon as the worker starts, before any item. Only the item in progress counts an attempt
when its worker dies.

Workers are forked from a fork server (Linux) that has imported the function's module and
what ``fn.preload`` names, once; elsewhere each worker is a spawned interpreter. Never a
plain fork of the driver: MediaPipe graphs do not survive a fork, and the fork server holds
none. Each worker gets the driver's environment as it is when the worker starts, like a
spawned one would. When the fork server dies (SIGKILL, the OOM killer), the standard
library starts another at a later start, and a worker that cannot be started from it
meanwhile is spawned; the workers the dead fork server had forked live on, but their exit
can no longer be watched (``localprocess``): they are stopped and their items given out
again, at no cost to the items.

A worker that lives but makes no progress (stopped with SIGSTOP, stuck on a dead network
mount, deadlocked) is treated like a dead one: each worker has a counter in shared memory
that it bumps when it takes an item and whenever the function calls
``signpose.backends.heartbeat()``; a busy worker whose counter has not moved, and which has
sent no result, for longer than the stall bound (``liveness.StallBound``) is killed, and its
items go out again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import wait
from typing import Any

from signpose.backends import liveness
from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, BackendError, Outcome, WorkerFunction
from signpose.backends.localprocess import STOP_TIMEOUT_SECONDS, WorkerProcess, describe_exit
from signpose.backends.localworker import context_for
from signpose.backends.retry import RetryQueue

__all__ = ["STOP_TIMEOUT_SECONDS", "LocalBackend", "describe_exit"]


class LocalBackend:
    """Runs a function over items on ``workers`` processes of this machine.

    A busy worker silent for longer than ``max(stall_timeout, stall_factor × the longest
    silence seen so far)`` seconds is killed and its items retried (see ``liveness``).
    ``gpus`` (device numbers): worker i sees only ``gpus[i % len(gpus)]``
    (CUDA_VISIBLE_DEVICES), so workers spread over the GPUs, and its replacements keep its GPU."""

    def __init__(
        self,
        workers: int,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        stall_timeout: float = liveness.DEFAULT_STALL_TIMEOUT,
        stall_factor: float = liveness.DEFAULT_STALL_FACTOR,
        *,
        gpus: Sequence[str] = (),
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        liveness.StallBound(stall_timeout, stall_factor)  # checks them now, not mid-run
        RetryQueue((), max_attempts)
        self.workers = workers
        self.max_attempts = max_attempts
        self.stall_timeout = stall_timeout
        self.stall_factor = stall_factor
        self.gpus = tuple(str(gpu) for gpu in gpus)

    def check(self, probe: Callable[[], None]) -> None:
        # Workers share this machine's files, so checking here is checking there.
        try:
            probe()
        except OSError as error:
            raise BackendError(str(error)) from error

    def _gpu(self, slot: int) -> str | None:
        return self.gpus[slot % len(self.gpus)] if self.gpus else None

    def map_unordered(self, fn: WorkerFunction, items: Iterable[Any]) -> Iterator[Outcome]:
        queue = RetryQueue(items, self.max_attempts)
        if not queue:
            return
        context = context_for(fn)
        held = 1 + max(1, fn.items_ahead)  # items a worker holds at once
        bound = liveness.StallBound(self.stall_timeout, self.stall_factor)
        tick = min(1.0, self.stall_timeout / 4)  # how often heartbeat counters are read
        pool: list[WorkerProcess] = []
        try:
            for slot in range(min(self.workers, len(queue))):
                pool.append(WorkerProcess(context, fn, self._gpu(slot)))
            while queue or any(worker.busy for worker in pool):
                self._dispatch(context, fn, pool, queue, held)
                busy = [worker for worker in pool if worker.busy]
                waitables = [w.connection for w in busy] + [w.process.sentinel for w in busy]
                now = time.monotonic()
                due = min(w.heard for w in busy) + bound.seconds - now if busy else tick
                ready = set(wait(waitables, timeout=max(0.0, min(tick, due))))
                for worker in pool:
                    outcome = self._look(worker, ready, bound, queue) if worker.busy else None
                    if outcome is not None:  # a lost worker is replaced when there is work for it
                        yield outcome
        finally:
            for worker in pool:
                worker.stop()
            for worker in pool:
                worker.join()

    def _look(self, worker: WorkerProcess, ready: set, bound: liveness.StallBound, queue: RetryQueue) -> Outcome | None:
        """What became of a busy worker: a result, a death, a stall, or nothing yet. A dead
        or killed worker is left ``ended``, for ``_dispatch`` to replace when there is work."""
        # Read the clock per worker: the consumer may have held us up at a yield. A result,
        # a death and a heartbeat are all looked for before a silence is judged, so a
        # consumer slow between yields never gets a working worker killed.
        now = time.monotonic()
        if worker.connection in ready or worker.pending():
            silence = now - worker.heard
            received = worker.receive()
            if received is not None:
                bound.observe(silence)
                attempt, result = received
                return attempt.done(result)
        if worker.ended or worker.process.sentinel in ready or not worker.process.is_alive():
            if worker.orphaned():
                # Its fork server died and took its exit status along: it runs on unwatched.
                # Stop it; what it held goes out again, no attempt spent.
                worker.kill()
                queue.put_back(list(worker.held))
                worker.held.clear()
                worker.ended = True
                return None
            if worker.pending():
                return None  # its last words, or the end of its pipe, are read first
            worker.process.join()
            worker.ended = True
            return self._lost(worker, queue, f"died ({describe_exit(worker.process.exitcode)})")
        beats = worker.counter.value
        if beats != worker.beats:
            bound.observe(now - worker.heard)
            worker.beats, worker.heard = beats, now
        elif now - worker.heard > bound.seconds:
            # Alive but silent: hung. SIGKILL works on a stopped process too.
            seconds = bound.seconds
            worker.kill()
            worker.process.join()
            worker.ended = True
            return self._lost(worker, queue, f"killed after {liveness.describe_stall(seconds)}")
        return None

    @staticmethod
    def _lost(worker: WorkerProcess, queue: RetryQueue, what: str) -> Outcome | None:
        held = list(worker.held)
        worker.held.clear()
        return queue.lost(held, f"worker process {what}")

    @staticmethod
    def _replace(context, fn: WorkerFunction, worker: WorkerProcess) -> WorkerProcess:
        worker.join()
        return WorkerProcess(context, fn, worker.gpu)

    @classmethod
    def _dispatch(cls, context, fn: WorkerFunction, pool: list[WorkerProcess], queue: RetryQueue, held: int) -> None:
        """Every worker gets an item; then, while more items are left than there are
        workers, each also gets the next ones, up to ``held`` in all (so items wait behind
        a worker's current one only while there are more than its peers can take). A retry
        runs alone: it goes only to an idle worker, and nothing is held beside it."""
        for index, worker in enumerate(pool):
            if not worker.busy and queue:
                if worker.retired or worker.ended or not worker.process.is_alive():  # a retry came back, or it died idle
                    pool[index] = worker = cls._replace(context, fn, worker)
                worker.give(queue.take())
            elif not worker.busy and not worker.retired:
                # Nothing left to give: let it shut down while the others finish.
                worker.retire()
        for worker in pool:
            while (worker.busy and len(worker.held) < held and len(queue) > len(pool)
                   and not worker.held[0].alone and not queue.next_is_retry()):  # fmt: skip
                worker.give(queue.take())
