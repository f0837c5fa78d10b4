"""Ray backend: the same contract as the local pool, on Ray actors (one machine or a cluster).

One plain actor per worker, one item in flight per actor, so when an actor dies (SIGKILL,
the OOM killer, a lost node) the driver knows which item it held and gives that item to a
fresh actor, counting attempts itself. Ray's own max_restarts / max_task_retries stay at 0:
hidden retries would make the attempt count unbounded and invisible. Actors are plain
(not Ray Data): they start faster, and each keeps one function object (one ClipProcessor,
so one MediaPipe graph) for its life. Workers write the .pose files themselves, so only
small result records travel back.

A named cluster (``--ray-address`` / RAY_ADDRESS) is probed with a plain TCP connect when the
backend is made, before the run folder exists: nothing listening fails within seconds with
the reason, instead of Ray's own retries (minutes of raw warnings); what Ray writes to the
driver's stderr while connecting goes to a log file. An actor silent for longer than the
stall bound (``liveness.StallBound``; signs of life: the item given, the function's
heartbeats, which reach the driver through one small BeatBoard actor at most once a second,
the result) is killed and its item given out again, like a dead actor's.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

try:
    import ray
    from ray.exceptions import OutOfMemoryError, RayError, RayTaskError
except ImportError as error:  # an optional dependency: say how to get it
    raise ImportError("the Ray backend needs Ray: pip install 'signpose[ray]'") from error

from signpose.backends import liveness
from signpose.backends.base import cores
from signpose.backends.base import DEFAULT_MAX_ATTEMPTS, BackendError, Outcome
from signpose.backends.rayactors import RemoteBoard, gpu_workers, kill, start_worker
from signpose.backends.rayprobe import probe_cluster, ray_log_path, stderr_to

# ray.wait returns at least this often, so Ctrl-C is seen promptly whatever Ray does with
# signals inside a blocking call.
WAIT_SECONDS = 0.5
_TOKEN_PLACES = "~/.ray/auth_token, or the file RAY_AUTH_TOKEN_PATH names, or RAY_AUTH_TOKEN"
_TICKETS = itertools.count(1)  # item numbers on the heartbeat board


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
            kill(spare)
            pool += [start_worker(self.gpus_per_worker) for _ in range(size - len(pool))]
            boxed_fn = [ray.put(fn)]  # pickled once here, unpickled once per actor
            idle = list(pool)
            if self._board is None:
                self._board = RemoteBoard.remote()
            bound = liveness.StallBound(self.stall_timeout, self.stall_factor)
            running: dict[Any, tuple[Any, _Assignment]] = {}
            heard: dict[Any, float] = {}  # ref -> time.monotonic() of its last sign of life
            tickets: dict[Any, int] = {}  # ref -> its number on the board
            counts: dict[Any, int] = {}  # ref -> its last heartbeat count read from the board
            reading = None  # a board read in flight
            looked = time.monotonic()
            while queue or running:
                while idle and queue:
                    actor, assignment = idle.pop(), queue.popleft()
                    assignment = replace(assignment, attempts=assignment.attempts + 1)
                    ticket = next(_TICKETS)
                    ref = actor.run.remote(boxed_fn, assignment.item, (self._board, ticket))
                    running[ref], heard[ref], tickets[ref] = (actor, assignment), time.monotonic(), ticket
                ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_SECONDS)
                now = time.monotonic()
                away, looked = now - looked, now
                if away > WAIT_SECONDS + 1.0:
                    # The consumer held us up between yields. Heartbeats sent meanwhile reach us
                    # only with the next board read, so that time is not the actors' silence.
                    heard = {ref: min(now, last + away - WAIT_SECONDS) for ref, last in heard.items()}
                reading = self._read_board(reading, tickets, counts, heard, bound, now)
                for ref in ready:
                    actor, assignment = running.pop(ref)
                    bound.observe(now - heard.pop(ref))
                    del tickets[ref]
                    counts.pop(ref, None)
                    outcome = self._settle(ref, actor, assignment, pool, idle, queue)
                    if outcome is not None:
                        yield outcome
                silent = [ref for ref, last in heard.items() if now - last > bound.seconds]
                finished = set(ray.wait(silent, num_returns=len(silent), timeout=0)[0]) if silent else set()
                for ref in [ref for ref in silent if ref not in finished]:  # finished: taken next round
                    # Silent for longer than the bound allows: hung (or stopped).
                    actor, assignment = running.pop(ref)
                    del heard[ref], tickets[ref]
                    counts.pop(ref, None)
                    outcome = self._replace(actor, assignment, pool, idle, queue, f"killed after {liveness.describe_stall(bound.seconds)}")
                    if outcome is not None:
                        yield outcome
        finally:  # done, consumer closed us, or Ctrl-C: stop every actor now
            self.close()

    def _read_board(self, reading, tickets: dict, counts: dict, heard: dict, bound, now: float):
        """Take the board's answer if it is in (a changed count is a sign of life), and ask
        again; returns the read in flight. Never waits: a slow or lost board only means
        heartbeats go unheard, and the item-level bound still holds."""
        if self._board is None:
            return None
        if reading is not None:
            done, _ = ray.wait([reading], timeout=0)
            if not done:
                return reading
            try:
                latest = ray.get(reading)
            except RayError:
                kill([self._board])
                self._board = None
                return None
            for ref, ticket in tickets.items():
                count = latest.get(ticket)
                if count is not None and count != counts.get(ref) and ref in heard:
                    bound.observe(now - heard[ref])
                    counts[ref], heard[ref] = count, now
        return self._board.read.remote(list(tickets.values()))

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
            return self._replace(actor, assignment, pool, idle, queue, f"died ({death_reason(error)})")
        idle.append(actor)
        return Outcome(assignment.item, result, attempts=assignment.attempts)

    def _replace(self, actor, assignment: _Assignment, pool: list, idle: list, queue: deque, what: str) -> Outcome | None:
        """Kill ``actor`` (``what`` happened to it), start another in its place; its item
        goes out again, or ends as a crash after max_attempts."""
        kill([actor])
        replacement = start_worker(self.gpus_per_worker)
        pool[pool.index(actor)] = replacement
        idle.append(replacement)
        if assignment.attempts < self.max_attempts:
            queue.appendleft(assignment)
            return None
        crash = f"Ray worker {what} on each of {assignment.attempts} attempts"
        return Outcome(assignment.item, None, crash=crash, attempts=assignment.attempts)


def _wait_all(refs: list) -> None:
    """Wait for every call, in short waits (for Ctrl-C); the first failure raises at once."""
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=WAIT_SECONDS)
        ray.get(ready)

