"""LocalBackend's watchdog: a worker that lives but makes no progress (SIGSTOP, a hang) is
killed and its item retried like a dead worker's, up to max_attempts, then reported as a
crash; heartbeats keep a long item alive; nothing is left behind."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from signpose.backends import heartbeat, make_backend
from signpose.backends.base import Plain
from signpose.backends.liveness import StallBound, describe_stall
from signpose.backends.local import LocalBackend
from tests.backends.stall_helpers import Beating, Hang, SlowOn
from tests.backends.test_local import gone, no_children_left_behind  # noqa: F401  (autouse fixture)

HANG_GUARD_SECONDS = 90  # a backend without a watchdog would hang: wake it up and fail instead


def stop_when_started(marker: Path, stopped: list[int], done: threading.Event) -> None:
    """SIGSTOP the process that writes ``marker``; SIGCONT it again if the run is still
    going after HANG_GUARD_SECONDS (so a backend that never notices fails the test, not CI)."""
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and not done.is_set():
        time.sleep(0.01)
    if not marker.exists():
        return
    pid = int(marker.read_text())
    os.kill(pid, signal.SIGSTOP)
    stopped.append(pid)
    if not done.wait(HANG_GUARD_SECONDS):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_a_stopped_worker_is_killed_and_its_item_retried(tmp_path: Path) -> None:
    stopped: list[int] = []
    done = threading.Event()
    thread = threading.Thread(target=stop_when_started, args=(tmp_path / "started-3-1", stopped, done))
    thread.start()
    started = time.monotonic()
    try:
        backend = LocalBackend(2, stall_timeout=2.0, stall_factor=3.0)
        outcomes = {o.item: o for o in backend.map_unordered(Plain(SlowOn(tmp_path, (3,), seconds=0.5)), range(8))}
    finally:
        done.set()
        thread.join()
    took = time.monotonic() - started
    assert stopped, "item 3 never started"
    assert sorted(outcomes) == list(range(8))
    assert outcomes[3].crash is None and outcomes[3].attempts == 2  # retried once, then done
    assert outcomes[3].result[0] == 3 and outcomes[3].result[1] != stopped[0]  # by a fresh worker
    assert all(outcomes[i].attempts == 1 and outcomes[i].result[0] == i for i in outcomes if i != 3)
    assert took < HANG_GUARD_SECONDS
    assert gone(stopped[0])  # killed and reaped: no stopped process, no zombie
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_an_item_that_always_hangs_is_reported_as_a_crash(tmp_path: Path, max_attempts: int) -> None:
    backend = LocalBackend(2, max_attempts=max_attempts, stall_timeout=1.5, stall_factor=2.0)
    outcomes = {o.item: o for o in backend.map_unordered(Plain(Hang(tmp_path, (2,))), range(6))}
    assert sorted(outcomes) == list(range(6))
    crash = outcomes[2]
    assert crash.result is None and crash.attempts == max_attempts
    assert re.fullmatch(
        rf"worker process killed after no progress for [0-9.]+ s \(hung\?\) on each of {max_attempts} attempts", crash.crash
    ), crash.crash
    pids = [int(pid) for pid in (tmp_path / "attempts-2").read_text().split()]
    assert len(pids) == max_attempts and all(gone(pid) for pid in pids)
    assert all(outcomes[i].result == i and outcomes[i].attempts == 1 for i in (0, 1, 3, 4, 5))


def test_heartbeats_keep_a_long_item_alive() -> None:
    # Each item takes 5 s, well past the bound (1 s floor, factor 1: about the longest
    # silence, the worker's start-up); heartbeats every 50 ms show it is not stuck.
    backend = LocalBackend(2, max_attempts=1, stall_timeout=1.0, stall_factor=1.0)
    outcomes = list(backend.map_unordered(Plain(Beating(5.0)), range(2)))
    assert sorted(o.item for o in outcomes) == [0, 1]
    assert all(o.crash is None and o.attempts == 1 for o in outcomes), [o.crash for o in outcomes]


def test_the_same_long_item_without_heartbeats_counts_as_hung() -> None:
    backend = LocalBackend(1, max_attempts=1, stall_timeout=1.0, stall_factor=1.0)
    (outcome,) = backend.map_unordered(Plain(Beating(30.0, beat=False)), [0])
    assert outcome.result is None and "(hung?)" in outcome.crash


def test_the_bound_follows_the_slowest_item_seen() -> None:
    bound = StallBound(floor=2.0, factor=10.0)
    assert bound.seconds == 2.0
    bound.observe(0.1)
    assert bound.seconds == 2.0
    bound.observe(0.5)
    bound.observe(0.3)
    assert bound.seconds == 5.0
    assert describe_stall(300.0) == "no progress for 300 s (hung?)"
    assert describe_stall(1.5) == "no progress for 1.5 s (hung?)"
    with pytest.raises(ValueError, match="stall_timeout"):
        LocalBackend(1, stall_timeout=0)
    with pytest.raises(ValueError, match="stall_factor"):
        LocalBackend(1, stall_factor=0.5)


def test_heartbeat_outside_a_worker_does_nothing() -> None:
    heartbeat()  # no backend listening: a no-op, no error


def test_stall_timeout_from_make_backend_and_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("SIGNPOSE_STALL_TIMEOUT", raising=False)
    assert make_backend("local", 1).stall_timeout == 300.0
    assert make_backend("local", 1, stall_timeout=7.0).stall_timeout == 7.0
    monkeypatch.setenv("SIGNPOSE_STALL_TIMEOUT", "42")
    assert make_backend("local", 1).stall_timeout == 42.0
    monkeypatch.setenv("SIGNPOSE_STALL_TIMEOUT", "soon")
    from signpose.errors import BackendError

    with pytest.raises(BackendError, match="SIGNPOSE_STALL_TIMEOUT='soon'"):
        make_backend("local", 1)


def test_a_slow_consumer_does_not_get_working_workers_killed() -> None:
    # The consumer sleeps past the bound after each outcome; the workers, beating all along,
    # are still heard from when the driver looks again.
    backend = LocalBackend(2, max_attempts=1, stall_timeout=1.5, stall_factor=1.0)
    outcomes = []
    for outcome in backend.map_unordered(Plain(Beating(3.0)), range(3)):
        outcomes.append(outcome)
        time.sleep(2.5)
    assert sorted(o.item for o in outcomes) == [0, 1, 2]
    assert all(o.crash is None and o.attempts == 1 for o in outcomes), [o.crash for o in outcomes]
