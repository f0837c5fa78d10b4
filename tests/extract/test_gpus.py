"""The CLI's plan for the torch estimator's workers: one per GPU, each pinned to its GPU (no
GPU needed: the GPUs PyTorch would see are given to the pure function)."""

from __future__ import annotations

import re

import pytest

from signpose.estimators import EstimatorSpec
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


# -- several workers per GPU (--workers-per-gpu), recorded in run.json ----------------------


def test_workers_per_gpu_plans_that_many_on_each_gpu() -> None:
    assert plan_gpus(estimator="torch", backend="local", workers=None, device=None, visible=TWO, per_gpu=3) == GpuPlan(6, TWO, 3)
    assert plan_gpus(estimator="torch", backend="local", workers=None, device="cuda", visible=("0",), per_gpu=2) == GpuPlan(2, ("0",), 2)
    assert plan() == GpuPlan(2, TWO)  # the default stays one per GPU


def test_the_facts_say_which_gpus_and_how_many_workers_each() -> None:
    assert GpuPlan(6, TWO, 3).facts() == {"gpu_plan": {"gpus": ["0", "1"], "workers_per_gpu": [3, 3]}}
    assert plan(workers=3).facts() == {"gpu_plan": {"gpus": ["0", "1"], "workers_per_gpu": [2, 1]}}  # round-robin
    assert plan(device="cpu").facts() == {} and plan(backend="ray").facts() == {} and plan("litert").facts() == {}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"per_gpu": 0}, "--workers-per-gpu must be at least 1, not 0"),
    ({"estimator": "litert", "per_gpu": 2}, "--workers-per-gpu is for --estimator torch on cuda (all visible GPUs), not --estimator litert"),
    ({"device": "cpu", "per_gpu": 2}, "not --estimator torch --device cpu"),
    ({"device": "cuda:1", "per_gpu": 2}, "not --estimator torch --device cuda:1"),
    ({"backend": "ray", "per_gpu": 2}, "on Ray each actor has a GPU of its own"),
    ({"workers": 4, "per_gpu": 2}, "give one of them"),
    ({"visible": (), "per_gpu": 2}, "PyTorch sees no GPU here"),
])  # fmt: skip
def test_workers_per_gpu_where_it_means_nothing_is_refused_in_one_line(kwargs, message) -> None:
    from signpose.errors import EstimatorError

    given = {"estimator": "torch", "backend": "local", "workers": None, "device": None, "visible": TWO} | kwargs
    with pytest.raises(EstimatorError, match=re.escape(message)) as caught:
        plan_gpus(**given)
    assert "\n" not in str(caught.value)


def test_the_cli_refuses_it_with_exit_2_and_one_line(tmp_path) -> None:
    import subprocess
    import sys

    from tests.toy_cli import make_toy_dataset

    data = make_toy_dataset(tmp_path / "data", clips=1)
    done = subprocess.run([sys.executable, "-m", "signpose", "extract", str(data), "-o", str(tmp_path / "out"),
                           "--estimator", "litert", "--workers-per-gpu", "2"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "signpose: error: --workers-per-gpu is for --estimator torch on cuda (all visible GPUs), not --estimator litert"]


def test_the_plan_s_facts_reach_run_json(tmp_path) -> None:
    import json

    from signpose.backends import make_backend
    from signpose.datasets import open_dataset
    from signpose.estimators import make_estimator
    from signpose.extract.driver import Plan, run_extraction
    from tests.toy_cli import make_toy_dataset

    spec = EstimatorSpec("tests.estimators.toy:ToyEstimator")
    dataset = open_dataset(make_toy_dataset(tmp_path / "data", clips=2), "folder")
    facts = GpuPlan(2, ("0",), 2).facts()
    run_extraction(tmp_path / "out", lambda previous: Plan(dataset, spec, make_estimator(spec), make_backend("local", 1), "local", facts))
    assert json.loads((tmp_path / "out" / "run.json").read_text())["gpu_plan"] == {"gpus": ["0"], "workers_per_gpu": [2]}
