"""Ray backend: the same contract as the local pool, on Ray actors (one machine or a cluster).

One plain actor per worker, one item in flight per actor, so when an actor dies (SIGKILL,
the OOM killer, a lost node) the driver knows which item it held and gives that item to a
fresh actor, counting attempts itself. Ray's own max_restarts / max_task_retries stay at 0:
hidden retries would make the attempt count unbounded and invisible. Actors are plain
(not Ray Data): they start faster, and each keeps one function object (one ClipProcessor,
so one MediaPipe graph) for its life. Workers write the .pose files themselves, so only
small result records travel back.
"""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

try:
    import ray
    from ray.exceptions import OutOfMemoryError, RayError, RayTaskError
except ImportError as error:  # an optional dependency: say how to get it
    raise ImportError("the Ray backend needs Ray: pip install 'signpose[ray]'") from error

from signpose.backends import default_workers
from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, BackendError, Outcome

# ray.wait returns at least this often, so Ctrl-C is seen promptly whatever Ray does with
# signals inside a blocking call.
WAIT_SECONDS = 0.5
_TOKEN_PLACES = "~/.ray/auth_token, or the file RAY_AUTH_TOKEN_PATH names, or RAY_AUTH_TOKEN"


class SignposeWorker:
    """One actor. The function is fetched the first time an item needs it (not in the
    constructor) because check() runs on the same actors before the function is known;
    it is cached, so it is unpickled once per actor and keeps its state (the model)."""

    def __init__(self) -> None:
        self._fn_ref: str | None = None
        self._fn: Callable[[Any], Any] | None = None

    def run_probe(self, probe: Callable[[], None]) -> None:
        probe()

    def run(self, boxed_fn: list, item: Any) -> Any:
        # The reference comes inside a list so Ray does not resolve (and unpickle) it per call.
        if self._fn_ref != boxed_fn[0].hex():
            self._fn, self._fn_ref = ray.get(boxed_fn[0]), boxed_fn[0].hex()
        return self._fn(item)


_RemoteWorker = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(SignposeWorker)


@dataclass(frozen=True)
class _Assignment:
    """An item and how many workers have been given it so far."""

    item: Any
    attempts: int = 0


def _first_sentence(text: str) -> str:
    return re.split(r"\.(?:\s|$)", text.strip(), maxsplit=1)[0].strip()


def death_reason(error: BaseException) -> str:
    """A short reason from Ray's long death report (which explains every possible cause)."""
    if isinstance(error, OutOfMemoryError):
        return "out of memory"
    text = str(error)
    why = re.search(r"The actor is dead because (.*)", text)
    detail = re.search(r"Worker exit detail: (.*)", text)
    parts = [_first_sentence(match.group(1)) for match in (why, detail) if match]
    return ": ".join(parts) if parts else f"{type(error).__name__}: {_first_sentence(text)}"


def _raised(error: RayTaskError) -> str:
    cause = getattr(error, "cause", None)
    return f"{type(cause).__name__}: {cause}" if cause is not None else _first_sentence(str(error))


class RayBackend:
    """Runs a function over items on Ray actors: ``address`` (else RAY_ADDRESS) names a
    cluster to connect to; without either, a local Ray is started and stopped again."""

    def __init__(self, workers: int | None = None, address: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self._workers = workers
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.max_attempts = max_attempts
        self._connected = False  # we called ray.init, so we disconnect (or stop our local Ray)
        self._actors: list = []  # started by check(), reused by map_unordered()

    @property
    def workers(self) -> int:
        if self._workers is None:  # default: one per CPU of the cluster
            self._connect()
            self._workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self._workers

    def _connect(self) -> None:
        if ray.is_initialized():  # the caller's Ray: use it, leave it running
            return
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if self.address:
                ray.init(address=self.address, **quiet)
            else:
                # "local", not None: never attach to some other `ray start` on this machine.
                cpus = self._workers or default_workers()
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError, RayError) as error:
            raise BackendError(self._connect_failure(error)) from error
        self._connected = True

    def _connect_failure(self, error: BaseException) -> str:
        if not self.address:
            return f"cannot start a local Ray: {error}"
        failed = f"cannot connect to the Ray cluster at {self.address}"
        opt_in = f"set RAY_AUTH_MODE=token and make its token available here ({_TOKEN_PLACES})"
        opted_in = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
        # Ray itself only says "failed to connect"; the reason is in the exception it wraps.
        if "InvalidAuthToken" in f"{error} {error.__cause__}":
            if opted_in:
                return f"{failed}: the cluster refused this machine's token; use the cluster's token ({_TOKEN_PLACES})"
            return f"{failed}: the cluster uses token authentication; {opt_in}"
        hint = f" If it uses token authentication (`ray start` turns it on when a token exists), {opt_in}."
        return f"{failed}: {error}. Is it running there?{'' if opted_in else hint}"

    def close(self) -> None:
        """Kill this backend's actors; stop the local Ray it started (a cluster it only
        connected to keeps running: the driver just disconnects)."""
        actors, self._actors = self._actors, []
        _kill(actors)
        if self._connected:
            self._connected = False
            ray.shutdown()

    def check(self, probe: Callable[[], None]) -> None:
        self._connect()
        try:
            if not self._actors:
                self._actors = [_RemoteWorker.remote() for _ in range(self.workers)]
            _wait_all([actor.run_probe.remote(probe) for actor in self._actors])
        except RayTaskError as error:  # the probe raised: that is the answer
            self.close()
            raise BackendError(str(getattr(error, "cause", None) or _first_sentence(str(error)))) from None
        except RayError as error:
            self.close()
            raise BackendError(f"a Ray worker died while checking access ({death_reason(error)})") from None
        except BaseException:  # Ctrl-C while actors start: do not leave them behind
            self.close()
            raise

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        queue = deque(_Assignment(item) for item in items)
        if not queue:
            self.close()
            return
        try:
            self._connect()
            size = min(self.workers, len(queue))
            pool, spare = self._actors[:size], self._actors[size:]
            self._actors = pool  # from here on, close() kills whatever the pool holds
            _kill(spare)
            pool += [_RemoteWorker.remote() for _ in range(size - len(pool))]
            boxed_fn = [ray.put(fn)]  # pickled once here, unpickled once per actor
            idle = list(pool)
            running: dict[Any, tuple[Any, _Assignment]] = {}
            while queue or running:
                while idle and queue:
                    actor, assignment = idle.pop(), queue.popleft()
                    assignment = replace(assignment, attempts=assignment.attempts + 1)
                    running[actor.run.remote(boxed_fn, assignment.item)] = (actor, assignment)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_SECONDS)
                for ref in ready:
                    actor, assignment = running.pop(ref)
                    outcome = self._settle(ref, actor, assignment, pool, idle, queue)
                    if outcome is not None:
                        yield outcome
        finally:  # done, consumer closed us, or Ctrl-C: stop every actor now
            self.close()

    def _settle(self, ref, actor, assignment: _Assignment, pool: list, idle: list, queue: deque) -> Outcome | None:
        try:
            result = ray.get(ref)
        except RayTaskError as error:
            # The function raised and its actor lives on: a retry would raise again.
            idle.append(actor)
            return Outcome(assignment.item, None, crash=f"raised {_raised(error)}", attempts=assignment.attempts)
        except RayError as error:
            # Any other Ray error lost the item with its worker (killed, out of memory, node
            # gone, unreachable). Kill as well as forget: an unreachable actor may still run.
            _kill([actor])
            replacement = _RemoteWorker.remote()
            pool[pool.index(actor)] = replacement
            idle.append(replacement)
            if assignment.attempts < self.max_attempts:
                queue.appendleft(assignment)
                return None
            crash = f"Ray worker died ({death_reason(error)}) on each of {assignment.attempts} attempts"
            return Outcome(assignment.item, None, crash=crash, attempts=assignment.attempts)
        idle.append(actor)
        return Outcome(assignment.item, result, attempts=assignment.attempts)


def _wait_all(refs: list) -> None:
    """Wait for every call, in short waits (for Ctrl-C); the first failure raises at once."""
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=WAIT_SECONDS)
        ray.get(ready)


def _kill(actors: list) -> None:
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except (RayError, ValueError, RuntimeError):  # already gone, or Ray is going down
            pass
