"""The Ray backend's GPU workers (``gpus_per_worker``), on a real local Ray that declares two
GPUs. There are none: Ray only counts them, schedules by them and sets each actor's
CUDA_VISIBLE_DEVICES, which is all the backend relies on. (A cluster with no GPUs: in
test_ray.py, on its GPU-less Ray.)"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray")

from signpose.backends import BackendError, make_backend  # noqa: E402
from signpose.backends.base import Plain  # noqa: E402
from signpose.backends.ray import RayBackend  # noqa: E402
from tests.backends import ray_helpers  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def two_gpu_ray() -> Iterator[None]:
    with ray_helpers.local_ray(sys.modules[__name__], num_gpus=2):  # workers need not import tests/
        yield


def gpus_seen(item: int) -> tuple[int, int, tuple[str, ...], str | None]:
    """The item, the actor's process, the GPUs Ray gave it and the CUDA_VISIBLE_DEVICES it sees."""
    return item, os.getpid(), tuple(str(gpu) for gpu in ray.get_gpu_ids()), os.environ.get("CUDA_VISIBLE_DEVICES")


def test_one_actor_per_gpu_by_default_each_on_its_own_gpu(two_gpu_ray) -> None:
    backend = make_backend("ray", gpus=())  # what the CLI asks for: one GPU per worker
    assert isinstance(backend, RayBackend) and backend.gpus_per_worker == 1
    assert backend.workers == 2
    backend.check(lambda: None)
    outcomes = list(backend.map_unordered(Plain(gpus_seen), range(8)))
    assert sorted(o.result[0] for o in outcomes) == list(range(8))
    by_actor = {o.result[1]: o.result[2:] for o in outcomes}
    assert sorted(by_actor.values()) == [(("0",), "0"), (("1",), "1")]


def test_without_gpus_per_worker_nothing_changes(two_gpu_ray) -> None:
    backend = RayBackend(2)
    outcomes = list(backend.map_unordered(Plain(gpus_seen), range(4)))
    assert sorted(o.result[0] for o in outcomes) == list(range(4))
    assert all(o.result[2] == () for o in outcomes)  # no GPU given to any actor


def test_workers_that_do_not_fit_the_gpus_fail_at_once(two_gpu_ray) -> None:
    assert RayBackend(gpus_per_worker=0.5).workers == 4  # fractions share a GPU
    assert RayBackend(3, gpus_per_worker=0.5).workers == 3
    with pytest.raises(BackendError, match=r"^the Ray cluster has 2 GPUs: 3 worker\(s\) of 1 GPU each need 3; ask for at most 2$"):
        RayBackend(3, gpus_per_worker=1).check(lambda: None)
    with pytest.raises(BackendError, match=r"^the Ray cluster has 2 GPUs: 1 worker\(s\) of 3 GPUs each need 3$"):
        list(RayBackend(gpus_per_worker=3).map_unordered(Plain(gpus_seen), range(2)))
    assert ray.is_initialized()  # the caller's Ray: left running


def test_gpus_per_worker_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="gpus_per_worker must be 0 or more"):
        RayBackend(gpus_per_worker=-1)
