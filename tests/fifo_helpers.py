"""Reading FIFOs in tests without hanging the test run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest


def finishes(call, fifo: Path, seconds: float = 20.0):
    """``call()``'s result; fails the test if it blocks on ``fifo`` (then unblocks it by
    opening the FIFO's other end, so no thread is left hanging)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the test below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the reader gets EOF and returns
        thread.join(seconds)
        pytest.fail(f"reading the FIFO {fifo} blocked for {seconds} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")
