"""A named Ray cluster that is not there fails within seconds, with the reason, before the
run folder exists, and without Ray's raw warnings (issue #9)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import signpose.backends.rayprobe as ray_backend  # noqa: E402
from signpose.backends import BackendError, make_backend  # noqa: E402
from signpose.backends.ray import RayBackend  # noqa: E402

pytestmark = pytest.mark.ray


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released, never listened)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(autouse=True)
def no_ray_address(monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert not ray.is_initialized()  # the probe is skipped when the caller's Ray is up


def test_cli_with_nothing_at_the_ray_address_fails_fast_and_leaves_no_output_folder(tmp_path: Path) -> None:
    (tmp_path / "data" / "clip1").mkdir(parents=True)
    (tmp_path / "data" / "clip1" / "images0001.png").write_bytes(b"")
    out = tmp_path / "out"
    port = free_port()
    command = [sys.executable, "-m", "signpose", "extract", str(tmp_path / "data"), "-o", str(out)]
    command += ["--layout", "folder", "--backend", "ray", "--ray-address", f"127.0.0.1:{port}", "--quiet"]
    done = subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=600)  # only against a hang
    assert done.returncode == 2, done.stderr
    expected = f"signpose: error: cannot reach a Ray cluster at 127.0.0.1:{port}: connection refused; is `ray start --head` running there?"
    # That line alone, the probe's: it failed on the refused connection, before Ray (whose
    # retries take minutes and whose warnings would show) was ever asked to connect.
    assert done.stderr.strip() == expected
    assert not out.exists()


@pytest.mark.parametrize(
    "address, shown, what",
    [
        ("127.0.0.1:{port}", "127.0.0.1:{port}", "`ray start --head`"),
        ("ray://127.0.0.1:{port}", "127.0.0.1:{port}", "the Ray client server"),
        ("ray://127.0.0.1:{port}/", "127.0.0.1:{port}", "the Ray client server"),
        ("[::1]:{port}", "[::1]:{port}", "`ray start --head`"),
    ],
)
def test_unreachable_addresses_raise_backend_error_at_once(address: str, shown: str, what: str) -> None:
    port = free_port()
    with pytest.raises(BackendError) as caught:
        make_backend("ray", 2, address.format(port=port))
    message = str(caught.value)  # the probe's: Ray never tried to connect (not initialized, below)
    assert message.startswith(f"cannot reach a Ray cluster at {shown.format(port=port)}: ")
    assert what in message and message.endswith("running there?")
    assert not ray.is_initialized()


def test_ray_address_from_the_environment_and_auto_are_probed_too(monkeypatch) -> None:
    port = free_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    for address in (None, "auto"):
        with pytest.raises(BackendError, match=f"cannot reach a Ray cluster at 127.0.0.1:{port}: connection refused"):
            RayBackend(2, address=address)


def test_unknown_host_and_a_silent_host(monkeypatch) -> None:
    with pytest.raises(BackendError, match=r"at no-such-host\.invalid:6379: unknown host"):
        ray_backend.probe_cluster("no-such-host.invalid:6379")
    waited: list[float] = []

    def silent(address, timeout):  # a host that drops the connection attempt: no answer
        waited.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(BackendError, match=r"at 10\.1\.2\.3:6379: no answer within 3 s; is `ray start --head` running there\?"):
        ray_backend.probe_cluster("10.1.2.3:6379")
    assert waited == [3.0]


def test_a_listening_address_passes_the_probe() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        ray_backend.probe_cluster(f"127.0.0.1:{server.getsockname()[1]}")


def test_probe_targets() -> None:
    assert ray_backend.probe_target("10.0.0.5:6379") == ("10.0.0.5", 6379, "`ray start --head`")
    assert ray_backend.probe_target("ray://head:10002")[:2] == ("head", 10002)
    assert ray_backend.probe_target("ray://head")[:2] == ("head", 10001)  # the Ray client's default port
    assert ray_backend.probe_target(" [fe80::1]:6379 ")[:2] == ("fe80::1", 6379)
    for untouched in ("local", "head", "head:port", "anyscale://cluster"):  # Ray's to judge
        assert ray_backend.probe_target(untouched) is None


def test_auto_with_no_cluster_on_this_machine(monkeypatch, tmp_path: Path) -> None:
    from ray._private import services

    def nothing(addr, temp_dir=None):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(services, "canonicalize_bootstrap_address_or_die", nothing)
    with pytest.raises(BackendError, match="--ray-address auto: no running Ray cluster found on this machine"):
        RayBackend(2, address="auto")


def test_stderr_to_catches_what_c_code_writes(tmp_path: Path, capfd) -> None:
    log = tmp_path / "ray.log"
    with ray_backend.stderr_to(log):
        os.write(2, b"[W rpc_client.h:153] Failed to connect to GCS\n")
    os.write(2, b"after\n")
    assert log.read_text() == "[W rpc_client.h:153] Failed to connect to GCS\n"
    assert capfd.readouterr().err == "after\n"
    with ray_backend.stderr_to(tmp_path / "empty.log"):
        pass
    assert not (tmp_path / "empty.log").exists()
