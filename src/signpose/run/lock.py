"""One run per output folder: an exclusive lock held for a whole run."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from signpose.errors import RunBusyError, StoreError
from signpose.run.guard import describe_output_error
from signpose.run.names import LOCK


def check_output_folder(root: Path) -> None:
    """One clear StoreError for an output path that cannot be a run folder: a file, a
    dangling symbolic link, or a path under a file."""
    if root.is_symlink() and not root.exists():
        raise StoreError(f"{root}: output path is a symbolic link to {os.readlink(root)}, which does not exist")
    if root.exists():
        if not root.is_dir():
            raise StoreError(f"{root}: output path exists and is not a folder")
        return
    for parent in root.parents:
        if parent.is_symlink() and not parent.exists():
            raise StoreError(
                f"{root}: cannot create the output folder: {parent} is a symbolic link to {os.readlink(parent)}, which does not exist"
            )
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"{root}: cannot create the output folder: Not a directory ({parent} is a file, not a folder)")
            return


class RunLock:
    """An exclusive ``flock`` on ``<root>/.lock``, held for a whole run, so two runs never
    write into one folder. The file holds who holds it (text, for the message only: a lock
    of a dead process is released by the kernel, so it never blocks). Taking the lock
    creates the output folder; releasing it removes the lock file, and the folders it
    created if nothing was written into them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK
        self._fd: int | None = None
        self._created: list[Path] = []
        self._depth = 0

    def acquire(self) -> "RunLock":
        check_output_folder(self.root)
        try:
            self._make_folders()
            for _ in range(100):
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    raise RunBusyError(
                        f"{self.root}: is in use by {holder or 'another signpose run'}; wait for it to end, or use another output folder"
                    ) from None
                except BaseException:
                    os.close(fd)
                    raise
                # The holder before us may have removed the file meanwhile: lock the file the name holds.
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
            else:
                raise StoreError(f"{self.root}: cannot take the run lock {self.path}")
            self._fd = fd
            text = f"signpose pid {os.getpid()} on host {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.encode("utf-8"), 0)
        except OSError as error:
            self._close(remove=self._fd is not None)
            raise StoreError(describe_output_error(error, self.root)) from error
        except BaseException:
            self._close(remove=self._fd is not None)
            raise
        return self

    def _make_folders(self) -> None:
        missing = []
        for folder in (self.root, *self.root.parents):
            if folder.exists():
                break
            missing.append(folder)
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:  # made meanwhile by another process: not ours to remove
                if folder.is_dir():
                    continue
                raise
            self._created.append(folder)

    def _close(self, remove: bool) -> None:
        if self._fd is not None:
            if remove:
                try:
                    self.path.unlink(missing_ok=True)  # still ours: we hold the lock on it
                except OSError:
                    pass
            os.close(self._fd)
            self._fd = None
        for folder in reversed(self._created):
            try:
                folder.rmdir()  # only if empty: nothing was written
            except OSError:
                break
        self._created = []

    def release(self) -> None:
        self._close(remove=True)


@contextmanager
def run_lock(root: Path) -> Iterator[RunLock]:
    """Hold the run lock of ``root`` for the block."""
    lock = RunLock(Path(root)).acquire()
    try:
        yield lock
    finally:
        lock.release()
