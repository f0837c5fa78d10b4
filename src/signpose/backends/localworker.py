"""The worker side of the local backend: what runs in each worker process, and how a
worker is set up like a spawned process although it is forked from a fork server."""

from __future__ import annotations

import multiprocessing
import os
import queue as queues
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from signpose.backends import liveness
from signpose.backends.base import WorkerFunction


def _receive_items(connection: Connection, fn: WorkerFunction, inbox: queues.SimpleQueue) -> None:
    while True:
        try:
            item = connection.recv()
        except (EOFError, OSError):  # the driver is gone
            item = None
        if item is not None:
            try:
                fn.prepare(item)
            except Exception:  # noqa: BLE001 - the item's own call meets the problem and reports it
                pass
        inbox.put(item)
        if item is None:
            return


def worker_main(connection: Connection, fn: WorkerFunction, counter: Any, setting: Setting) -> None:
    # Ctrl-C reaches the whole process group; only the driver decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setting.apply()
    liveness.install(counter)
    fn.start()  # before any prepare(): what it builds, preparing uses
    inbox: queues.SimpleQueue = queues.SimpleQueue()
    threading.Thread(target=_receive_items, args=(connection, fn, inbox), name="signpose-inbox", daemon=True).start()
    while True:
        item = inbox.get()
        if item is None:
            return
        liveness.heartbeat()  # item started
        result = fn(item)
        try:
            connection.send(result)
        except OSError:  # the driver no longer listens (it is gone, or gave up on this worker)
            return


def context_for(fn: WorkerFunction):
    """A fork server that has imported ``fn``'s module and ``fn.preload`` once, so each
    worker starts without importing them again; spawn where there is no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the fork server starts (the first pool of this process, or again
    # after it died); later pools reuse it and import what it lacks in each worker.
    context.set_forkserver_preload([type(fn).__module__, *fn.preload])
    return context


def start_process(context, args: tuple) -> tuple[BaseProcess, bool]:
    """A worker process running ``worker_main(*args)``, and whether a fork server forked it.

    A fork server that has just died (SIGKILL, the OOM killer) fails the start with a
    BrokenPipeError, a refused connection or EOFError('unexpected EOF'), until the standard
    library sees it is gone and starts another at a later start: meanwhile this worker is
    spawned instead."""
    process = context.Process(target=worker_main, args=args, daemon=True)
    try:
        process.start()
        return process, context.get_start_method() == "forkserver"
    except (OSError, EOFError):
        if context.get_start_method() != "forkserver":
            raise
    process = multiprocessing.get_context("spawn").Process(target=worker_main, args=args, daemon=True)
    process.start()
    return process, False


class _Fd:
    """A file descriptor of the driver, passed to a worker when it starts."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self):
        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(duplicate) -> int:
    return duplicate.detach()


@dataclass(frozen=True)
class Setting:
    """What a worker takes from the driver as it starts, as a spawned process would
    (a fork server's children would otherwise have the fork server's): environment,
    working folder, standard output and error."""

    environment: Mapping[str, str]
    folder: str
    stdout: Any
    stderr: Any

    @classmethod
    def of_driver(cls, extra: Mapping[str, str]) -> Setting:
        # The process's own descriptors 1 and 2, which a spawned child inherits (sys.stdout
        # may be an object without one).
        return cls(dict(os.environ) | dict(extra), os.getcwd(), _Fd(1), _Fd(2))

    def apply(self) -> None:
        os.environ.clear()
        os.environ.update(self.environment)
        os.chdir(self.folder)
        for fd, target in ((self.stdout, 1), (self.stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
