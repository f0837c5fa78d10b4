"""Local backend: a pool of spawned worker processes on this machine.

Each worker holds exactly one item at a time, so when a worker dies (SIGKILL, the OOM
killer) the driver knows which item it held, starts a fresh worker and gives that item
out again. multiprocessing.Pool would hang on a dead worker and ProcessPoolExecutor
breaks the whole pool, which is why this is a small pool of its own.

A worker that lives but makes no progress (stopped with SIGSTOP, stuck on a dead network
mount, deadlocked) is treated the same way: each worker has a counter in shared memory that
it bumps when it takes an item and whenever the function calls
``signpose.backends.heartbeat()``; a busy worker whose counter has not moved, and which has
sent no result, for longer than the stall bound (``liveness.StallBound``) is killed, and its
item goes out again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from signpose.backends import liveness
from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, BackendError, Outcome

STOP_TIMEOUT_SECONDS = 5.0


def _worker_main(connection: Connection, fn: Callable[[Any], Any], counter: Any = None) -> None:
    # Ctrl-C reaches the whole process group; only the driver decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    liveness.install(counter)
    while True:
        try:
            item = connection.recv()
        except EOFError:  # the driver is gone
            return
        if item is None:
            return
        liveness.heartbeat()  # item started
        connection.send(fn(item))


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
    def __init__(self, context, fn: Callable[[Any], Any]) -> None:
        self.connection, child = context.Pipe()
        self.counter = context.RawValue("Q", 0)  # heartbeats: written by the worker only
        self.process = context.Process(target=_worker_main, args=(child, fn, self.counter), daemon=True)
        self.process.start()
        child.close()
        self.assignment: _Assignment | None = None
        self.retired = False
        self.beats = 0  # the counter when last read
        self.heard = 0.0  # time.monotonic() of the last sign of life while busy

    def give(self, assignment: _Assignment) -> None:
        self.assignment = assignment
        self.beats = self.counter.value
        self.heard = time.monotonic()
        try:
            self.connection.send(assignment.item)
        except OSError:
            pass  # it died: its sentinel fires and the item goes out again

    def retire(self) -> None:
        """Ask an idle worker to exit; it tears its model down while others still work."""
        self.retired = True
        self.stop()

    def stop(self) -> None:
        if self.assignment is not None:
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
    """Runs a function over items on ``workers`` spawned processes (never fork: MediaPipe
    graphs do not survive a fork).

    A busy worker silent for longer than ``max(stall_timeout, stall_factor × the longest
    silence seen so far)`` seconds is killed and its item retried (see ``liveness``)."""

    def __init__(
        self,
        workers: int,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        stall_timeout: float = liveness.DEFAULT_STALL_TIMEOUT,
        stall_factor: float = liveness.DEFAULT_STALL_FACTOR,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        liveness.StallBound(stall_timeout, stall_factor)  # checks them now, not mid-run
        self.workers = workers
        self.max_attempts = max_attempts
        self.stall_timeout = stall_timeout
        self.stall_factor = stall_factor

    def check(self, probe: Callable[[], None]) -> None:
        # Workers share this machine's files, so checking here is checking there.
        try:
            probe()
        except OSError as error:
            raise BackendError(str(error)) from error

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        queue = deque(_Assignment(item, 0) for item in items)
        if not queue:
            return
        context = multiprocessing.get_context("spawn")
        bound = liveness.StallBound(self.stall_timeout, self.stall_factor)
        tick = min(1.0, self.stall_timeout / 4)  # how often heartbeat counters are read
        pool = [_Worker(context, fn) for _ in range(min(self.workers, len(queue)))]
        try:
            while queue or any(worker.assignment for worker in pool):
                for index, worker in enumerate(pool):
                    if worker.assignment is None and queue:
                        if worker.retired or not worker.process.is_alive():  # a retry came back, or it died idle
                            worker.join()
                            pool[index] = worker = _Worker(context, fn)
                        assignment = queue.popleft()
                        assignment.attempts += 1
                        worker.give(assignment)
                    elif worker.assignment is None and not worker.retired:
                        # Nothing left to give: let it shut down while the others finish.
                        worker.retire()
                busy = [worker for worker in pool if worker.assignment]
                waitables = [w.connection for w in busy] + [w.process.sentinel for w in busy]
                now = time.monotonic()
                due = min(w.heard for w in busy) + bound.seconds - now if busy else tick
                ready = set(wait(waitables, timeout=max(0.0, min(tick, due))))
                for index, worker in enumerate(pool):
                    if worker.assignment is None:
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
                        pool[index] = _Worker(context, fn)
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
                        pool[index] = _Worker(context, fn)
                        if outcome is not None:
                            yield outcome
        finally:
            for worker in pool:
                worker.stop()
            for worker in pool:
                worker.join()

    def _receive(self, worker: _Worker) -> Outcome | None:
        try:
            result = worker.connection.recv()
        except (EOFError, OSError):
            return None  # died while sending: handled as a lost worker
        assignment, worker.assignment = worker.assignment, None
        return Outcome(assignment.item, result, attempts=assignment.attempts)

    def _lost(self, worker: _Worker, queue: deque, what: str | None = None) -> Outcome | None:
        """``worker`` is gone (died, or ``what`` was done to it): its item goes out again,
        or ends as a crash."""
        worker.process.join()
        what = what or f"died ({describe_exit(worker.process.exitcode)})"
        assignment, worker.assignment = worker.assignment, None
        if assignment.attempts < self.max_attempts:
            queue.appendleft(assignment)
            return None
        return Outcome(
            assignment.item,
            None,
            crash=f"worker process {what} on each of {assignment.attempts} attempts",
            attempts=assignment.attempts,
        )
