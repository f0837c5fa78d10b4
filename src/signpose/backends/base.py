"""What every backend offers: run one picklable function over many items, in any order."""

from __future__ import annotations

import os

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from signpose.errors import BackendError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """The end of one item: its result, or why its worker kept dying (``crash``).

    ``attempts`` counts how many workers were given the item; more than one means earlier
    workers died (killed, out of memory) while holding it.
    """

    item: T
    result: R | None
    crash: str | None = None
    attempts: int = 1


class Backend(Protocol):
    """Runs ``fn`` over items on long-lived workers.

    ``fn`` is pickled once per worker, so a callable object can build expensive state
    (a model) lazily on its first call and keep it for the worker's life. An item whose
    worker dies is given to a new worker, up to ``max_attempts`` times, then reported with
    ``crash`` set. So is the item of a worker that shows no progress for longer than the
    backend's stall bound: ``fn`` shows progress by calling ``signpose.backends.heartbeat()``
    (say, once per frame; a no-op outside a worker), and a worker is also heard from when it
    takes an item and when it returns one. Closing the iterator (or an exception in the consumer, such as
    KeyboardInterrupt) stops every worker.
    """

    workers: int

    def check(self, probe: Callable[[], None]) -> None:
        """Run ``probe`` where the workers run, before any item; the OSError it raises
        (say, the output folder is not writable there) becomes a BackendError."""
        ...

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]: ...

__all__ = ["DEFAULT_MAX_ATTEMPTS", "Backend", "BackendError", "Outcome"]


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
