"""How many worker processes to start on this machine: one per core up to SMALL_MACHINE
cores, above that what the work asks for (``per_core``: MediaPipe's graph keeps ~1.3 cores
busy, so 1.5 of its workers per core; a one-thread LiteRT worker, 1), and never more than
memory allows (``worker_memory`` each, plus room for the driver and the system). The
measurements behind these figures are in bench/README.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from signpose.backends.base import cores

SMALL_MACHINE = 4  # cores up to which one worker per core is the default
WORKER_MEMORY = int(0.55 * 2**30)  # peak resident set of one worker, unless the work says otherwise (MediaPipe's)
RESERVED_MEMORY = int(0.5 * 2**30)  # the driver, the page cache the decoders need, the system


@dataclass(frozen=True)
class WorkerPlan:
    workers: int
    note: str | None = None  # why fewer workers than asked (or than the default) will run


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes (None where there is no such file)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def plan_workers(requested: int | None = None, *, per_core: float = 1.5, worker_memory: int = WORKER_MEMORY,
                 memory: int | None = None, cpu_count: int | None = None) -> WorkerPlan:
    """``requested`` workers, or the default (one per core on small machines, ``per_core``
    per core above SMALL_MACHINE cores), capped by available memory (``worker_memory`` each)."""
    count = cpu_count or cores()
    wanted = requested or (count if count <= SMALL_MACHINE else math.ceil(per_core * count))
    memory = available_memory() if memory is None else memory
    if memory is None:
        return WorkerPlan(wanted)
    per_worker = worker_memory
    fits = max(1, (memory - RESERVED_MEMORY) // per_worker)
    if wanted <= fits:
        return WorkerPlan(wanted)
    asked = f"--workers {requested}" if requested else f"the default {wanted} workers"
    return WorkerPlan(
        int(fits),
        f"{asked} would need ~{wanted * per_worker / 2**30:.1f} GB; {memory / 2**30:.1f} GB is available,"
        f" so {fits} worker(s) will run (each needs ~{per_worker / 2**30:.2f} GB)",
    )
