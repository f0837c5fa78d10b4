"""Small picklable callables for the backend tests.

LocalBackend's spawned workers unpickle them by reference, so they live in an importable
module (``tests.backends.local_helpers``; spawn hands the children the parent's sys.path);
the Ray tests register this module with cloudpickle "by value", so Ray workers receive the
classes themselves and need not import it.
Cross-process memory ("the first time", "how many attempts") is kept in marker files.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


class Square:
    """An item's square, and which process computed it."""

    def __call__(self, item: int) -> tuple[int, int]:
        return item * item, os.getpid()


class DieOnce:
    """SIGKILLs its own process the first time any worker sees one of ``doomed``."""

    def __init__(self, markers: Path, doomed: tuple[int, ...]) -> None:
        self.markers = Path(markers)
        self.doomed = doomed

    def __call__(self, item: int) -> tuple[int, int]:
        marker = self.markers / f"died-on-{item}"
        if item in self.doomed and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return item * 10, os.getpid()


class AlwaysDie:
    """SIGKILLs its own process on every item in ``doomed``; counts the attempts in a file."""

    def __init__(self, markers: Path, doomed: tuple[int, ...]) -> None:
        self.markers = Path(markers)
        self.doomed = doomed

    def __call__(self, item: int) -> int:
        if item in self.doomed:
            with (self.markers / f"attempts-{item}").open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return item


class Raise:
    """Raises a Python exception on ``bad``."""

    def __init__(self, bad: int) -> None:
        self.bad = bad

    def __call__(self, item: int) -> int:
        if item == self.bad:
            raise ValueError(f"item {item} is bad")
        return item


class Slow:
    """Announces itself (pid in ``started-<item>``), sleeps ``seconds``, then notes that
    it finished (``finished-<item>``). Items in ``fast`` return at once."""

    def __init__(self, markers: Path, seconds: float, fast: tuple[int, ...] = ()) -> None:
        self.markers = Path(markers)
        self.seconds = seconds
        self.fast = fast

    def __call__(self, item: int) -> tuple[int, int]:
        if item in self.fast:
            return item, os.getpid()
        started = self.markers / f"started-{item}"
        temporary = started.with_suffix(".tmp")
        temporary.write_text(str(os.getpid()))
        temporary.replace(started)  # appears whole
        time.sleep(self.seconds)
        (self.markers / f"finished-{item}").write_text(str(os.getpid()))
        return item, os.getpid()


class SleepFor:
    """Sleeps ``delays[item]`` seconds: items finish in an order other than given."""

    def __init__(self, delays: dict[int, float]) -> None:
        self.delays = delays

    def __call__(self, item: int) -> int:
        time.sleep(self.delays.get(item, 0.0))
        return item


class Counted:
    """Counts how often it is unpickled per process: once per worker is the contract."""

    def __init__(self, markers: Path) -> None:
        self.markers = Path(markers)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        with (self.markers / f"unpickled-{os.getpid()}").open("a") as handle:
            handle.write("x")

    def __call__(self, item: int) -> int:
        return os.getpid()


class DieOnceLate:
    """Like DieOnce, but first works ``seconds`` on the doomed item, so the other workers
    have run out of items (and retired) by the time this one dies."""

    def __init__(self, markers: Path, doomed: int, seconds: float) -> None:
        self.markers = Path(markers)
        self.doomed = doomed
        self.seconds = seconds

    def __call__(self, item: int) -> tuple[int, int]:
        marker = self.markers / f"died-on-{item}"
        if item == self.doomed and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(self.seconds)
            os.kill(os.getpid(), signal.SIGKILL)
        return item * 10, os.getpid()


class FailingProbe:
    """A preflight probe that finds the dataset missing, as check_access would say it."""

    def __call__(self) -> None:
        raise OSError("on testhost: cannot see the dataset: /nowhere does not exist")


class Hooked:
    """Logs, per process, when it started (``start``), was told of an item (``prepare``)
    and ran one (``begin``/``end``), in ``<markers>/log-<pid>``; each item takes ``seconds``."""

    def __init__(self, markers: Path, seconds: float) -> None:
        self.markers = Path(markers)
        self.seconds = seconds

    def _log(self, what: str) -> None:
        with (self.markers / f"log-{os.getpid()}").open("a") as handle:
            handle.write(what + "\n")

    def start(self) -> None:
        self._log("start")

    def prepare(self, item: int) -> None:
        self._log(f"prepare {item}")

    def __call__(self, item: int) -> int:
        self._log(f"begin {item}")
        time.sleep(self.seconds)
        self._log(f"end {item}")
        return item


class Surroundings:
    """What a worker sees of its setting: a variable, its folder, its GPU."""

    def __init__(self, variable: str) -> None:
        self.variable = variable

    def __call__(self, item: int) -> tuple[str | None, str, str | None]:
        return os.environ.get(self.variable), os.getcwd(), os.environ.get("CUDA_VISIBLE_DEVICES")
