"""Running the real CLI in subprocesses, and comparing run folders byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, signals_as_in_a_terminal


def signpose(*args: object, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "signpose", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    if check and result.returncode != 0:
        pytest.fail(f"signpose {' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def script(path: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / path), *map(str, args)], capture_output=True, text=True, timeout=600, cwd=REPO)


def start_signpose(*args: object) -> subprocess.Popen:
    """The CLI in its own session (process group), as a terminal would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "signpose", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
        preexec_fn=signals_as_in_a_terminal,
    )


def run_files(run: Path) -> dict[str, bytes]:
    """Every file of a run that must not depend on how the work was split (run.json holds
    timings and the worker count, so it is left out)."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != "run.json"}


def assert_same_run(a: Path, b: Path) -> None:
    files_a, files_b = run_files(a), run_files(b)
    assert sorted(files_a) == sorted(files_b)
    different = [name for name in files_a if files_a[name] != files_b[name]]
    assert not different, f"files differ between {a} and {b}: {different}"


def index_lines(run: Path) -> int:
    try:
        return (run / "index.jsonl").read_text().count("\n")
    except FileNotFoundError:
        return 0


def wait_for_index(run: Path, lines: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while index_lines(run) < lines:
        if process.poll() is not None:
            pytest.fail(f"signpose ended (exit {process.returncode}) before {lines} clips were done: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {lines} clips done in {timeout} s")
        time.sleep(0.02)


# Processes are found through /proc (the tests SIGKILL and SIGINT them: Linux anyway).


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # gone meanwhile
            continue
        if stat:  # "pid (name) state ppid ...": the name may hold spaces and parentheses
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def worker_pids(driver: int) -> list[int]:
    """The driver's worker processes: spawned ones, or the children of its fork server (not
    the fork server itself, nor multiprocessing's resource tracker)."""
    def forked(pid: int) -> bool:
        return "forkserver" in cmdline(pid) and "forkserver" in cmdline(parent(pid) or 0)

    return [pid for pid in descendants(driver) if "spawn_main" in cmdline(pid) or forked(pid)]


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def send(pids: list[int], number: int) -> None:
    """Signal ``number`` to each of ``pids`` still there."""
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:  # ended meanwhile
            pass


def stopped_mid_run(start: Callable[[Path], subprocess.Popen], folder: Path, clips: int, attempts: int = 5) -> tuple[Path, subprocess.Popen, list[int]]:
    """A run (``start(run)``) with at least one clip in its index whose workers are then
    stopped (SIGSTOP) while some of its ``clips`` are still to do: from then on no clip
    finishes and the run cannot end, however loaded the machine, until the test acts (a
    driver continues stopped workers as it stops them). A run that finished every clip
    before its workers could be stopped (it outran the test) is run again, in a new folder.
    Returns the run folder, the process and the stopped workers."""
    for attempt in range(attempts):
        run = folder / f"run{attempt}"
        process = start(run)
        wait_for_index(run, 1, process)
        workers = worker_pids(process.pid)
        assert workers, "no worker processes found"
        send(workers, signal.SIGSTOP)
        if len(list(run.glob("*/*.pose"))) < clips:
            return run, process, workers
        send(workers, signal.SIGCONT)
        process.communicate(timeout=600)
    pytest.fail(f"in {attempts} runs, every clip was done before the test could stop the workers")


def temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob(".*") if ".tmp-" in p.name]
