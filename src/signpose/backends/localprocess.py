"""The driver's handle on one worker process of the local backend: its pipe, its heartbeat
counter, the items it holds, and how it is stopped.

A worker forked by a fork server learns nothing of the fork server's death, but the driver
does: multiprocessing reads a worker's exit status from the fork server, and with the fork
server gone it reports every worker it forked as ended (exit code 255) although they still
run. Such a worker is ``orphaned``: its end of the pipe is still open (a process that has
ended has closed it), so the driver knows it runs, and can still signal it by its pid
(no other process can hold that pid while the pipe is open).
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any

from signpose.backends.base import WorkerFunction
from signpose.backends.localworker import Setting, start_process
from signpose.backends.retry import Attempt

STOP_TIMEOUT_SECONDS = 5.0


def describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerProcess:
    """One worker process, started at once (from the fork server, or spawned where that
    fails), seeing only ``gpu`` (its CUDA_VISIBLE_DEVICES) when one is given."""

    def __init__(self, context, fn: WorkerFunction, gpu: str | None) -> None:
        self.connection, child = context.Pipe()
        self.counter = context.RawValue("Q", 0)  # heartbeats: written by the worker only
        setting = Setting.of_driver({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})
        try:
            self.process, self.forked = start_process(context, (child, fn, self.counter, setting))
        except BaseException:
            self.connection.close()
            raise
        finally:
            child.close()
        self.gpu = gpu
        self.held: deque[Attempt] = deque()  # the first is in progress, the rest wait in the worker
        self.retired = False
        self.ended = False  # its pipe ended: the process is gone
        self.beats = 0  # the counter when last read
        self.heard = 0.0  # time.monotonic() of the last sign of life while busy

    @property
    def busy(self) -> bool:
        return bool(self.held)

    def give(self, attempt: Attempt) -> None:
        if not self.held:
            self.beats = self.counter.value
            self.heard = time.monotonic()
        self.held.append(attempt)
        try:
            self.connection.send(attempt.item)
        except OSError:
            pass  # it died: its sentinel fires and the items go out again

    def receive(self) -> tuple[Attempt, Any] | None:
        """The item in progress and its result; None when the pipe ended (it died)."""
        try:
            result = self.connection.recv()
        except (EOFError, OSError):
            self.ended = True
            return None
        attempt = self.held.popleft()
        # The next item starts now: its silence is measured from here.
        self.beats, self.heard = self.counter.value, time.monotonic()
        return attempt, result

    def pending(self) -> bool:
        """A message, or the end of the pipe, is waiting to be read."""
        return not self.ended and not self.connection.closed and self.connection.poll()

    def orphaned(self) -> bool:
        """Reported ended, yet its pipe is open and empty: its fork server died, it did not."""
        return self.forked and not self.ended and self.process.exitcode is not None and not self.connection.closed \
            and not self.connection.poll()  # fmt: skip

    def signal(self, number: int) -> None:
        """Send signal ``number`` while the process may run; nothing once it is gone."""
        if self.process.exitcode is None or self.orphaned():
            try:
                os.kill(self.process.pid, number)
            except (OSError, TypeError):  # already gone (or never started)
                pass

    def kill(self) -> None:
        self.signal(signal.SIGKILL)  # works on a stopped process too

    def retire(self) -> None:
        """Ask an idle worker to exit; it tears its model down while others still work."""
        self.retired = True
        self.stop()

    def stop(self) -> None:
        if self.held:
            # Mid-item: do not wait for it. The store drops the temporary file it leaves.
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)  # a stopped worker acts on SIGTERM only once continued
        else:
            try:
                self.connection.send(None)
            except OSError:
                pass

    def join(self) -> None:
        self.process.join(STOP_TIMEOUT_SECONDS)
        if self.orphaned():  # not ours to reap: wait for the end of its pipe instead
            wait([self.connection], STOP_TIMEOUT_SECONDS)
            if self.orphaned():
                self.kill()
                wait([self.connection], STOP_TIMEOUT_SECONDS)
        elif self.process.is_alive():
            self.kill()
            self.process.join()
        self.connection.close()
