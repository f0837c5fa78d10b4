"""Ray backend: the same contract as the local pool, on Ray actors (one machine or a cluster).

One plain actor per worker, one item running per actor and the next ones held ahead, of
which it is told at once, as a local worker is (``rayrun``); so when an actor dies
(SIGKILL, the OOM killer, a lost node) the driver knows which item was in progress and
gives its items to a fresh actor, counting attempts itself (``retry``). Ray's own
max_restarts / max_task_retries stay at 0: hidden retries would make the attempt count
unbounded and invisible. Actors are plain (not Ray Data): they start faster, and each keeps
one function object (one ClipProcessor, so one MediaPipe graph) for its life, started
(``start()``) as the actor gets it. Workers write the .pose files themselves, so only small
result records travel back.

A named cluster (``--ray-address`` / RAY_ADDRESS) is probed with a plain TCP connect when the
backend is made, before the run folder exists: nothing listening fails within seconds with
the reason, instead of Ray's own retries (minutes of raw warnings); what Ray writes to the
driver's stderr while connecting goes to a log file. An actor silent for longer than the
stall bound (``liveness.StallBound``; signs of life: the item given, the function's
heartbeats, which reach the driver through one small BeatBoard actor at most once a second,
the result) is killed and its item given out again, like a dead actor's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

try:
    import ray
    from ray.exceptions import RayError, RayTaskError
except ImportError as error:  # an optional dependency: say how to get it
    raise ImportError("the Ray backend needs Ray: pip install 'signpose[ray]'") from error

from signpose.backends import liveness
from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, BackendError, Outcome, WorkerFunction, cores
from signpose.backends.rayactors import RemoteBoard, gpu_workers, kill, start_worker
from signpose.backends.rayprobe import probe_cluster, ray_log_path, stderr_to
from signpose.backends.rayrun import WAIT_SECONDS, RayRun, death_reason, first_sentence
from signpose.backends.retry import RetryQueue

__all__ = ["RayBackend", "death_reason"]

_TOKEN_PLACES = "~/.ray/auth_token, or the file RAY_AUTH_TOKEN_PATH names, or RAY_AUTH_TOKEN"


class RayBackend:
    """Runs a function over items on Ray actors: ``address`` (else RAY_ADDRESS) names a
    cluster to connect to; without either, a local Ray is started and stopped again.
    ``gpus_per_worker`` > 0: each actor holds that many GPUs, and by default there are as
    many actors as the cluster's GPUs hold (none, or too few: a BackendError)."""

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        stall_timeout: float = liveness.DEFAULT_STALL_TIMEOUT,
        stall_factor: float = liveness.DEFAULT_STALL_FACTOR,
        *,
        gpus_per_worker: float = 0,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if not 0 <= gpus_per_worker < float("inf"):
            raise ValueError(f"gpus_per_worker must be 0 or more, not {gpus_per_worker}")
        liveness.StallBound(stall_timeout, stall_factor)  # checks them now, not mid-run
        self._requested = workers
        self._workers = None if gpus_per_worker else workers  # GPU workers: counted once connected
        self.gpus_per_worker = gpus_per_worker
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.max_attempts = max_attempts
        self.stall_timeout = stall_timeout
        self.stall_factor = stall_factor
        if self.address and not ray.is_initialized():
            probe_cluster(self.address)  # seconds, not Ray's minutes of retries
        self._connected = False  # we called ray.init, so we disconnect (or stop our local Ray)
        self._actors: list = []  # started by check(), reused by map_unordered()
        self._board: Any = None  # the BeatBoard of the run in progress

    @property
    def workers(self) -> int:
        if self._workers is None:  # default: one per CPU of the cluster (or as its GPUs hold)
            self._connect()
            if self.gpus_per_worker:
                self._workers = gpu_workers(self._requested, self.gpus_per_worker)
            else:
                self._workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self._workers

    def _connect(self) -> None:
        if ray.is_initialized():  # the caller's Ray: use it, leave it running
            return
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        log = ray_log_path()
        try:
            with stderr_to(log):  # Ray's C++ core warns on stderr directly, outside `logging`
                if self.address:
                    ray.init(address=self.address, **quiet)
                else:
                    # "local", not None: never attach to some other `ray start` on this machine.
                    cpus = self._requested or cores()
                    ray.init(address="local", num_cpus=cpus, include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError, RayError) as error:
            said = f" (Ray's own messages: {log})" if log.is_file() and log.stat().st_size else ""
            raise BackendError(self._connect_failure(error) + said) from error
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
        board, self._board = self._board, None
        kill(actors + ([board] if board is not None else []))
        if self._connected:
            self._connected = False
            ray.shutdown()

    def check(self, probe: Callable[[], None]) -> None:
        self._connect()
        try:
            if not self._actors:
                self._actors = [start_worker(self.gpus_per_worker) for _ in range(self.workers)]
            if self._board is None:  # started with the workers, so it is up when items start
                self._board = RemoteBoard.remote()
            _wait_all([actor.run_probe.remote(probe) for actor in self._actors] + [self._board.read.remote([])])
        except RayTaskError as error:  # the probe raised: that is the answer
            self.close()
            raise BackendError(str(error.cause or first_sentence(str(error)))) from None
        except RayError as error:
            self.close()
            raise BackendError(f"a Ray worker died while checking access ({death_reason(error)})") from None
        except BaseException:  # Ctrl-C while actors start: do not leave them behind
            self.close()
            raise

    def map_unordered(self, fn: WorkerFunction, items: Iterable[Any]) -> Iterator[Outcome]:
        queue = RetryQueue(items, self.max_attempts)
        if not queue:
            self.close()
            return
        run = None
        try:
            self._connect()
            size = min(self.workers, len(queue))
            pool, spare = self._actors[:size], self._actors[size:]
            self._actors = pool  # from here on, close() kills whatever the pool holds
            kill(spare)
            boxed_fn = [ray.put(fn)]  # pickled once here, unpickled once per actor
            for actor in pool:  # made by check(), before the function was known: start it now
                actor.load.remote(boxed_fn)
            pool += [start_worker(self.gpus_per_worker, boxed_fn) for _ in range(size - len(pool))]
            if self._board is None:
                self._board = RemoteBoard.remote()
            bound = liveness.StallBound(self.stall_timeout, self.stall_factor)
            run = RayRun(pool, boxed_fn, queue, 1 + max(1, fn.items_ahead), bound, self._board, self.gpus_per_worker)
            yield from run.outcomes()
        finally:  # done, consumer closed us, or Ctrl-C: stop every actor now
            if run is not None:  # replacements included
                self._actors, self._board = run.handles(), run.board
            self.close()


def _wait_all(refs: list) -> None:
    """Wait for every call, in short waits (for Ctrl-C); the first failure raises at once."""
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=WAIT_SECONDS)
        ray.get(ready)

