"""The one retry rule of every backend: which items are still to be given out, how many
workers each has been given to, and what becomes of the items a lost worker held.

A worker holds the item it runs and, often, items ahead of it. When it is lost (killed,
out of memory, hung and killed by the watchdog) the item in progress has cost an attempt:
it goes out again, first in line, or after ``max_attempts`` ends as a crash. The items it
held ahead never started: they go back as they were, costing nothing.

Items held ahead are prepared while the current one runs (decoded, even batched with it),
so one of them may be what killed the worker, and the current item pays. Hence a retry runs
alone: an item that has cost an attempt goes only to a worker with nothing else, and that
worker is given nothing more until it is done (``alone``). So a clip that kills its worker
can cost another clip one attempt at most, never its place in the output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, Outcome

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """An item as given to a worker: ``number`` counts the workers given it, this one too."""

    item: T
    number: int

    @property
    def alone(self) -> bool:
        """A retry: it runs on a worker holding nothing else."""
        return self.number > 1

    def done(self, result: Any) -> Outcome:
        return Outcome(self.item, result, attempts=self.number)

    def failed(self, crash: str) -> Outcome:
        """It ended with no result, for good (``crash`` says why)."""
        return Outcome(self.item, None, crash=crash, attempts=self.number)


class RetryQueue(Generic[T]):
    """Items still to be given out, first in line first."""

    def __init__(self, items: Iterable[T], max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        self.max_attempts = max_attempts
        self._waiting: deque[Attempt[T]] = deque(Attempt(item, 0) for item in items)  # number: attempts made so far

    def __len__(self) -> int:
        return len(self._waiting)

    def next_is_retry(self) -> bool:
        """Whether the first in line has cost an attempt already (it must run alone)."""
        return bool(self._waiting) and self._waiting[0].number > 0

    def take(self) -> Attempt[T]:
        """The next item, for one more worker."""
        waiting = self._waiting.popleft()
        return replace(waiting, number=waiting.number + 1)

    def put_back(self, untouched: Sequence[Attempt[T]]) -> None:
        """Items given out but never started (or taken back through no fault of theirs):
        first in line again, in their order, as if never given."""
        for attempt in reversed(untouched):
            self._waiting.appendleft(replace(attempt, number=attempt.number - 1))

    def lost(self, held: Sequence[Attempt[T]], reason: str) -> Outcome | None:
        """A worker was lost holding ``held``, the first in progress (``reason``: what
        happened to it, as "worker process died (killed by SIGKILL)"). The others go back
        untouched; the first goes back too, before them, or after ``max_attempts`` ends as
        a crash: the Outcome returned."""
        if not held:
            return None
        current, *waiting = held
        self.put_back(waiting)
        if current.number < self.max_attempts:
            self._waiting.appendleft(current)
            return None
        return current.failed(f"{reason} on each of {current.number} attempts")
