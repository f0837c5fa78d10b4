"""Before Ray: is anything listening at the cluster address? A plain TCP connect with a
short timeout, so an unreachable ``--ray-address`` fails within seconds with the reason
instead of behind minutes of Ray's own retries; and a place for what Ray's C++ core writes
to the driver's stderr while it connects. Ray itself is asked only to resolve ``auto`` and
localhost the way it will."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from signpose.errors import BackendError

PROBE_SECONDS = 3.0  # TCP connect to a named cluster before ray.init
RAY_CLIENT_PORT = 10001  # ray://HOST without a port


def _split_host_port(text: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port``, ``host`` (port None); a path after the port is ignored."""
    text = text.strip().split("/", 1)[0]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:  # a bare host, or a bare IPv6 address
        host, port = text, ""
    if port and not port.isdigit():
        raise ValueError(port)
    return host, int(port) if port else None


def probe_target(address: str) -> tuple[str, int, str] | None:
    """Where ray.init(address=...) will connect: (host, port, what listens there), or None
    when there is nothing to probe (``local``: a new local Ray; a scheme Ray hands to a
    plugin; an address Ray itself will reject at once). ``auto`` is resolved as Ray does:
    RAY_ADDRESS, else the cluster the last ``ray start`` on this machine recorded."""
    address = address.strip()
    if address == "local":
        return None
    if address == "auto":
        from_env = os.environ.get("RAY_ADDRESS", "").strip()
        if from_env and from_env != "auto":
            return probe_target(from_env)
        try:
            from ray._private.services import canonicalize_bootstrap_address_or_die
        except ImportError:  # another Ray: let ray.init find it
            return None
        try:
            address = canonicalize_bootstrap_address_or_die("auto")
        except (ConnectionError, ValueError) as error:
            raise BackendError(f"--ray-address auto: no running Ray cluster found on this machine ({error})") from None
    scheme, has_scheme, rest = address.partition("://")
    if has_scheme and scheme != "ray":
        return None
    try:
        host, port = _split_host_port(rest if has_scheme else address)
    except ValueError:
        return None
    if has_scheme:
        return (host, port or RAY_CLIENT_PORT, "the Ray client server (`ray start --head`, port 10001 by default)")
    if not host or port is None:
        return None
    return (host, port, "`ray start --head`")


def _ray_host(host: str) -> str:
    """The host Ray itself connects to: it replaces localhost with this machine's address."""
    try:
        from ray._private.services import resolve_ip_for_localhost

        return resolve_ip_for_localhost(host)
    except Exception:  # noqa: BLE001 - only a second candidate to try
        return host


def _reach(host: str, port: int, seconds: float) -> str | None:
    """None when something accepts a TCP connection at host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=seconds):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror as error:
        return f"unknown host ({error.strerror})"
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except OSError as error:
        return error.strerror or str(error)


def probe_cluster(address: str, seconds: float = PROBE_SECONDS) -> None:
    """Raise BackendError within about ``seconds`` when nothing accepts connections at ``address``."""
    target = probe_target(address)
    if target is None:
        return
    host, port, what = target
    reason = _reach(host, port, seconds)
    if reason is None:
        return
    if address.partition("://")[1] == "" and _ray_host(host) != host and _reach(_ray_host(host), port, seconds) is None:
        return  # not on localhost itself, but where Ray will connect (this machine's address)
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    raise BackendError(f"cannot reach a Ray cluster at {shown}: {reason}; is {what} running there?")


def ray_log_path() -> Path:
    """Where Ray's messages to the driver's stderr go (they would bury signpose's own)."""
    return Path(tempfile.gettempdir()) / f"signpose-ray-{os.getuid()}-{os.getpid()}.log"


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (file descriptor 2, as C++ code writes it) to ``path``
    meanwhile; an empty log is removed again."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no stderr to protect
        yield
        return
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        try:
            if path.stat().st_size == 0:
                path.unlink()
        except OSError:
            pass
