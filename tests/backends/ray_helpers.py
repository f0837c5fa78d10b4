"""Small picklable callables for the Ray backend tests.

The tests register this module with cloudpickle "by value", so Ray workers receive the
classes themselves and need not import this file (a Ray worker's sys.path holds the
driver's working directory, not necessarily the repository).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


class Square:
    """The trivial function: an item's square, and which process computed it."""

    def __call__(self, item: int) -> tuple[int, int]:
        return item * item, os.getpid()


class FailingProbe:
    def __call__(self) -> None:
        raise OSError("on testhost: cannot see the dataset: /nowhere does not exist")


class DieOnce:
    """SIGKILLs its own process the first time it sees one of ``doomed``, so the item
    must be given again to a new worker; a marker file remembers "first time" across
    processes."""

    def __init__(self, markers: Path, doomed: tuple[int, ...]) -> None:
        self.markers = Path(markers)
        self.doomed = doomed

    def __call__(self, item: int) -> int:
        marker = self.markers / f"died-on-{item}"
        if item in self.doomed and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return item


class AlwaysDie:
    """SIGKILLs its own process on every item in ``doomed``; counts attempts in files."""

    def __init__(self, markers: Path, doomed: tuple[int, ...]) -> None:
        self.markers = Path(markers)
        self.doomed = doomed

    def __call__(self, item: int) -> int:
        if item in self.doomed:
            with (self.markers / f"attempts-{item}").open("a") as handle:
                handle.write("x")
            os.kill(os.getpid(), signal.SIGKILL)
        return item


class RaiseOn:
    def __init__(self, bad: int) -> None:
        self.bad = bad

    def __call__(self, item: int) -> int:
        if item == self.bad:
            raise ValueError(f"item {item} is bad")
        return item


class Counted:
    """Counts how often it is unpickled in this process: once per worker is the contract."""

    def __init__(self, markers: Path) -> None:
        self.markers = Path(markers)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        with (self.markers / f"unpickled-{os.getpid()}").open("a") as handle:
            handle.write("x")

    def __call__(self, item: int) -> int:
        return os.getpid()
