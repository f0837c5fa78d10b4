"""Peak memory of an export, measured in a fresh interpreter (``python -m
tests.scenarios.export_memory FORMAT SMALL_RUN LARGE_RUN OUT``, prints ``[small, large]``
in bytes): what the interpreter's tables and free lists hold from earlier tests cannot
then show up as growth. A warm-up export of the larger run first (imports, first-call
caches, free lists at their size for it), then the peak of Python's allocations (numpy's
included: tracemalloc) plus Arrow's (its memory pool), above what was held before, of the
smaller run's export and of the larger's."""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path


def peak_bytes(action: Callable[[], object]) -> int:
    arrow = None
    try:
        import pyarrow

        previous = pyarrow.default_memory_pool()
        arrow = pyarrow.proxy_memory_pool(previous)
        pyarrow.set_memory_pool(arrow)
    except ImportError:
        pass
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action()
        python = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        if arrow is not None:
            pyarrow.set_memory_pool(previous)
    return python + (arrow.max_memory() if arrow is not None else 0)


def exporter(kind: str) -> Callable[[Path, Path], object]:
    if kind == "npz":
        from signpose.tools.export.npz import export_npz

        return export_npz
    if kind == "parquet":
        from signpose.tools.export.parquet import export_parquet

        return export_parquet
    from signpose.tools.export.keypoints_pickle import export_pickle

    return lambda run, out: export_pickle(run, out.with_suffix(".pkl"))


def main(kind: str, small: Path, large: Path, out: Path) -> list[int]:
    export = exporter(kind)
    export(large, out / "warm-up")
    return [peak_bytes(lambda: export(small, out / "small")), peak_bytes(lambda: export(large, out / "large"))]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))))
