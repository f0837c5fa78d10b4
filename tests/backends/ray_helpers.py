"""One local Ray for a test module, as the Ray tests start it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import ray


@contextmanager
def local_ray(*by_value: ModuleType, num_cpus: int = 2, num_gpus: int = 0, runtime_env: dict | None = None) -> Iterator[None]:
    """A local Ray of ``num_cpus`` CPUs and ``num_gpus`` GPUs (counted, not real), whose
    workers get the classes of the ``by_value`` modules themselves (they need not import
    tests/), in ``runtime_env``; shut down after, without leaking the token auth ray.init turns on."""
    auth_mode = os.environ.get("RAY_AUTH_MODE")
    ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, runtime_env=runtime_env)  # fmt: skip
    for module in by_value:
        ray.cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in by_value:
            ray.cloudpickle.unregister_pickle_by_value(module)
        ray.shutdown()
        if auth_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = auth_mode
