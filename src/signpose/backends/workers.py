"""How many worker processes to start on this machine.

One MediaPipe graph keeps ~1.3 cores busy when it can, less when cores are contended. On a
small machine one worker per core already saturates it: on 2 cores, 2 workers kept 1.94
cores busy and a third was 4% slower (bench, 12 clips x 40 frames). On a 16-core server one
per core left cores idle (14.7 busy) and 24 workers were 21% faster than 16 (7,680
PHOENIX-size frames). So: one worker per core up to SMALL_MACHINE cores, 1.5 per core
above, and never more than memory allows (~0.55 GB per worker, plus room for the driver
and the system).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

WORKERS_PER_CORE = 1.5
SMALL_MACHINE = 4  # cores up to which one worker per core is the default
WORKER_MEMORY = int(0.55 * 2**30)  # peak resident set of one worker after ~100 clips
RESERVED_MEMORY = int(0.5 * 2**30)  # the driver, the page cache the decoders need, the system


@dataclass(frozen=True)
class WorkerPlan:
    workers: int
    note: str | None = None  # why fewer workers than asked (or than the default) will run


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes (None where there is no such file)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def plan_workers(requested: int | None = None, *, memory: int | None = None, cpu_count: int | None = None) -> WorkerPlan:
    """``requested`` workers, or the default (one per core on small machines, 1.5 per core
    above SMALL_MACHINE cores), capped by available memory."""
    count = cpu_count or cores()
    wanted = requested or (count if count <= SMALL_MACHINE else math.ceil(WORKERS_PER_CORE * count))
    memory = available_memory() if memory is None else memory
    if memory is None:
        return WorkerPlan(wanted)
    fits = max(1, (memory - RESERVED_MEMORY) // WORKER_MEMORY)
    if wanted <= fits:
        return WorkerPlan(wanted)
    asked = f"--workers {requested}" if requested else f"the default {wanted} workers"
    return WorkerPlan(
        int(fits),
        f"{asked} would need ~{wanted * WORKER_MEMORY / 2**30:.1f} GB; {memory / 2**30:.1f} GB is available,"
        f" so {fits} worker(s) will run (each needs ~{WORKER_MEMORY / 2**30:.2f} GB)",
    )


def default_workers() -> int:
    return plan_workers().workers
