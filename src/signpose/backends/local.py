"""Local backend: a pool of worker processes on this machine.

The driver keeps track of which items each worker holds, so when a worker dies (SIGKILL,
the OOM killer) it starts a fresh worker and gives those items out again.
multiprocessing.Pool would hang on a dead worker and ProcessPoolExecutor breaks the whole
pool, which is why this is a small pool of its own.

No idle gaps: a worker holds its current item and, while enough items are left, the next
one (or the next ``fn.items_ahead``), so it never waits for the driver between items; a
function with a ``prepare(item)`` method is told of each item as soon as it arrives (to list
and decode ahead, or to batch with the current one), and one
with a ``start()`` method builds its state (a model) as soon as the worker starts, before
any item. Only the item in progress counts an attempt when its worker dies.

Workers are forked from a fork server (Linux) that has imported the function's module and
what its ``preload`` attribute names, once; elsewhere each worker is a spawned interpreter.
Never a plain fork of the driver: MediaPipe graphs do not survive a fork, and the fork
server holds none. Each worker gets the driver's environment as it is when the worker
starts, like a spawned one would.

A worker that lives but makes no progress (stopped with SIGSTOP, stuck on a dead network
mount, deadlocked) is treated like a dead one: each worker has a counter in shared memory
that it bumps when it takes an item and whenever the function calls
``signpose.backends.heartbeat()``; a busy worker whose counter has not moved, and which has
sent no result, for longer than the stall bound (``liveness.StallBound``) is killed, and its
items go out again.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from signpose.backends import liveness
from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, BackendError, Outcome
from signpose.backends.localworker import Setting, context_for, worker_main

STOP_TIMEOUT_SECONDS = 5.0


def describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@dataclass
class _Assignment:
    item: Any
    attempts: int


class _Worker:
    def __init__(self, context, fn: Callable[[Any], Any], gpu: str | None) -> None:
        self.connection, child = context.Pipe()
        self.counter = context.RawValue("Q", 0)  # heartbeats: written by the worker only
        setting = Setting.of_driver({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})
        self.process = context.Process(target=worker_main, args=(child, fn, self.counter, setting), daemon=True)
        self.process.start()
        child.close()
        self.gpu = gpu
        self.held: deque[_Assignment] = deque()  # the first is in progress, the rest wait in the worker
        self.retired = False
        self.beats = 0  # the counter when last read
        self.heard = 0.0  # time.monotonic() of the last sign of life while busy

    @property
    def busy(self) -> bool:
        return bool(self.held)

    def give(self, assignment: _Assignment) -> None:
        if not self.held:
            self.beats = self.counter.value
            self.heard = time.monotonic()
        self.held.append(assignment)
        try:
            self.connection.send(assignment.item)
        except OSError:
            pass  # it died: its sentinel fires and the items go out again

    def retire(self) -> None:
        """Ask an idle worker to exit; it tears its model down while others still work."""
        self.retired = True
        self.stop()

    def stop(self) -> None:
        if self.held:
            # Mid-item: do not wait for it. The store drops the temporary file it leaves.
            self.process.terminate()
            _continue(self.process)  # a stopped worker acts on SIGTERM only once continued
        else:
            try:
                self.connection.send(None)
            except OSError:
                pass

    def join(self) -> None:
        self.process.join(STOP_TIMEOUT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def _continue(process) -> None:
    try:
        os.kill(process.pid, signal.SIGCONT)
    except (OSError, TypeError):  # already gone (or never started)
        pass


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

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        queue = deque(_Assignment(item, 0) for item in items)
        if not queue:
            return
        context = context_for(fn)
        held = 1 + max(1, getattr(fn, "items_ahead", 1))  # items a worker holds at once
        bound = liveness.StallBound(self.stall_timeout, self.stall_factor)
        tick = min(1.0, self.stall_timeout / 4)  # how often heartbeat counters are read
        pool = [_Worker(context, fn, self._gpu(slot)) for slot in range(min(self.workers, len(queue)))]
        try:
            while queue or any(worker.busy for worker in pool):
                self._dispatch(context, fn, pool, queue, held)
                busy = [worker for worker in pool if worker.busy]
                waitables = [w.connection for w in busy] + [w.process.sentinel for w in busy]
                now = time.monotonic()
                due = min(w.heard for w in busy) + bound.seconds - now if busy else tick
                ready = set(wait(waitables, timeout=max(0.0, min(tick, due))))
                for index, worker in enumerate(pool):
                    if not worker.busy:
                        continue
                    # Read the clock per worker: the consumer may have held us up at a yield.
                    # A result, a death and a heartbeat are all looked for before a silence is
                    # judged, so a consumer slow between yields never gets a working worker killed.
                    now = time.monotonic()
                    if worker.connection in ready or worker.connection.poll():
                        silence = now - worker.heard
                        outcome = self._receive(worker)
                        if outcome is not None:
                            bound.observe(silence)
                            yield outcome
                            continue
                    if worker.process.sentinel in ready or not worker.process.is_alive():
                        outcome = self._lost(worker, queue)
                        worker.join()
                        pool[index] = _Worker(context, fn, worker.gpu)
                        if outcome is not None:
                            yield outcome
                        continue
                    beats = worker.counter.value
                    if beats != worker.beats:
                        bound.observe(now - worker.heard)
                        worker.beats, worker.heard = beats, now
                    elif now - worker.heard > bound.seconds:
                        # Alive but silent: hung. SIGKILL works on a stopped process too.
                        seconds = bound.seconds
                        worker.process.kill()
                        outcome = self._lost(worker, queue, f"killed after {liveness.describe_stall(seconds)}")
                        worker.join()
                        pool[index] = _Worker(context, fn, worker.gpu)
                        if outcome is not None:
                            yield outcome
        finally:
            for worker in pool:
                worker.stop()
            for worker in pool:
                worker.join()

    @staticmethod
    def _dispatch(context, fn: Callable[[Any], Any], pool: list[_Worker], queue: deque, held: int) -> None:
        """Every worker gets an item; then, while more items are left than there are
        workers, each also gets the next ones, up to ``held`` in all (so items wait behind
        a worker's current one only while there are more than its peers can take)."""
        for index, worker in enumerate(pool):
            if not worker.busy and queue:
                if worker.retired or not worker.process.is_alive():  # a retry came back, or it died idle
                    worker.join()
                    pool[index] = worker = _Worker(context, fn, worker.gpu)
                LocalBackend._give(worker, queue)
            elif not worker.busy and not worker.retired:
                # Nothing left to give: let it shut down while the others finish.
                worker.retire()
        for worker in pool:
            while worker.busy and len(worker.held) < held and len(queue) > len(pool):
                LocalBackend._give(worker, queue)

    @staticmethod
    def _give(worker: _Worker, queue: deque) -> None:
        assignment = queue.popleft()
        assignment.attempts += 1
        worker.give(assignment)

    def _receive(self, worker: _Worker) -> Outcome | None:
        try:
            result = worker.connection.recv()
        except (EOFError, OSError):
            return None  # died while sending: handled as a lost worker
        assignment = worker.held.popleft()
        # The next item starts now: its silence is measured from here.
        worker.beats, worker.heard = worker.counter.value, time.monotonic()
        return Outcome(assignment.item, result, attempts=assignment.attempts)

    def _lost(self, worker: _Worker, queue: deque, what: str | None = None) -> Outcome | None:
        """``worker`` is gone (died, or ``what`` was done to it): the items it waited to start
        go out again as they were; the one in progress too, or it ends as a crash."""
        worker.process.join()
        what = what or f"died ({describe_exit(worker.process.exitcode)})"
        assignment, *waiting = worker.held
        worker.held.clear()
        for untouched in reversed(waiting):
            untouched.attempts -= 1
            queue.appendleft(untouched)
        if assignment.attempts < self.max_attempts:
            queue.appendleft(assignment)
            return None
        return Outcome(
            assignment.item,
            None,
            crash=f"worker process {what} on each of {assignment.attempts} attempts",
            attempts=assignment.attempts,
        )
