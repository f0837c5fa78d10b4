"""The Ray backend honours the function's hooks as the local one does, on real Ray: an
actor starts the function as it gets it, before any item; it is told of the items it holds
ahead (``items_ahead`` of them) while it runs one, and prepares each once, before its call;
the items an actor held ahead when it died go out again at no cost. And so a whole
extraction with an estimator that batches across clips batches on Ray as it does locally,
with the same bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from signpose.backends.local import LocalBackend  # noqa: E402
from signpose.backends.ray import RayBackend  # noqa: E402
from signpose.datasets import open_dataset  # noqa: E402
from signpose.estimators import EstimatorSpec  # noqa: E402
from signpose.extract.driver import extract  # noqa: E402
from tests.backends import local_helpers as helpers  # noqa: E402
from tests.backends.batch_helpers import NAME as RECORDED, batch_sizes  # noqa: E402
from tests.backends.ray_helpers import local_ray  # noqa: E402
from tests.conftest import REPO  # noqa: E402
from tests.e2e_helpers import run_files  # noqa: E402
from tests.toy_cli import make_toy_dataset  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    # Estimators are loaded by name in the actors: let them import tests/ wherever pytest runs.
    with local_ray(helpers, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}}):
        yield


def check_hook_order(log: list[str]) -> None:
    """start first and once; every item prepared once, before it begins."""
    assert log[0] == "start" and log.count("start") == 1, log
    begun = [line.split()[1] for line in log if line.startswith("begin")]
    prepared = [line.split()[1] for line in log if line.startswith("prepare")]
    assert len(prepared) == len(set(prepared)), log
    for item in begun:
        assert log.index(f"prepare {item}") < log.index(f"begin {item}"), log


def test_an_item_that_kills_its_actor_while_held_ahead_costs_no_other_item_its_result(ray_cluster, tmp_path: Path) -> None:
    outcomes = {o.item: o for o in RayBackend(2, max_attempts=3).map_unordered(helpers.FailsPreparing(tmp_path, 0.05, 3, how="kill"), range(8))}
    assert sorted(outcomes) == list(range(8))
    assert outcomes[3].crash is not None and outcomes[3].attempts == 3
    assert all(outcomes[i].result == i and outcomes[i].attempts <= 2 for i in outcomes if i != 3), outcomes


def test_actors_start_first_and_prepare_the_items_they_hold_ahead(ray_cluster, tmp_path: Path) -> None:
    backend = RayBackend(2)
    backend.check(lambda: None)  # actors made before the function is known: started when it is
    outcomes = list(backend.map_unordered(helpers.Hooked(tmp_path, 0.3, items_ahead=2), range(10)))
    assert sorted(o.item for o in outcomes) == list(range(10))
    assert all(o.result == o.item and o.attempts == 1 for o in outcomes)
    logs = helpers.hook_logs(tmp_path)
    assert len(logs) == 2
    for log in logs.values():
        check_hook_order(log)
    # Told of its next two items while it ran one, as the local backend tells a worker.
    assert max(helpers.most_held_ahead(log) for log in logs.values()) == 2, logs


def test_the_items_a_dead_actor_held_ahead_go_out_again_at_no_cost(ray_cluster, tmp_path: Path) -> None:
    fn = helpers.HookedDying(tmp_path, 0.2, doomed=0, items_ahead=2)
    outcomes = {o.item: o for o in RayBackend(2).map_unordered(fn, range(8))}
    assert sorted(outcomes) == list(range(8))
    assert all(o.result == item for item, o in outcomes.items())
    assert {item: o.attempts for item, o in outcomes.items() if o.attempts > 1} == {0: 2}  # only the one in progress
    logs = helpers.hook_logs(tmp_path)
    dead = int((tmp_path / "died-on-0").read_text())
    assert len(logs) == 3
    assert len([line for line in logs[dead] if line.startswith("prepare")]) == 3  # it died holding 2 items ahead
    for pid, log in logs.items():
        check_hook_order(log)  # the replacement too: started before it was told of anything


def test_extract_batches_clips_held_ahead_on_ray_and_writes_what_local_writes(ray_cluster, tmp_path: Path) -> None:
    clips = 8
    dataset = open_dataset(make_toy_dataset(tmp_path / "data", clips=clips, frames=4), "folder")
    outputs, batches = {}, {}
    for name, backend in (("local", LocalBackend(2)), ("ray", RayBackend(2))):
        log = tmp_path / f"batches-{name}"
        log.mkdir()
        spec = EstimatorSpec.of(RECORDED, {"log": str(log), "frame_seconds": 0.05})
        summary = extract(dataset, tmp_path / name, spec, backend, backend_name=name)
        assert (summary.status, summary.clips_processed, summary.failed) == ("complete", clips, ())
        outputs[name], batches[name] = run_files(tmp_path / name), batch_sizes(log)
    assert outputs["ray"] == outputs["local"]
    for name, sizes in batches.items():
        assert sum(sizes) == clips, (name, sizes)  # every clip estimated once
        assert max(sizes) > 1, (name, sizes)  # clips held ahead joined a batch
