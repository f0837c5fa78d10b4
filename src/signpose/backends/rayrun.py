"""One map_unordered on Ray actors: which actor holds which items, the calls in flight,
the stall watchdog, and the actors replaced as they die.

Like a local worker, an actor holds the item it runs and, while enough items are left,
the next ones (up to the function's ``items_ahead``), of which it is told at once
(``tell``, a call that runs beside the current item) so it prepares them ahead. It runs
one item at a time, one call in flight, so when it dies the driver knows which item was in
progress: that one costs an attempt, the ones it held ahead go back as they were
(``retry``). Signs of life: the call given, its heartbeats on the board, its result.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import ray
from ray.exceptions import OutOfMemoryError, RayError, RayTaskError

from signpose.backends import liveness
from signpose.backends.base import Outcome
from signpose.backends.rayactors import kill, start_worker
from signpose.backends.retry import Attempt, RetryQueue

# ray.wait returns at least this often, so Ctrl-C is seen promptly whatever Ray does with
# signals inside a blocking call.
WAIT_SECONDS = 0.5


def first_sentence(text: str) -> str:
    return re.split(r"\.(?:\s|$)", text.strip(), maxsplit=1)[0].strip()


def death_reason(error: BaseException) -> str:
    """A short reason from Ray's long death report (which explains every possible cause)."""
    if isinstance(error, OutOfMemoryError):
        return "out of memory"
    text = str(error)
    why = re.search(r"The actor is dead because (.*)", text)
    detail = re.search(r"Worker exit detail: (.*)", text)
    parts = [first_sentence(match.group(1)) for match in (why, detail) if match]
    return ": ".join(parts) if parts else f"{type(error).__name__}: {first_sentence(text)}"


def raised(error: RayTaskError) -> str:
    cause = error.cause if isinstance(error.cause, BaseException) else None
    return f"{type(cause).__name__}: {cause}" if cause is not None else first_sentence(str(error))


class _Actor:
    """The driver's view of one actor: the items it holds (ticket and attempt; the first
    runs once ``call`` is set), the call in flight, and when it was last heard from."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.held: deque[tuple[int, Attempt]] = deque()
        self.call: Any = None  # the ObjectRef of the run in flight
        self.heard = 0.0  # time.monotonic() of its last sign of life while running
        self.count: int | None = None  # its heartbeats on the board when last read

    @property
    def ticket(self) -> int:
        return self.held[0][0]


class RayRun:
    """Items of ``queue`` over ``handles`` (actors that have the function, or are being
    given it), each holding up to ``depth`` items."""

    def __init__(self, handles: list, boxed_fn: list, queue: RetryQueue, depth: int, bound: liveness.StallBound,
                 board: Any, gpus_per_worker: float) -> None:  # fmt: skip
        self.actors = [_Actor(handle) for handle in handles]
        self.boxed_fn = boxed_fn
        self.queue = queue
        self.depth = depth
        self.bound = bound
        self.board = board  # None once it failed: heartbeats go unheard, the item-level bound holds
        self.gpus_per_worker = gpus_per_worker
        self._tickets = itertools.count(1)
        self._reading: Any = None  # a board read in flight

    def handles(self) -> list:
        return [actor.handle for actor in self.actors]

    def outcomes(self) -> Iterator[Outcome]:
        looked = time.monotonic()
        while self.queue or any(actor.held for actor in self.actors):
            self._dispatch()
            calls = {actor.call: actor for actor in self.actors if actor.call is not None}
            ready, _ = ray.wait(list(calls), num_returns=1, timeout=WAIT_SECONDS)
            now = time.monotonic()
            away, looked = now - looked, now
            if away > WAIT_SECONDS + 1.0:
                # The consumer held us up between yields. Heartbeats sent meanwhile reach us
                # only with the next board read, so that time is not the actors' silence.
                for actor in calls.values():
                    actor.heard = min(now, actor.heard + away - WAIT_SECONDS)
            self._read_board(now)
            for ref in ready:
                actor = calls[ref]
                self.bound.observe(now - actor.heard)
                outcome = self._settle(actor)
                if outcome is not None:
                    yield outcome
            silent = [actor for actor in calls.values() if actor.call is not None and now - actor.heard > self.bound.seconds]
            finished = set(ray.wait([a.call for a in silent], num_returns=len(silent), timeout=0)[0]) if silent else set()
            for actor in [actor for actor in silent if actor.call not in finished]:  # finished: taken next round
                # Silent for longer than the bound allows: hung (or stopped).
                outcome = self._replace(actor, f"killed after {liveness.describe_stall(self.bound.seconds)}")
                if outcome is not None:
                    yield outcome

    def _dispatch(self) -> None:
        """Every actor gets an item; then, while more items are left than there are actors,
        each is also told of the next ones, up to ``depth`` in all; every actor holding
        items runs its first."""
        told: dict[_Actor, list[tuple[int, Any]]] = {}
        for actor in self.actors:
            if not actor.held and self.queue:
                self._assign(actor, told)
        for actor in self.actors:  # a retry runs alone (retry.py): held by an idle actor, nothing beside it
            while (actor.held and len(actor.held) < self.depth and len(self.queue) > len(self.actors)
                   and not actor.held[0][1].alone and not self.queue.next_is_retry()):  # fmt: skip
                self._assign(actor, told)
        for actor, items in told.items():
            actor.handle.tell.remote(self.boxed_fn, items)
        for actor in self.actors:
            if actor.call is None and actor.held:
                ticket, attempt = actor.held[0]
                beat = (self.board, ticket) if self.board is not None else None
                actor.call = actor.handle.run.remote(self.boxed_fn, ticket, attempt.item, beat)
                actor.heard, actor.count = time.monotonic(), None

    def _assign(self, actor: _Actor, told: dict) -> None:
        ticket, attempt = next(self._tickets), self.queue.take()
        actor.held.append((ticket, attempt))
        told.setdefault(actor, []).append((ticket, attempt.item))

    def _settle(self, actor: _Actor) -> Outcome | None:
        try:
            result = ray.get(actor.call)
        except RayTaskError as error:
            # The function raised and its actor lives on: a retry would raise again.
            return self._finish(actor).failed(f"raised {raised(error)}")
        except RayError as error:
            # Any other Ray error lost the item with its worker (killed, out of memory, node
            # gone, unreachable). Kill as well as forget: an unreachable actor may still run.
            return self._replace(actor, f"died ({death_reason(error)})")
        return self._finish(actor).done(result)

    @staticmethod
    def _finish(actor: _Actor) -> Attempt:
        _, attempt = actor.held.popleft()
        actor.call = None
        return attempt

    def _replace(self, actor: _Actor, what: str) -> Outcome | None:
        """Kill ``actor`` (``what`` happened to it), start another in its place; its items
        go out again, the one in progress counting an attempt (see ``retry``)."""
        kill([actor.handle])
        self.actors[self.actors.index(actor)] = _Actor(start_worker(self.gpus_per_worker, self.boxed_fn))
        held = [attempt for _, attempt in actor.held]
        actor.held.clear()
        actor.call = None
        return self.queue.lost(held, f"Ray worker {what}")

    def _read_board(self, now: float) -> None:
        """Take the board's answer if it is in (a changed count is a sign of life), and ask
        again. Never waits: a slow or lost board only means heartbeats go unheard, and the
        item-level bound still holds."""
        if self.board is None:
            return
        if self._reading is not None:
            done, _ = ray.wait([self._reading], timeout=0)
            if not done:
                return
            try:
                latest = ray.get(self._reading)
            except RayError:
                kill([self.board])
                self.board = self._reading = None
                return
            for actor in self.actors:
                count = latest.get(actor.ticket) if actor.call is not None else None
                if count is not None and count != actor.count:
                    self.bound.observe(now - actor.heard)
                    actor.count, actor.heard = count, now
        self._reading = self.board.read.remote([actor.ticket for actor in self.actors if actor.call is not None])
