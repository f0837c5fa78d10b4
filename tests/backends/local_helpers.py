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


class Gated:
    """Announces itself (pid in ``started-<item>``) on the items in ``gated``, then waits
    until the test opens the gate (``open_gate``) or ``patience`` seconds have passed (so a
    test whose gate never opens fails rather than hangs), notes that it finished
    (``finished-<item>``) and returns (item, pid). Other items return at once."""

    def __init__(self, markers: Path, gated: tuple[int, ...], patience: float = 600.0) -> None:
        self.markers = Path(markers)
        self.gated = gated
        self.patience = patience

    def __call__(self, item: int) -> tuple[int, int]:
        if item in self.gated:
            started = self.markers / f"started-{item}"
            temporary = started.with_suffix(".tmp")
            temporary.write_text(str(os.getpid()))
            temporary.replace(started)  # appears whole
            deadline = time.monotonic() + self.patience
            while not (self.markers / f"go-{item}").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            (self.markers / f"finished-{item}").write_text(str(os.getpid()))
        return item, os.getpid()


def open_gate(markers: Path, item: int, text: str = "") -> None:
    """Let ``Gated`` (or ``DieOnceLate``, with a pid as ``text``) go on with ``item``."""
    gate = Path(markers) / f"go-{item}"
    temporary = gate.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(gate)  # appears whole


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
    """Like DieOnce, but on the doomed item first waits until the test names a process
    (``open_gate(markers, item, pid)``) and that process has ended (ten minutes at most),
    so the other workers have run out of items (and retired) by the time this one dies."""

    def __init__(self, markers: Path, doomed: int) -> None:
        self.markers = Path(markers)
        self.doomed = doomed

    def __call__(self, item: int) -> tuple[int, int]:
        marker = self.markers / f"died-on-{item}"
        if item == self.doomed and not marker.exists():
            marker.write_text(str(os.getpid()))
            gate = self.markers / f"go-{item}"
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                if gate.exists() and gate.read_text() and not alive(int(gate.read_text())):
                    break
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        return item * 10, os.getpid()


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie has ended)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


class FailingProbe:
    """A preflight probe that finds the dataset missing, as check_access would say it."""

    def __call__(self) -> None:
        raise OSError("on testhost: cannot see the dataset: /nowhere does not exist")


class Hooked:
    """A WorkerFunction with every hook: logs, per process, when it started (``start``),
    was told of an item (``prepare``) and ran one (``begin``/``end``), in
    ``<markers>/log-<pid>``; each item takes ``seconds``; asks for ``items_ahead``."""

    preload: tuple[str, ...] = ()

    def __init__(self, markers: Path, seconds: float, items_ahead: int = 1) -> None:
        self.markers = Path(markers)
        self.seconds = seconds
        self.items_ahead = items_ahead

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


class HookedDying(Hooked):
    """Hooked, SIGKILLing its own process the first time any worker calls it on ``doomed``,
    once it has been told of ``items_ahead`` more items (or after a minute)."""

    def __init__(self, markers: Path, seconds: float, doomed: int, items_ahead: int = 1) -> None:
        super().__init__(markers, seconds, items_ahead)
        self.doomed = doomed

    def __call__(self, item: int) -> int:
        marker = self.markers / f"died-on-{item}"
        if item == self.doomed and not marker.exists():
            marker.write_text(str(os.getpid()))
            log = self.markers / f"log-{os.getpid()}"
            deadline = time.monotonic() + 60
            while log.read_text().count("prepare ") < 1 + self.items_ahead and time.monotonic() < deadline:
                time.sleep(0.01)
            self._log(f"dying on {item}")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(item)


def hook_logs(markers: Path) -> dict[int, list[str]]:
    """What each process of a Hooked run logged, by pid."""
    return {int(path.name.split("-")[1]): path.read_text().splitlines() for path in sorted(Path(markers).glob("log-*"))}


def most_held_ahead(log: list[str]) -> int:
    """The most items a worker had been told of (prepared) and not yet begun while it ran one."""
    told: set[str] = set()
    running, most = False, 0
    for line in log:
        what, _, item = line.partition(" ")
        if what == "prepare":
            told.add(item)
        elif what == "begin":
            told.discard(item)
            running = True
        elif what == "end":
            running = False
        if running:
            most = max(most, len(told))
    return most


class HowStarted:
    """Whether the worker was spawned (else forked by a fork server), and its pid."""

    def __call__(self, item: int) -> tuple[bool, int]:
        return b"spawn_main" in Path("/proc/self/cmdline").read_bytes(), os.getpid()


class FailsPreparing(Hooked):
    """Hooked whose ``prepare`` fails on ``item``: ``how="kill"`` kills the worker process as
    soon as it is told of it (a clip whose decoding, ahead of its turn, crashes the process:
    the item it was running did nothing wrong); ``how="raise"`` raises (a hook must not, but
    one may: the item is then run as any other)."""

    def __init__(self, markers: Path, seconds: float, item: int, *, how: str, items_ahead: int = 1) -> None:
        super().__init__(markers, seconds, items_ahead)
        self.item, self.how = item, how

    def prepare(self, item: int) -> None:
        super().prepare(item)
        if item != self.item:
            return
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError(f"cannot prepare {item}")
