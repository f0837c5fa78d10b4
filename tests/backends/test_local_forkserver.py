"""The local backend survives its fork server's death: a worker that the dying fork server
cannot start is spawned instead, the workers it had forked (whose exit it can no longer
report) are stopped and their items given out again at no cost, and a run whose fork
server and then a worker are killed ends with every item done once, the same bytes and no
traceback. Real processes, found through /proc and killed with SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from signpose.backends.base import Plain
from signpose.backends.local import LocalBackend
from tests.backends.local_helpers import Gated, HowStarted, open_gate
from tests.backends.test_local import no_children_left_behind  # noqa: F401  (autouse fixture)
from tests.e2e_helpers import assert_same_run, cmdline, descendants, parent, running, wait_gone, worker_pids
from tests.toy_cli import make_toy_dataset, start_toy_signpose, toy_signpose

pytestmark = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods() or not Path("/proc/self/cmdline").exists(),
    reason="needs a fork server and /proc (Linux)",
)

GUARD_SECONDS = 120  # only against a hang: every wait below ends on an event long before


def fork_servers(driver: int) -> list[int]:
    return [pid for pid in descendants(driver) if parent(pid) == driver and "forkserver import main" in cmdline(pid)]


def wait_until(condition, what: str, seconds: float = GUARD_SECONDS):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        time.sleep(0.02)
    return found


def test_a_worker_the_fork_server_cannot_start_is_spawned(monkeypatch) -> None:
    """As when the fork server dies just before a start: its socket and pipes end."""
    from multiprocessing import popen_forkserver

    launch, failed = popen_forkserver.Popen._launch, []

    def dying_fork_server(self, process_obj):
        if not failed:
            failed.append(1)
            raise EOFError("unexpected EOF")
        return launch(self, process_obj)

    monkeypatch.setattr(popen_forkserver.Popen, "_launch", dying_fork_server)
    outcomes = list(LocalBackend(2).map_unordered(Plain(HowStarted()), range(8)))
    assert failed and sorted(o.item for o in outcomes) == list(range(8))
    assert all(o.crash is None and o.attempts == 1 for o in outcomes)
    spawned = {pid: was for was, pid in (o.result for o in outcomes)}
    assert sorted(spawned.values()) == [False, True]  # one worker each way


def test_killing_the_fork_server_then_a_worker_mid_run(tmp_path: Path, capfd) -> None:
    killed: dict[str, object] = {}

    def kill_fork_server_then_a_fresh_worker() -> None:
        first = wait_until(lambda: sorted(tmp_path.glob("started-*")), "item started")
        old = {int(path.read_text()) for path in first} | set(worker_pids(os.getpid()))
        (server,) = fork_servers(os.getpid())
        killed["old"], killed["server"] = old, server
        os.kill(server, signal.SIGKILL)

        def fresh_busy_worker():
            started = {int(path.read_text()): path for path in tmp_path.glob("started-*")}
            return [(pid, path) for pid, path in started.items() if pid not in old and running(pid)]

        pid, path = wait_until(fresh_busy_worker, "item started by a replacement worker")[0]
        os.kill(pid, signal.SIGKILL)
        killed["worker"], killed["item"] = pid, int(path.name.split("-")[1])

    def then_let_every_item_finish() -> None:
        try:
            kill_fork_server_then_a_fresh_worker()
        finally:
            for item in range(12):
                open_gate(tmp_path, item)

    # Every item waits at its gate until the kills are done: the run is certainly mid-way.
    thread = threading.Thread(target=then_let_every_item_finish, daemon=True)
    thread.start()
    try:
        outcomes = {o.item: o for o in LocalBackend(2).map_unordered(Plain(Gated(tmp_path, tuple(range(12)))), range(12))}
    finally:
        thread.join(GUARD_SECONDS)
    assert "worker" in killed, "the run ended before a replacement worker could be killed"
    assert sorted(outcomes) == list(range(12))
    assert all(o.crash is None and o.result[0] == item for item, o in outcomes.items())
    # The killed worker's item cost an attempt; the fork server's death cost none.
    assert {item: o.attempts for item, o in outcomes.items() if o.attempts > 1} == {killed["item"]: 2}
    wait_gone(sorted(killed["old"]) + [killed["server"], killed["worker"]])
    assert not any(running(pid) for pid in killed["old"]), "workers of the dead fork server outlived it"
    assert "Traceback" not in capfd.readouterr().err


def test_a_cli_run_whose_fork_server_and_then_a_worker_are_killed_finishes_with_the_same_bytes(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "data", clips=8, frames=6)
    undisturbed = tmp_path / "undisturbed"
    done = toy_signpose("extract", data, "-o", undisturbed, "--workers", 2, "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run"
    hold = tmp_path / "hold"  # while it exists, no frame is estimated: the run stays mid-way
    hold.touch()
    process = start_toy_signpose("extract", data, "-o", run, "--workers", 2, "--quiet", hold=hold)
    try:
        old = set(wait_until(lambda: worker_pids(process.pid) if len(worker_pids(process.pid)) == 2 else [], "two workers"))
        (server,) = fork_servers(process.pid)
        os.kill(server, signal.SIGKILL)
        os.kill(sorted(old)[0], signal.SIGKILL)  # one of the workers it had forked
        fresh = wait_until(lambda: [pid for pid in worker_pids(process.pid) if pid not in old], "replacement worker")
        os.kill(fresh[0], signal.SIGKILL)  # a worker started after the fork server died
        hold.unlink()
        _, stderr = process.communicate(timeout=GUARD_SECONDS)
    finally:
        hold.unlink(missing_ok=True)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-3000:]
    assert_same_run(undisturbed, run)
    wait_gone(sorted(old) + [server])
    assert not any(running(pid) for pid in old), "workers of the dead fork server outlived the run"
