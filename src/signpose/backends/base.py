"""What every backend offers: run one picklable function over many items, in any order,
and the hooks that function offers its workers."""

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


class WorkerFunction(Protocol[T, R]):
    """What a backend runs on each of its workers: the call, and the hooks every backend
    honours, on every worker (a process of the local pool, a Ray actor).

    - ``start()``: as the worker starts, before it is told of any item (build the model now,
      so the first item does not wait for it);
    - ``prepare(item)``: as soon as the worker learns that ``item`` is coming to it, before
      the call for that item and often while an earlier item runs (list and decode ahead,
      or batch with the current one); every item is prepared, once, before its call; an
      exception from it is ignored (the item's own call meets the problem and reports it);
    - ``items_ahead``: how many items a worker should hold beyond the one it runs (at
      least 1 is held ahead while enough items are left);
    - ``preload``: modules a backend may import once for all its workers (a fork server).

    A plain callable has none of these: wrap it in :class:`Plain`.
    """

    @property
    def preload(self) -> tuple[str, ...]: ...

    @property
    def items_ahead(self) -> int: ...

    def start(self) -> None: ...

    def prepare(self, item: T) -> None: ...

    def __call__(self, item: T) -> R: ...


@dataclass(frozen=True)
class Plain(Generic[T, R]):
    """A plain callable as a :class:`WorkerFunction`: nothing to start or prepare, one item
    held ahead, its own module preloaded."""

    fn: Callable[[T], R]
    items_ahead: int = 1

    @property
    def preload(self) -> tuple[str, ...]:
        return (type(self.fn).__module__,)

    def start(self) -> None:
        pass

    def prepare(self, item: T) -> None:
        pass

    def __call__(self, item: T) -> R:
        return self.fn(item)


class Backend(Protocol):
    """Runs ``fn`` over items on long-lived workers.

    ``fn`` is pickled once per worker, so it can build expensive state (a model) in
    ``start()`` and keep it for the worker's life. An item whose worker dies is given to a
    new worker, up to ``max_attempts`` times, then reported with ``crash`` set. So is the
    item of a worker that shows no progress for longer than the backend's stall bound:
    ``fn`` shows progress by calling ``signpose.backends.heartbeat()`` (say, once per frame;
    a no-op outside a worker), and a worker is also heard from when it takes an item and
    when it returns one. Items a worker held ahead but had not started go out again as they
    were. Closing the iterator (or an exception in the consumer, such as KeyboardInterrupt)
    stops every worker.
    """

    workers: int

    def check(self, probe: Callable[[], None]) -> None:
        """Run ``probe`` where the workers run, before any item; the OSError it raises
        (say, the output folder is not writable there) becomes a BackendError."""
        ...

    def map_unordered(self, fn: WorkerFunction[T, R], items: Iterable[T]) -> Iterator[Outcome[T, R]]: ...


__all__ = ["DEFAULT_MAX_ATTEMPTS", "Backend", "BackendError", "Outcome", "Plain", "WorkerFunction", "cores"]


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
