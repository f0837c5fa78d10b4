"""Per-split counts as ``stats.json`` and the index records hold them, and the check that an
untrusted file's stats are of that shape before anything compares or prints them."""

from __future__ import annotations

from typing import Any

# The largest count a record or stats may hold (an int64: anything larger is not a count).
MAX_COUNT = 2**63 - 1
# Stats hold one entry per split and one count per name: no run has more than this.
MAX_STATS_ENTRIES = 10_000


def is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def check_stats(stats: Any, limit: int = MAX_STATS_ENTRIES) -> dict[str, dict[str, int]]:
    """``stats`` if it is ``{split: {name: count}}`` (strings to non-negative ints, at most
    ``limit`` splits and names per split, nothing nested deeper); else ValueError saying
    what is wrong. Checked before anything compares or prints stats from an untrusted file."""
    if not isinstance(stats, dict):
        raise ValueError(f"stats are a {type(stats).__name__}, expected {{split: {{name: count}}}}")
    if len(stats) > limit:
        raise ValueError(f"stats have {len(stats)} splits, more than {limit}")
    for split, counts in stats.items():
        if not isinstance(split, str):
            raise ValueError(f"stats have a split named by a {type(split).__name__}, expected a str")
        if not isinstance(counts, dict):
            raise ValueError(f"stats of split {split[:80]!r} are a {type(counts).__name__}, expected {{name: count}}")
        if len(counts) > limit:
            raise ValueError(f"stats of split {split[:80]!r} have {len(counts)} entries, more than {limit}")
        for name, count in counts.items():
            if not isinstance(name, str):
                raise ValueError(f"stats of split {split[:80]!r} have a name that is a {type(name).__name__}, expected a str")
            if not is_count(count):
                shown = type(count).__name__ if not isinstance(count, int) or isinstance(count, bool) else "out of range"
                raise ValueError(f"stats of split {split[:80]!r}: {name[:80]!r} is not a count ({shown})")
    return stats
