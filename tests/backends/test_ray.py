"""The Ray backend, on real Ray: the backend contract with trivial functions, worker deaths,
and whole extractions with real MediaPipe compared byte for byte with the local backend
(in process, through the CLI while a worker is killed or Ctrl-C arrives, and on a
`ray start --head` cluster with token authentication)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from signpose.backends import BackendError  # noqa: E402
from signpose.backends.base import Plain  # noqa: E402
from signpose.backends.local import LocalBackend  # noqa: E402
from signpose.backends.ray import RayBackend, death_reason  # noqa: E402
from signpose.model.clip import Dataset  # noqa: E402
from signpose.estimators import EstimatorSpec  # noqa: E402
from signpose.extract.driver import extract  # noqa: E402
from tests.backends import local_helpers as helpers  # noqa: E402
from tests.backends import ray_helpers  # noqa: E402
from tests.conftest import signals_as_in_a_terminal  # noqa: E402
from tests.e2e_helpers import cmdline, descendants, index_lines, running  # noqa: E402
from tests.e2e_helpers import run_files as all_run_files  # noqa: E402
from tests.testdata import signing_frames  # noqa: E402

pytestmark = pytest.mark.ray

CLIPS, FRAMES_PER_CLIP = 6, 8
RUN_SECONDS = 150  # any subprocess run; a hang fails the test instead of CI


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the in-process tests (no GPUs, even on a machine that has some:
    test_ray_gpus.py declares two); RayBackend reuses it and leaves it running."""
    with ray_helpers.local_ray(helpers):
        yield


# -- the backend contract, with trivial functions -------------------------------------------


def test_every_item_comes_back_once(local_ray) -> None:
    backend = RayBackend(2)
    outcomes = list(backend.map_unordered(Plain(helpers.Square()), range(20)))
    assert sorted(o.item for o in outcomes) == list(range(20))
    assert all(o.result[0] == o.item * o.item and o.crash is None and o.attempts == 1 for o in outcomes)
    assert len({o.result[1] for o in outcomes}) <= 2  # two long-lived workers did it all
    assert list(backend.map_unordered(Plain(helpers.Square()), [])) == []
    assert ray.is_initialized()  # not ours to stop


def test_function_is_unpickled_once_per_worker(local_ray, tmp_path: Path) -> None:
    backend = RayBackend(2)
    backend.check(lambda: None)  # the same actors serve check and map
    pids = {o.result for o in backend.map_unordered(Plain(helpers.Counted(tmp_path)), range(12))}
    unpickled = sorted(tmp_path.glob("unpickled-*"))
    assert {int(path.name.split("-")[1]) for path in unpickled} == pids
    assert all(path.read_text() == "x" for path in unpickled)


def test_check_raises_backend_error_naming_the_problem(local_ray) -> None:
    backend = RayBackend(2)
    backend.check(lambda: None)
    with pytest.raises(BackendError, match="on testhost: cannot see the dataset"):
        backend.check(helpers.FailingProbe())


def test_an_exception_in_the_function_fails_only_its_item(local_ray) -> None:
    outcomes = {o.item: o for o in RayBackend(2).map_unordered(Plain(helpers.Raise(3)), range(6))}
    assert sorted(outcomes) == list(range(6))
    assert outcomes[3].crash == "raised ValueError: item 3 is bad" and outcomes[3].attempts == 1
    assert all(outcomes[i].result == i for i in (0, 1, 2, 4, 5))


def test_worker_killed_mid_item_is_replaced_and_the_item_retried(local_ray, tmp_path: Path) -> None:
    outcomes = {o.item: o for o in RayBackend(2).map_unordered(Plain(helpers.DieOnce(tmp_path, (2, 5))), range(8))}
    assert sorted(outcomes) == list(range(8))
    assert all(o.result[0] == o.item * 10 and o.crash is None for o in outcomes.values())
    assert {i: o.attempts for i, o in outcomes.items() if o.attempts > 1} == {2: 2, 5: 2}


def test_item_whose_worker_always_dies_is_reported_after_max_attempts(local_ray, tmp_path: Path) -> None:
    backend = RayBackend(2, max_attempts=3)
    outcomes = {o.item: o for o in backend.map_unordered(Plain(helpers.AlwaysDie(tmp_path, (1,))), range(6))}
    assert sorted(outcomes) == list(range(6))
    doomed = outcomes[1]
    assert doomed.result is None and doomed.attempts == 3
    assert doomed.crash.startswith("Ray worker died (") and doomed.crash.endswith(") on each of 3 attempts")
    assert len((tmp_path / "attempts-1").read_text().splitlines()) == 3  # bounded: exactly three workers
    assert all(outcomes[i].result == i and outcomes[i].attempts == 1 for i in (0, 2, 3, 4, 5))


def test_gpu_workers_on_a_cluster_without_gpus_fail_at_once(local_ray) -> None:
    started = time.monotonic()
    no_gpus = r"^the Ray cluster has no GPUs, and its workers need 1 GPU each: start its nodes where GPUs are visible"
    with pytest.raises(BackendError, match=no_gpus):
        RayBackend(gpus_per_worker=1).check(lambda: None)
    with pytest.raises(BackendError, match=no_gpus):
        list(RayBackend(2, gpus_per_worker=1).map_unordered(Plain(helpers.Square()), range(4)))
    # An error, not a wait for GPUs that never come (Ray would wait forever): the bound is
    # only against such a wait, never reached otherwise however loaded the machine.
    assert time.monotonic() - started < RUN_SECONDS
    assert ray.is_initialized()


def test_death_reason_is_short() -> None:
    report = (
        "The actor died unexpectedly before finishing this task.\n\tclass_name: SignposeWorker\n"
        "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR"
        " Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of file."
        " Some common causes include: (1) the process was killed by the OOM killer"
    )
    assert death_reason(ray.exceptions.RayActorError(error_msg=report)) == (
        "its worker process has died: Worker unexpectedly exits with a connection error code 2"
    )


def test_closing_early_stops_the_workers(local_ray) -> None:
    outcomes = RayBackend(2).map_unordered(Plain(helpers.Square()), range(100))
    next(outcomes)
    assert signpose_workers(os.getpid())
    outcomes.close()
    deadline = time.monotonic() + RUN_SECONDS  # only against a hang
    while signpose_workers(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signpose_workers(os.getpid()) == []


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Dataset:
    """A frame-folder dataset from a real signing video: <root>/train/clipN/images0001.png."""
    from PIL import Image

    from signpose.datasets import open_dataset

    root = tmp_path_factory.mktemp("frames")
    for number, frame in enumerate(signing_frames(count=CLIPS * FRAMES_PER_CLIP)):  # RGB, 210x260
        clip = root / "train" / f"clip{number // FRAMES_PER_CLIP + 1}"
        clip.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(clip / f"images{number % FRAMES_PER_CLIP + 1:04d}.png")

    return open_dataset(root, "folder")


@pytest.fixture(scope="module")
def local_run(dataset: Dataset, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local") / "run"
    summary = extract(dataset, out, EstimatorSpec(), LocalBackend(1))
    assert summary.status == "complete" and not summary.failed
    return run_files(out)


def run_files(out: Path) -> dict[str, bytes]:
    """Everything a run leaves that must not depend on the backend (run.json records timing)."""
    files = all_run_files(out)
    assert {"index.jsonl", "stats.json"} <= set(files)
    assert sum(name.endswith(".pose") for name in files) == CLIPS
    return files


@pytest.mark.slow  # the real estimator in Ray actors
def test_extract_on_ray_equals_local(local_ray, dataset: Dataset, local_run: dict, tmp_path: Path) -> None:
    summary = extract(dataset, tmp_path / "run", EstimatorSpec(), RayBackend(2), backend_name="ray")
    assert (summary.status, summary.clips_processed, summary.clips_retried, summary.failed) == ("complete", CLIPS, 0, ())
    assert run_files(tmp_path / "run") == local_run


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli_extract(root: Path, out: Path, *extra: str) -> list[str]:
    options = "--layout folder --backend ray --workers 2 --quiet".split()
    return [sys.executable, "-m", "signpose", "extract", str(root), "-o", str(out), *options, *extra]


def start_cli(root: Path, out: Path) -> subprocess.Popen:
    """A CLI run in its own session, so a signal to its process group reaches only it."""
    return subprocess.Popen(
        cli_extract(root, out), env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        preexec_fn=signals_as_in_a_terminal,
    )


def signpose_workers(pid: int, busy: bool = False) -> list[int]:
    """This driver's Ray worker processes that hold a SignposeWorker actor (or run an item)."""
    title = "ray::SignposeWorker.run" if busy else "ray::SignposeWorker"
    return [child for child in descendants(pid) if cmdline(child).startswith(title)]


def reap(pids: list[int]) -> list[int]:
    """Wait for processes to go (a minute at most: only one that never goes is named);
    kill and name the ones that stay."""
    deadline = time.monotonic() + 60
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in pids if running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


@pytest.mark.slow  # the real estimator in a signpose process and its Ray actors
def test_worker_killed_during_cli_run_is_retried(dataset: Dataset, local_run: dict, tmp_path: Path) -> None:
    out = tmp_path / "run"
    driver = start_cli(dataset.root, out)
    killed, seen = None, set()
    try:
        deadline = time.monotonic() + RUN_SECONDS
        while driver.poll() is None and time.monotonic() < deadline:
            seen.update(descendants(driver.pid))
            if killed is None and index_lines(out) >= 1:  # the run is under way (the access check is over)
                busy = signpose_workers(driver.pid, busy=True)
                if busy:  # only a busy worker holds an item; try again until one is
                    killed = busy[0]
                    os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        output, _ = driver.communicate(timeout=RUN_SECONDS)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        assert reap(sorted(seen)) == [], "Ray processes outlived the run"
    assert driver.returncode == 0, output
    assert killed is not None, "no busy Ray worker was found to kill: the run ended too soon"
    info = json.loads((out / "run.json").read_text())
    assert (info["status"], info["clips_processed"]) == ("complete", CLIPS)  # each clip once
    assert info["clips_retried"] >= 1
    assert run_files(out) == local_run


@pytest.mark.slow  # the real estimator in a signpose process and its Ray actors
def test_ctrl_c_stops_a_ray_run(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "run"
    driver = start_cli(dataset.root, out)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + RUN_SECONDS
        while driver.poll() is None and index_lines(out) < 1 and time.monotonic() < deadline:
            seen.update(descendants(driver.pid))
            time.sleep(0.05)
        # Freeze the driver: a run with clips left cannot end now, however loaded the machine;
        # continued, it meets the Ctrl-C before it reads another result.
        os.kill(driver.pid, signal.SIGSTOP)
        done_when_stopped = index_lines(out)
        assert driver.poll() is None and done_when_stopped < CLIPS, "the run ended before it could be interrupted"
        seen.update(descendants(driver.pid))
        os.killpg(driver.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        os.kill(driver.pid, signal.SIGCONT)
        output, _ = driver.communicate(timeout=RUN_SECONDS)  # only against a hang
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        leftovers = reap(sorted(seen))
    assert driver.returncode == 130, output
    assert "interrupted" in output
    # It stopped: it did not go on until the run's end (nor wait for the clips in progress).
    assert json.loads((out / "run.json").read_text())["clips_processed"] < CLIPS
    assert leftovers == [], f"still running after Ctrl-C: {leftovers}"


# -- a `ray start --head` cluster -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def head_node(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A one-node cluster as `ray start --head` makes it, with token authentication on.

    Started with --block and stopped by SIGTERM to that process, which stops its own
    processes only (`ray stop --force` would kill every Ray on the machine, including other
    tests' and other users'). Its own short temp dir keeps it from becoming the machine's
    "current cluster" and keeps Ray's socket paths short enough. Ray replaces 127.0.0.1 with
    the machine's address (for the node and for drivers alike), so the cluster is reachable
    beyond loopback: one more reason for token authentication."""
    tmp_path = tmp_path_factory.mktemp("head")
    token = tmp_path / "token"
    token.write_text(secrets.token_hex(32))
    env = cli_env() | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    temp_dir = tempfile.mkdtemp(prefix="sp-ray-")
    port = free_port()
    log = tmp_path / "head.log"
    ray_cli = Path(sys.executable).with_name("ray")
    command = [
        str(ray_cli),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--disable-usage-stats",
        "--include-dashboard=false",
        f"--temp-dir={temp_dir}",
        "--block",
    ]
    with log.open("w") as handle:
        head = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    processes: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`ray start --head` did not start (exit {head.poll()}):\n{log.read_text()}")
            time.sleep(0.2)
        processes.update(descendants(head.pid))
        yield f"127.0.0.1:{port}", env
    finally:
        processes.update(descendants(head.pid))
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        leftovers = reap(sorted(processes))
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert leftovers == [], f"`ray start` left processes running: {leftovers}"


@pytest.mark.slow  # the real estimator in a signpose process and its Ray actors
def test_extract_on_a_ray_start_cluster_equals_local(head_node, dataset: Dataset, local_run: dict, tmp_path: Path) -> None:
    address, env = head_node
    out = tmp_path / "run"
    done = subprocess.run(
        cli_extract(dataset.root, out, "--ray-address", address), env=env, capture_output=True, text=True, timeout=RUN_SECONDS
    )
    assert done.returncode == 0, done.stderr
    assert run_files(out) == local_run


def test_connecting_without_the_token_says_how(head_node, dataset: Dataset, tmp_path: Path) -> None:
    address, env = head_node
    no_auth = {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}
    wrong_token = no_auth | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "not-the-token"}
    expected = {"uses token authentication; set RAY_AUTH_MODE=token": no_auth, "refused this machine's token": wrong_token}
    for reason, environment in expected.items():
        environment = environment | {"RAY_NUM_REDIS_GET_RETRIES": "2"}  # Ray's retries: 20 s by default
        done = subprocess.run(
            cli_extract(dataset.root, tmp_path / "run", "--ray-address", address),
            env=environment,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
        )
        assert done.returncode == 2, done.stderr
        assert f"signpose: error: cannot connect to the Ray cluster at {address}: the cluster {reason}" in done.stderr


# -- without Ray ------------------------------------------------------------------------------


def test_without_ray_the_error_says_how_to_install(tmp_path: Path) -> None:
    (tmp_path / "data" / "clip1").mkdir(parents=True)
    (tmp_path / "data" / "clip1" / "0001.png").write_bytes(b"")
    script = textwrap.dedent(
        f"""
        import sys

        class NoRay:  # as if Ray were not installed
            def find_spec(self, name, path=None, target=None):
                if name == "ray" or name.startswith("ray."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, NoRay())
        from signpose.backends import make_backend
        from signpose.cli.main import main
        from signpose.errors import BackendError
        try:
            make_backend("ray")
        except BackendError as error:
            print(error)
        print(main(["extract", {str(tmp_path / "data")!r}, "-o", {str(tmp_path / "out")!r}, "--backend", "ray"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env=cli_env(), capture_output=True, text=True, timeout=60)
    message = "the Ray backend needs Ray: pip install 'signpose[ray]'"
    assert done.stdout.splitlines() == [message, "2"], done.stderr
    assert f"signpose: error: {message}" in done.stderr
