"""The CLI's plan for the torch estimator's workers: one per GPU, each pinned to its GPU (no
GPU needed: the GPUs PyTorch would see are given to the pure function)."""

from __future__ import annotations

import pytest

from signpose.extract.gpus import GpuPlan, gpu_names, gpu_plan, plan_gpus

TWO = ("0", "1")


def plan(estimator="torch", backend="local", workers=None, device=None, visible=TWO) -> GpuPlan:
    return plan_gpus(estimator=estimator, backend=backend, workers=workers, device=device, visible=visible)


@pytest.mark.parametrize("backend", ["local", "ray"])
@pytest.mark.parametrize("workers", [None, 3])
def test_mediapipe_is_left_alone(backend, workers) -> None:
    assert plan("mediapipe", backend, workers) == GpuPlan(workers, None)


@pytest.mark.parametrize("device", [None, "cuda"])
def test_local_one_worker_per_visible_gpu_each_pinned(device) -> None:
    assert plan(device=device) == GpuPlan(2, TWO)
    assert plan(device=device, visible=("5", "GPU-8c1f")) == GpuPlan(2, ("5", "GPU-8c1f"))  # CUDA_VISIBLE_DEVICES' own names


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_local_any_worker_count_shares_the_gpus_round_robin(workers) -> None:
    assert plan(workers=workers) == GpuPlan(workers, TWO)


def test_ray_one_gpu_per_actor_and_the_cluster_says_how_many() -> None:
    assert plan(backend="ray") == GpuPlan(None, ())
    assert plan(backend="ray", device="cuda", visible=()) == GpuPlan(None, ())  # a driver without a GPU
    assert plan(backend="ray", workers=4) == GpuPlan(4, ())


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_on_the_cpu_one_worker_as_before(backend) -> None:
    assert plan(backend=backend, device="cpu") == GpuPlan(1, None)
    assert plan(backend=backend, device="cpu", workers=3) == GpuPlan(3, None)
    assert plan(backend=backend, visible=()) == GpuPlan(1, None)  # the default device is the CPU here


def test_a_named_device_is_one_unpinned_worker() -> None:
    assert plan(device="cuda:1") == GpuPlan(1, None)
    assert plan(backend="ray", device="cuda:1", workers=2) == GpuPlan(2, None)


def test_cuda_asked_for_where_there_is_none_leaves_the_estimator_to_say_so() -> None:
    assert plan(device="cuda", visible=()) == GpuPlan(1, None)


def test_the_plan_reaches_the_local_backend() -> None:
    from signpose.backends import make_backend

    pinned = plan(workers=3)
    backend = make_backend("local", pinned.workers, gpus=pinned.gpus)
    assert backend.workers == 3 and backend.gpus == TWO
    assert make_backend("local", 1, gpus=plan(device="cpu").gpus).gpus == ()


def test_gpu_names_follow_cuda_visible_devices() -> None:
    assert gpu_names(2, None) == ("0", "1")
    assert gpu_names(0, None) == ()
    assert gpu_names(2, "3, 1") == ("3", "1")
    assert gpu_names(1, "3,1") == ("3",)  # PyTorch sees one of them: the first
    assert gpu_names(0, "") == ()


def test_on_this_machine() -> None:
    from signpose.extract.gpus import visible_gpus

    if visible_gpus():
        pytest.skip("this machine has a GPU")
    # CI has no GPU (and PyTorch may be absent): the CPU plan.
    assert gpu_plan(estimator="torch", backend="local", workers=None, device=None) == GpuPlan(1, None)
    assert gpu_plan(estimator="mediapipe", backend="local", workers=None, device=None) == GpuPlan(None, None)
