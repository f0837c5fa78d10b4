"""The worker-count rule: one per core on small machines, 1.5 per core above, never more
than memory allows."""

from __future__ import annotations

import pytest

from signpose.extract.workers import RESERVED_MEMORY, WORKER_MEMORY, plan_workers

PLENTY = 1 << 40


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 2), (4, 4), (5, 8), (16, 24), (64, 96)])
def test_default_is_one_per_core_then_one_and_a_half(cores, expected) -> None:
    assert plan_workers(memory=PLENTY, cpu_count=cores).workers == expected
    assert plan_workers(memory=PLENTY, cpu_count=cores).note is None


def test_an_explicit_count_is_kept_when_memory_allows() -> None:
    assert plan_workers(5, memory=PLENTY, cpu_count=2).workers == 5


@pytest.mark.parametrize("requested", [None, 40])
def test_memory_caps_the_count_and_says_why(requested) -> None:
    memory = RESERVED_MEMORY + 3 * WORKER_MEMORY + 1
    plan = plan_workers(requested, memory=memory, cpu_count=16)
    assert plan.workers == 3
    assert plan.note and "3 worker(s) will run" in plan.note and "GB is available" in plan.note
    assert ("--workers 40" if requested else "the default 24 workers") in plan.note


def test_at_least_one_worker_even_when_memory_is_short() -> None:
    assert plan_workers(memory=0, cpu_count=8).workers == 1


def test_the_real_machine_gives_a_positive_count() -> None:
    assert plan_workers().workers >= 1
