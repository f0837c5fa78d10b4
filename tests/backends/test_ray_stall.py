"""RayBackend's watchdog, on real Ray: an actor stopped (SIGSTOP) mid-item is killed and its
item retried on a fresh actor; an item that always hangs ends as a crash after max_attempts."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from signpose.backends.base import Plain  # noqa: E402
from signpose.backends.ray import RayBackend  # noqa: E402
from tests.backends import ray_helpers, stall_helpers  # noqa: E402
from tests.backends.test_local_stall import stop_when_started  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    with ray_helpers.local_ray(stall_helpers):
        yield


def running(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)


def test_a_stopped_ray_worker_is_killed_and_its_item_retried(local_ray, tmp_path: Path) -> None:
    stopped: list[int] = []
    done = threading.Event()
    thread = threading.Thread(target=stop_when_started, args=(tmp_path / "started-3-1", stopped, done))
    backend = RayBackend(2, stall_timeout=8.0, stall_factor=3.0)
    backend.check(lambda: None)  # actors up before the clock runs: their start is not a silence
    thread.start()
    try:
        outcomes = {o.item: o for o in backend.map_unordered(Plain(stall_helpers.SlowOn(tmp_path, (3,), seconds=0.5)), range(8))}
    finally:
        done.set()
        thread.join()
    assert stopped, "item 3 never started"
    try:
        assert sorted(outcomes) == list(range(8))
        assert outcomes[3].crash is None and outcomes[3].attempts == 2, outcomes[3]
        assert outcomes[3].result[0] == 3 and outcomes[3].result[1] != stopped[0]
        assert all(outcomes[i].attempts == 1 for i in outcomes if i != 3)
        assert wait_gone(stopped[0]), "the stopped actor's process is still there"
    finally:
        if running(stopped[0]):
            os.kill(stopped[0], signal.SIGKILL)


def test_an_item_that_always_hangs_on_ray_is_reported_as_a_crash(local_ray, tmp_path: Path) -> None:
    backend = RayBackend(2, max_attempts=2, stall_timeout=6.0, stall_factor=2.0)
    backend.check(lambda: None)
    outcomes = {o.item: o for o in backend.map_unordered(Plain(stall_helpers.Hang(tmp_path, (1,))), range(4))}
    assert sorted(outcomes) == [0, 1, 2, 3]
    crash = outcomes[1]
    assert crash.result is None and crash.attempts == 2
    assert re.fullmatch(r"Ray worker killed after no progress for [0-9.]+ s \(hung\?\) on each of 2 attempts", crash.crash), crash.crash
    pids = [int(pid) for pid in (tmp_path / "attempts-1").read_text().split()]
    assert len(pids) == 2 and all(wait_gone(pid) for pid in pids)
    assert all(outcomes[i].result == i and outcomes[i].attempts == 1 for i in (0, 2, 3))


@pytest.mark.parametrize("beat", [True, False])
def test_heartbeats_keep_a_long_item_alive_on_ray(local_ray, beat: bool) -> None:
    # 6 s per item, past the bound (2.5 s floor, factor 1); heartbeats every 50 ms reach the
    # driver (through the board, about once a second) and show the actors are not stuck.
    # Without them the same work counts as hung.
    backend = RayBackend(2, max_attempts=1, stall_timeout=2.5, stall_factor=1.0)
    backend.check(lambda: None)
    outcomes = list(backend.map_unordered(Plain(stall_helpers.Beating(6.0, beat=beat)), range(2)))
    assert sorted(o.item for o in outcomes) == [0, 1]
    if beat:
        assert all(o.crash is None and o.attempts == 1 for o in outcomes), [o.crash for o in outcomes]
    else:
        assert all(o.result is None and "(hung?)" in o.crash for o in outcomes), [o.crash for o in outcomes]


def test_a_slow_consumer_does_not_get_working_actors_killed(local_ray) -> None:
    # Heartbeats reach the driver through the board only when it reads it again: the time the
    # consumer kept it away is not counted as the actors' silence.
    backend = RayBackend(2, max_attempts=1, stall_timeout=2.5, stall_factor=1.0)
    backend.check(lambda: None)
    outcomes = []
    for outcome in backend.map_unordered(Plain(stall_helpers.Beating(4.0)), range(3)):
        outcomes.append(outcome)
        time.sleep(4.0)
    assert sorted(o.item for o in outcomes) == [0, 1, 2]
    assert all(o.crash is None and o.attempts == 1 for o in outcomes), [o.crash for o in outcomes]
