"""Run one command and watch it: wall time, peak memory of every process in its tree, and
when clips appear in a run folder's index.

Memory: every ``POLL_SECONDS`` the parent walks the command's process tree (children found
through ``/proc/<pid>/task/*/children``) and reads ``VmHWM`` (the kernel's own peak resident
set size of that process) from ``/proc/<pid>/status``. VmHWM is a high-water mark kept by the
kernel, so sampling cannot miss a short peak; it can only miss a process that lives less than
one poll interval, or growth in the last interval before a process exits. RSS counts
shared pages (libraries, pages inherited over fork) in every process that maps them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

POLL_SECONDS = 0.05


@dataclass
class ProcessPeak:
    pid: int
    role: str  # driver, worker, helper
    name: str
    hwm_kb: int
    cpu_ticks: int = 0  # utime + stime at the last sample


@dataclass
class Measurement:
    command: list[str]
    returncode: int
    wall: float
    cpu: float  # user + sys seconds of the command and the descendants it reaped (wait4)
    load_before: float  # 1-minute load average when it started, and when it ended
    load_after: float
    stdout: str
    stderr: str
    processes: list[ProcessPeak] = field(default_factory=list)
    # seconds from the start of the command until the index had 1, 2, ... lines
    index_times: list[float] = field(default_factory=list)
    foreign_cores: float = 0.0  # average cores busy with other processes of the machine

    @property
    def driver_mb(self) -> float | None:
        peaks = [p.hwm_kb for p in self.processes if p.role == "driver"]
        return max(peaks) / 1024 if peaks else None

    @property
    def worker_mb(self) -> float | None:
        peaks = [p.hwm_kb for p in self.processes if p.role == "worker"]
        return max(peaks) / 1024 if peaks else None

    @property
    def workers_seen(self) -> int:
        return sum(p.role == "worker" for p in self.processes)

    @property
    def helpers_mb(self) -> float:
        return sum(p.hwm_kb for p in self.processes if p.role == "helper") / 1024

    @property
    def cpu_sampled(self) -> float:
        """user + sys seconds of every process of the tree, as last sampled (each process's
        final interval before it exits is missed)."""
        return round(sum(p.cpu_ticks for p in self.processes) / _TICKS, 3)

    @property
    def cpu_total(self) -> float:
        """CPU seconds of the run: wait4's (exact for reaped descendants) or the sampled sum
        (which also sees processes the command never reaped, such as Ray's), whichever is larger."""
        return max(self.cpu, self.cpu_sampled)

    @property
    def first_clip(self) -> float | None:
        return self.index_times[0] if self.index_times else None

    def to_json(self) -> dict:
        record = asdict(self)
        record.pop("stdout")
        record["stderr_tail"] = record.pop("stderr")[-2000:]
        record |= {
            "driver_peak_mb": self.driver_mb,
            "worker_peak_mb": self.worker_mb,
            "workers_seen": self.workers_seen,
            "helpers_peak_mb_sum": round(self.helpers_mb, 1),
            "first_clip_seconds": self.first_clip,
            "cpu_sampled": self.cpu_sampled,
            "cpu_total": self.cpu_total,
        }
        return record


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        text = _read(f"/proc/{pid}/task/{task}/children")
        if text:
            found += [int(child) for child in text.split()]
    return found


def _tree(root: int) -> list[int]:
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo += _children(pid)
    return seen


def _hwm_kb(pid: int) -> int | None:
    status = _read(f"/proc/{pid}/status")
    if status is None:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None  # a zombie has no memory lines


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _cmdline(pid: int) -> str:
    text = _read(f"/proc/{pid}/cmdline")
    return text.replace("\0", " ").strip() if text else ""


# A process that used less CPU than this is no worker, whatever its command line: typically a
# fork that has not yet exec'd (ctypes.util.find_library runs gcc and ld that way), which
# shows its parent's command line and memory for a moment.
MIN_WORKER_CPU_SECONDS = 0.3


def classify(cmdline: str, is_root: bool, root_cmdline: str, fork_workers: bool) -> str:
    """driver: the command itself; worker: a process that runs Holistic; helper: the rest
    (multiprocessing's resource tracker, Ray's raylet, GCS, dashboard, idle Ray workers...)."""
    if is_root:
        return "driver"
    if "resource_tracker" in cmdline:
        return "helper"
    if "multiprocessing.spawn" in cmdline or "spawn_main" in cmdline:
        return "worker"
    if cmdline.startswith("ray::"):
        # Ray names a worker process after what it runs ("ray::SignposeWorker.run"); "ray::IDLE"
        # never ran a task, and the agents (DashboardAgent, RuntimeEnvAgent) are Ray's own.
        return "helper" if cmdline.startswith("ray::IDLE") or "Agent" in cmdline.split()[0] else "worker"
    return "worker" if fork_workers and cmdline == root_cmdline else "helper"


def index_lines(index: Path) -> Callable[[], int]:
    """Progress of a signpose run: lines in its index.jsonl (one per finished clip)."""

    def count() -> int:
        try:
            return index.read_bytes().count(b"\n")
        except OSError:
            return 0

    return count


def _busy_ticks() -> int:
    """Busy jiffies of the whole machine (all CPUs) so far: /proc/stat minus idle and iowait."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait


class _Watcher(threading.Thread):
    def __init__(self, process: subprocess.Popen, progress: Callable[[], int] | None, fork_workers: bool, started: float) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.progress = progress
        self.fork_workers = fork_workers
        self.started = started
        self.peaks: dict[int, ProcessPeak] = {}
        self.root_cmdline: str | None = None
        self.index_times: list[float] = []
        self.stop = threading.Event()

    def sample_tree(self) -> None:
        root = self.process.pid
        if self.root_cmdline is None:
            self.root_cmdline = _cmdline(root) or None
        for pid in _tree(root):
            hwm = _hwm_kb(pid)
            if hwm is None:
                continue
            cmdline = _cmdline(pid)
            peak = self.peaks.get(pid)
            if peak is None:
                self.peaks[pid] = peak = ProcessPeak(pid, "helper", cmdline[:160], hwm)
            # Command lines change (exec after fork; Ray renames a worker for each task):
            # a process is a worker if it ever looked like one.
            role = classify(cmdline, pid == root, self.root_cmdline or "", self.fork_workers)
            if role != "helper" and peak.role == "helper":
                peak.role, peak.name = role, cmdline[:160]
            peak.hwm_kb = max(peak.hwm_kb, hwm)
            peak.cpu_ticks = max(peak.cpu_ticks, _cpu_ticks(pid))

    def finish(self) -> list[ProcessPeak]:
        for peak in self.peaks.values():
            if peak.role == "worker" and peak.cpu_ticks < MIN_WORKER_CPU_SECONDS * _TICKS:
                peak.role = "helper"
        return sorted(self.peaks.values(), key=lambda p: p.pid)

    def sample_index(self) -> None:
        if self.progress is None:
            return
        lines = self.progress()
        now = round(time.monotonic() - self.started, 3)
        while len(self.index_times) < lines:
            self.index_times.append(now)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample_tree()
            self.sample_index()
            self.stop.wait(POLL_SECONDS)


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_measured(
    command: list[str],
    progress: Callable[[], int] | None = None,
    fork_workers: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
) -> Measurement:
    """Run ``command`` to its end while sampling its process tree.

    ``progress``: counts finished clips (``index_lines(run / "index.jsonl")``); the times at
    which the count grows are recorded. It must count 0 when the command starts.
    ``fork_workers``: children that are plain forks of the command (multiprocessing's fork
    start method) count as workers rather than helpers.
    CPU time is the command's own plus that of every descendant it (or they) waited for,
    from wait4's rusage.
    """
    load_before = loadavg()
    busy_before = _busy_ticks()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True, env=env, cwd=cwd
        )
        watcher = _Watcher(process, progress, fork_workers, started)
        watcher.start()
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        busy = (_busy_ticks() - busy_before) / _TICKS
        killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        watcher.stop.set()
        watcher.join()
        watcher.sample_index()  # clips finished in the last interval
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    measurement = Measurement(
        command=[str(c) for c in command],
        returncode=process.returncode,
        wall=round(wall, 3),
        cpu=round(usage.ru_utime + usage.ru_stime, 3),
        load_before=load_before,
        load_after=loadavg(),
        stdout=stdout,
        stderr=stderr,
        processes=watcher.finish(),
        index_times=watcher.index_times,
    )
    # What the rest of the machine used meanwhile, in cores: a noisy neighbour shows here.
    measurement.foreign_cores = round(max(0.0, busy - measurement.cpu_total) / wall, 2) if wall > 0 else 0.0
    return measurement


def busy_cores(seconds: float = 1.0) -> float:
    """Cores the whole machine keeps busy over ``seconds`` (this process sleeps meanwhile)."""
    before = _busy_ticks()
    time.sleep(seconds)
    return (_busy_ticks() - before) / _TICKS / seconds


def wait_quiet(limit: float, threshold: float = 0.3) -> tuple[float, float]:
    """Wait (at most ``limit`` seconds) until other processes use under ``threshold`` cores,
    so a measurement does not start while something else is busy. Returns (seconds waited,
    cores busy at the last check)."""
    started = time.monotonic()
    busy = busy_cores(0.5)
    while busy >= threshold and time.monotonic() - started < limit:
        busy = busy_cores(1.0)
    return round(time.monotonic() - started, 1), round(busy, 2)
