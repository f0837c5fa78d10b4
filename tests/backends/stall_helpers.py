"""Picklable functions for the stall (hung worker) tests; see local_helpers.py for why they
live in an importable module. Cross-process memory is kept in marker files."""

from __future__ import annotations

import os
import time
from pathlib import Path


def announce(markers: Path, name: str) -> None:
    """Write this process's pid to ``markers/name`` so it appears whole."""
    temporary = markers / f"{name}.tmp"
    temporary.write_text(str(os.getpid()))
    temporary.replace(markers / name)


class SlowOn:
    """Items in ``slow`` announce themselves (``started-<item>-<attempt>``) and take
    ``seconds``; the others take ``quick`` seconds. Returns (item, pid)."""

    def __init__(self, markers: Path, slow: tuple[int, ...], seconds: float, quick: float = 0.05) -> None:
        self.markers = Path(markers)
        self.slow = slow
        self.seconds = seconds
        self.quick = quick

    def __call__(self, item: int) -> tuple[int, int]:
        if item in self.slow:
            attempt = 1 + len(list(self.markers.glob(f"started-{item}-*")))
            announce(self.markers, f"started-{item}-{attempt}")
            time.sleep(self.seconds)
        else:
            time.sleep(self.quick)
        return item, os.getpid()


class Hang:
    """Never returns on items in ``doomed`` (counts the attempts in a file); others are quick."""

    def __init__(self, markers: Path, doomed: tuple[int, ...]) -> None:
        self.markers = Path(markers)
        self.doomed = doomed

    def __call__(self, item: int) -> int:
        if item in self.doomed:
            with (self.markers / f"attempts-{item}").open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            time.sleep(3600)
        time.sleep(0.05)
        return item


class Beating:
    """Works ``seconds`` on each item, calling heartbeat() every ``every`` seconds (as the
    pipeline does once per frame); ``beat=False`` does the same work silently."""

    def __init__(self, seconds: float, every: float = 0.05, beat: bool = True) -> None:
        self.seconds = seconds
        self.every = every
        self.beat = beat

    def __call__(self, item: int) -> tuple[int, int]:
        from signpose.backends import heartbeat

        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            time.sleep(self.every)
            if self.beat:
                heartbeat()
        return item, os.getpid()
