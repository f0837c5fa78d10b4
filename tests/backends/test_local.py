"""LocalBackend: every item once with its result, retries after a worker dies, a crash
report after max_attempts, clean shutdown when the consumer stops, workers deaf to
Ctrl-C, and the preflight check."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from signpose.backends.base import BackendError, Outcome, Plain
from signpose.backends.local import LocalBackend, describe_exit
from tests.backends.local_helpers import (
    AlwaysDie, Counted, DieOnce, DieOnceLate, FailsPreparing, Gated, Hooked, Raise, Slow, Square, Surroundings, open_gate,
)  # fmt: skip


def gone(pid: int) -> bool:
    """No such process (or only a zombie awaiting a reaper that is not us)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


@pytest.fixture(autouse=True)
def no_children_left_behind():
    before = set(multiprocessing.active_children())
    yield
    left = [child for child in multiprocessing.active_children() if child not in before]
    for child in left:  # do not leak into other tests, but fail this one
        child.kill()
        child.join()
    assert not left, f"worker processes left running: {left}"


# -- the basics ------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3])
def test_every_item_exactly_once_with_its_result(workers: int) -> None:
    items = list(range(20))
    outcomes = list(LocalBackend(workers).map_unordered(Plain(Square()), items))
    assert all(isinstance(outcome, Outcome) for outcome in outcomes)
    assert sorted(outcome.item for outcome in outcomes) == items
    for outcome in outcomes:
        assert outcome.crash is None and outcome.attempts == 1
        assert outcome.result[0] == outcome.item**2
    pids = {outcome.result[1] for outcome in outcomes}
    assert os.getpid() not in pids  # really in other processes
    assert len(pids) == workers  # every worker got an item, and none was replaced


def test_no_items_starts_no_workers() -> None:
    assert list(LocalBackend(2).map_unordered(Plain(Square()), [])) == []
    assert list(LocalBackend(2).map_unordered(Plain(Square()), iter(()))) == []
    assert multiprocessing.active_children() == []


def test_more_workers_than_items_and_duplicate_items() -> None:
    outcomes = list(LocalBackend(4).map_unordered(Plain(Square()), [7, 7, 2]))
    assert Counter(outcome.item for outcome in outcomes) == Counter({7: 2, 2: 1})
    assert len({outcome.result[1] for outcome in outcomes}) <= 3


def test_results_come_back_as_they_finish(tmp_path: Path) -> None:
    # Item 0 waits until the other three are back (a backend that kept the given order would
    # wait for item 0 first: the gate then opens after a minute, and the order shows it).
    order = []
    for outcome in LocalBackend(2).map_unordered(Plain(Gated(tmp_path, (0,), patience=60)), [0, 1, 2, 3]):
        order.append(outcome.item)
        if sorted(order) == [1, 2, 3]:
            open_gate(tmp_path, 0)
    assert sorted(order) == [0, 1, 2, 3]
    assert order[-1] == 0  # the slow first item did not hold the others back


def test_function_is_unpickled_once_per_worker(tmp_path: Path) -> None:
    outcomes = list(LocalBackend(2).map_unordered(Plain(Counted(tmp_path)), list(range(12))))
    pids = {outcome.result for outcome in outcomes}
    assert len(pids) == 2
    for pid in pids:
        assert (tmp_path / f"unpickled-{pid}").read_text() == "x"


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalBackend(0)


# -- dying workers ---------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_item_whose_worker_dies_once_is_given_again(tmp_path: Path, workers: int) -> None:
    outcomes = {o.item: o for o in LocalBackend(workers).map_unordered(Plain(DieOnce(tmp_path, (3,))), list(range(6)))}
    assert sorted(outcomes) == list(range(6))
    assert outcomes[3].attempts == 2 and outcomes[3].crash is None
    assert outcomes[3].result[0] == 30
    dead_pid = int((tmp_path / "died-on-3").read_text())
    assert outcomes[3].result[1] != dead_pid  # a new worker did it
    for item in (0, 1, 2, 4, 5):
        assert outcomes[item].attempts == 1 and outcomes[item].result[0] == item * 10


def test_item_retried_after_the_other_workers_retired_gets_a_fresh_worker(tmp_path: Path) -> None:
    # Worker B finishes item 1 and retires (nothing left): A dies holding item 0 only once
    # B's process has ended.
    outcomes = {}
    for outcome in LocalBackend(2).map_unordered(Plain(DieOnceLate(tmp_path, 0)), [0, 1]):
        outcomes[outcome.item] = outcome
        if outcome.item == 1:
            open_gate(tmp_path, 0, str(outcome.result[1]))
    assert outcomes[1].attempts == 1 and outcomes[1].result[0] == 10
    assert outcomes[0].attempts == 2 and outcomes[0].crash is None and outcomes[0].result[0] == 0
    assert outcomes[0].result[1] not in (int((tmp_path / "died-on-0").read_text()), outcomes[1].result[1])
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_item_whose_worker_always_dies_is_reported_as_a_crash(tmp_path: Path, max_attempts: int) -> None:
    backend = LocalBackend(2, max_attempts=max_attempts)
    outcomes = {o.item: o for o in backend.map_unordered(Plain(AlwaysDie(tmp_path, (2,))), list(range(6)))}
    assert sorted(outcomes) == list(range(6))
    crash = outcomes[2]
    assert crash.result is None and crash.attempts == max_attempts
    assert "SIGKILL" in crash.crash and f"{max_attempts} attempts" in crash.crash
    assert len((tmp_path / "attempts-2").read_text().split()) == max_attempts  # no more, no less
    for item in (0, 1, 3, 4, 5):
        assert outcomes[item].crash is None and outcomes[item].result == item and outcomes[item].attempts == 1


def test_a_python_exception_in_the_function_is_a_dead_worker_too(tmp_path: Path, capfd) -> None:
    """The contract is that fn catches its own errors (ClipProcessor does); one that
    escapes kills the worker, and the item ends as a crash after max_attempts."""
    outcomes = {o.item: o for o in LocalBackend(1, max_attempts=2).map_unordered(Plain(Raise(1)), [0, 1, 2])}
    assert outcomes[1].result is None and outcomes[1].attempts == 2
    assert "exit code 1" in outcomes[1].crash
    assert outcomes[0].result == 0 and outcomes[2].result == 2
    assert "item 1 is bad" in capfd.readouterr().err  # the traceback is not swallowed


def test_describe_exit() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGTERM) == "killed by SIGTERM"
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(-200) == "killed by signal 200"


# -- stopping --------------------------------------------------------------------------------


def test_closing_the_iterator_early_stops_every_worker(tmp_path: Path) -> None:
    outcomes = LocalBackend(2).map_unordered(Plain(Slow(tmp_path, seconds=60, fast=(0,))), [0, 1, 2, 3])
    first = next(outcomes)
    assert first.item == 0
    workers = multiprocessing.active_children()
    assert len(workers) == 2
    outcomes.close()
    assert multiprocessing.active_children() == []
    # A busy worker (item 1 takes a minute) is terminated at once: not asked to stop, then
    # killed (SIGKILL) when it has not within the stop timeout. An idle one just exits.
    codes = sorted(worker.exitcode for worker in workers)
    assert -signal.SIGTERM in codes and set(codes) <= {0, -signal.SIGTERM}, codes
    for worker in workers:
        assert not worker.is_alive()
        assert gone(worker.pid)
    assert not list(tmp_path.glob("finished-*"))


def test_an_exception_in_the_consumer_stops_every_worker(tmp_path: Path) -> None:
    from contextlib import closing

    with pytest.raises(KeyboardInterrupt):
        with closing(LocalBackend(2).map_unordered(Plain(Slow(tmp_path, seconds=60, fast=(0,))), [0, 1, 2])) as outcomes:
            for _ in outcomes:
                workers = multiprocessing.active_children()
                raise KeyboardInterrupt
    assert workers and all(gone(worker.pid) for worker in workers)
    assert multiprocessing.active_children() == []


def test_workers_ignore_sigint(tmp_path: Path) -> None:
    marker = tmp_path / "started-0"
    sent: list[int] = []

    def interrupt() -> None:
        deadline = time.monotonic() + 120  # fails only if the worker never starts
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            if marker.exists():
                pid = int(marker.read_text())
                os.kill(pid, signal.SIGINT)  # while item 0 waits at its gate: certainly mid-item
                sent.append(pid)
        finally:
            open_gate(tmp_path, 0)

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        outcomes = list(LocalBackend(1).map_unordered(Plain(Gated(tmp_path, (0,))), [0, 1]))
    finally:
        thread.join()
    assert sent, "the worker never started item 0"
    by_item = {outcome.item: outcome for outcome in outcomes}
    assert by_item[0].crash is None and by_item[0].attempts == 1
    assert by_item[0].result == (0, sent[0])  # the interrupted worker finished its item...
    assert by_item[1].result == (1, sent[0])  # ...and went on to the next one
    assert (tmp_path / "finished-0").exists()


# -- check -----------------------------------------------------------------------------------


def test_check_runs_the_probe() -> None:
    calls: list[int] = []
    LocalBackend(2).check(lambda: calls.append(1))
    assert calls == [1]


def test_check_turns_oserror_into_backend_error() -> None:
    def probe() -> None:
        raise OSError("on host: cannot write into the output folder /out (Permission denied)")

    with pytest.raises(BackendError, match="cannot write into the output folder /out") as caught:
        LocalBackend(1).check(probe)
    assert isinstance(caught.value.__cause__, OSError)


def _logs(markers: Path) -> list[list[str]]:
    return [path.read_text().splitlines() for path in sorted(markers.glob("log-*"))]


def test_a_worker_starts_before_its_first_item_and_prepares_the_next_while_one_runs(tmp_path: Path) -> None:
    outcomes = list(LocalBackend(2).map_unordered(Hooked(tmp_path, 0.3), list(range(8))))
    assert sorted(o.item for o in outcomes) == list(range(8))
    logs = _logs(tmp_path)
    assert len(logs) == 2
    for log in logs:
        assert log[0] == "start"
        begun = [int(line.split()[1]) for line in log if line.startswith("begin")]
        for earlier, later in zip(begun, begun[1:]):
            if log.index(f"prepare {later}") < log.index(f"end {earlier}"):
                break
        else:
            pytest.fail(f"no item was prepared while the one before it ran: {log}")
        for item in begun:  # every item is prepared before it begins
            assert log.index(f"prepare {item}") < log.index(f"begin {item}")


def test_only_the_item_in_progress_counts_an_attempt_when_its_worker_dies(tmp_path: Path) -> None:
    """The worker holds item 0 and, waiting, item 1; its death on 0 does not charge 1."""
    outcomes = {o.item: o for o in LocalBackend(1, max_attempts=1).map_unordered(Plain(AlwaysDie(tmp_path, (0,))), [0, 1, 2, 3])}
    assert outcomes[0].crash is not None and outcomes[0].attempts == 1
    assert [(outcomes[i].result, outcomes[i].attempts) for i in (1, 2, 3)] == [(1, 1), (2, 1), (3, 1)]


def test_an_item_that_kills_its_worker_while_held_ahead_costs_no_other_item_its_result(tmp_path: Path) -> None:
    """Item 3 kills any worker told of it. The item such a worker was running pays an
    attempt, and its retry runs alone, so it comes back; only item 3 ends as a crash."""
    outcomes = {o.item: o for o in LocalBackend(2, max_attempts=3).map_unordered(FailsPreparing(tmp_path, 0.05, 3, how="kill"), list(range(10)))}
    assert sorted(outcomes) == list(range(10))
    assert outcomes[3].crash is not None and outcomes[3].attempts == 3
    assert all(outcomes[i].result == i and outcomes[i].attempts <= 2 for i in outcomes if i != 3), outcomes


def test_an_exception_in_prepare_does_not_stop_the_worker(tmp_path: Path) -> None:
    """(A wedged worker would be killed by the watchdog, its items ending as crashes.)"""
    backend = LocalBackend(2, stall_timeout=30)
    outcomes = {o.item: o for o in backend.map_unordered(FailsPreparing(tmp_path, 0.01, 2, how="raise"), list(range(6)))}
    assert {i: (o.result, o.attempts, o.crash) for i, o in outcomes.items()} == {i: (i, 1, None) for i in range(6)}


def test_a_slow_item_holds_back_at_most_the_one_item_waiting_behind_it(tmp_path: Path) -> None:
    """Items are held two at a time only while more are left than there are workers: the
    item that waits in the slow item's worker is the only one done after it."""
    # Item 0 waits until six others are back: all but the one it may hold back. (A backend
    # that held more behind it would see its gate open after a minute, and the order shows it.)
    order = []
    for outcome in LocalBackend(2).map_unordered(Plain(Gated(tmp_path, (0,), patience=60)), list(range(8))):
        order.append(outcome.item)
        if len(order) == 6 and 0 not in order:
            open_gate(tmp_path, 0)
    assert sorted(order) == list(range(8))
    assert order.index(0) >= len(order) - 2


def test_workers_see_the_driver_as_it_is_when_they_start(tmp_path: Path, monkeypatch) -> None:
    """Forked from a fork server started earlier, a worker still gets the driver's
    environment and working folder of now, as a spawned one would."""
    list(LocalBackend(1).map_unordered(Plain(Square()), [1]))  # the fork server (if any) runs by now
    monkeypatch.setenv("SIGNPOSE_TEST_SETTING", "now")
    monkeypatch.chdir(tmp_path)
    seen = {o.result for o in LocalBackend(2).map_unordered(Plain(Surroundings("SIGNPOSE_TEST_SETTING")), [1, 2])}
    assert seen == {("now", str(tmp_path), None)}


def test_workers_spread_over_the_gpus_they_are_given() -> None:
    outcomes = LocalBackend(2, gpus=["3", "5"]).map_unordered(Plain(Surroundings("HOME")), list(range(6)))
    assert {o.result[2] for o in outcomes} == {"3", "5"}
