"""The run's index as a run appends to it: each finished clip's line is written at once and
synced to disk in groups, on a thread, so the driver never waits for the disk between
results. A clip is handed on as done (counted, reported) only once its line is synced: a
crash loses nothing that was reported done, only clips still waiting for their sync, which
a resume does again.

Group commit, as databases do it: every sync covers all the lines written before it
began, however many arrived meanwhile, so there are as many syncs as the disk allows and
never more than one per line.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from signpose.run.record import ClipResult


class IndexJournal:
    """Appends records to ``path`` (the run's index.jsonl) and calls ``on_synced`` with
    each, in order, on the journal's thread, once its line is on disk. Use as a context
    manager: leaving it syncs what is left. An error syncing (or in ``on_synced``) is raised
    by the next ``append`` and by ``close``."""

    def __init__(self, path: Path, on_synced: Callable[[ClipResult], None]) -> None:
        self._on_synced = on_synced
        self._handle = open(path, "ab+", buffering=0)  # noqa: SIM115 - closed in close()
        self._torn = self._ends_torn()
        self._pending: list[ClipResult] = []
        self._closing = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._sync_loop, name="signpose-index-sync", daemon=True)
        self._thread.start()

    def _ends_torn(self) -> bool:
        """After a crash mid-append the file ends in a torn line: the next record starts a
        fresh line, or it would be glued to the fragment and lost with it."""
        if self._handle.seek(0, os.SEEK_END) == 0:
            return False
        self._handle.seek(-1, os.SEEK_END)
        return self._handle.read(1) != b"\n"

    def append(self, result: ClipResult) -> None:
        """Write ``result``'s line now (OSError if that fails); it is synced soon after."""
        self._raise_error()
        line = (json.dumps(result.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        if self._torn:
            line, self._torn = b"\n" + line, False
        self._handle.write(line)
        with self._changed:
            self._pending.append(result)  # after the write: the next sync covers it
            self._changed.notify()

    def _sync_loop(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closing:
                    self._changed.wait()
                group, self._pending = self._pending, []
                if not group and self._closing:
                    return
            try:
                os.fsync(self._handle.fileno())
                for result in group:
                    self._on_synced(result)
            except BaseException as error:  # noqa: BLE001 - handed to the driver's thread
                with self._changed:
                    self._error = self._error or error
                    self._pending.clear()
                    self._closing = True
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join()
        self._handle.close()
        self._raise_error()

    def __enter__(self) -> IndexJournal:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        try:
            self.close()
        except BaseException:
            if error is None:  # never hide the exception that ended the block
                raise
