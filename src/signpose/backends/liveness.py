"""Progress reports from inside a worker, and the bound after which a silent worker counts as hung.

The function a backend runs may call :func:`heartbeat` whenever it makes progress (the
pipeline: once per frame). In a LocalBackend worker that bumps a counter in shared memory,
which the driver watches; in a Ray actor it counts, and tells the driver (through a small
actor) at most once a second; anywhere else (the driver, a test) it does nothing, so the
function stays usable outside a backend.

A backend hears from each busy worker when it gives it an item, at every heartbeat and when
the result comes back. A worker silent for longer than the bound (see :class:`StallBound`) is
killed and its item given out again, like the item of a worker that died.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT_STALL_TIMEOUT = 300.0  # seconds: the floor of the bound
DEFAULT_STALL_FACTOR = 10.0  # times the longest silence seen so far

_beat: Callable[[], None] | None = None  # what heartbeat() does in this process, if anything


class _Counter:
    def __init__(self, counter: Any) -> None:
        self.counter = counter

    def __call__(self) -> None:
        self.counter.value += 1


def install(beat: Any) -> None:
    """Called in a worker: heartbeats from here on bump ``beat`` (an object with a
    ``value``, such as a multiprocessing RawValue), or call it; None: they do nothing."""
    global _beat
    _beat = beat if beat is None or callable(beat) else _Counter(beat)


def heartbeat() -> None:
    """Tell the backend this worker is making progress (call it once per frame done).

    A no-op outside a worker that listens for it."""
    beat = _beat
    if beat is not None:
        beat()


def describe_stall(seconds: float) -> str:
    return f"no progress for {seconds:.3g} s (hung?)"


class StallBound:
    """How long a busy worker may stay silent: ``max(floor, factor × the longest silence
    seen so far in this run)``.

    A silence is the time between two signs of life of one busy worker (item given,
    heartbeat, result). While the function sends no heartbeats the silences are whole
    items, so the bound follows the slowest item; with a heartbeat per frame they are
    frames (and the first frame on a fresh worker, which loads the model), so the floor
    rules and the length of an item no longer matters.
    """

    def __init__(self, floor: float = DEFAULT_STALL_TIMEOUT, factor: float = DEFAULT_STALL_FACTOR) -> None:
        if floor <= 0:
            raise ValueError(f"stall_timeout must be positive, not {floor}")
        if factor < 1:
            raise ValueError(f"stall_factor must be at least 1, not {factor}")
        self.floor = floor
        self.factor = factor
        self.longest = 0.0

    def observe(self, silence: float) -> None:
        """A busy worker was heard from after ``silence`` seconds."""
        if silence > self.longest:
            self.longest = silence

    @property
    def seconds(self) -> float:
        return max(self.floor, self.factor * self.longest)
