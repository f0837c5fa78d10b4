"""signpose's own command line, with the tests' toy estimator selectable as
``--estimator tests.toy_cli:Toy``: real ``signpose`` processes (driver, spawned workers,
real files) without MediaPipe's start-up and per-frame cost. ``TOY_FRAME_SECONDS`` in the
environment makes every frame take that long; while the file ``TOY_HOLD`` names exists, no
frame is estimated (the test holds the run where it wants it, however loaded the machine).

    python -m tests.toy_cli extract DATASET -o OUT --estimator tests.toy_cli:Toy ...
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from signpose.estimators import REGISTRY
from tests.conftest import REPO, signals_as_in_a_terminal
from tests.estimators.toy import ToyEstimator

NAME = "tests.toy_cli:Toy"
HOLD_SECONDS = 600  # a test that never lets go fails (its run ends) rather than hangs


class Toy(ToyEstimator):
    """The toy estimator, taking (and ignoring) MediaPipe's options as the CLI passes them."""

    def __init__(self, **options) -> None:
        super().__init__()
        self.delay = float(os.environ.get("TOY_FRAME_SECONDS", "0"))
        self.hold = Path(os.environ["TOY_HOLD"]) if os.environ.get("TOY_HOLD") else None

    def estimate_clip(self, frames: Iterable, fps: float):
        def slow():
            for frame in frames:
                deadline = time.monotonic() + HOLD_SECONDS
                while self.hold is not None and self.hold.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(self.delay)
                yield frame

        return super().estimate_clip(slow(), fps)


REGISTRY.setdefault(NAME, NAME)  # an import path: workers load it by name


def toy_command(*args: object) -> list[str]:
    """argv of a toy signpose; ``extract`` gets ``--estimator`` added."""
    args = [str(arg) for arg in args]
    extra = ["--estimator", NAME] if args[:1] == ["extract"] else []
    return [sys.executable, "-m", "tests.toy_cli", *args, *extra]


def toy_signpose(*args: object, delay: float = 0.0, timeout: float = 300) -> subprocess.CompletedProcess:
    env = os.environ | {"TOY_FRAME_SECONDS": str(delay)}
    return subprocess.run(toy_command(*args), capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def start_toy_signpose(*args: object, delay: float = 0.0, hold: Path | None = None) -> subprocess.Popen:
    """In its own session (process group), as a terminal would run it (its signals at their
    defaults: see signals_as_in_a_terminal). While the file ``hold`` exists, no frame is
    estimated."""
    env = os.environ | {"TOY_FRAME_SECONDS": str(delay), "TOY_HOLD": str(hold or "")}
    return subprocess.Popen(
        toy_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env, start_new_session=True,
        preexec_fn=signals_as_in_a_terminal,
    )


def make_toy_dataset(root, clips: int = 3, frames: int = 4, split: str = "train"):
    """A frame-folder dataset ``root/<split>/clip<i>/<f>.png`` of small generated frames."""
    import numpy as np
    from PIL import Image

    for c in range(clips):
        folder = root / split / f"clip{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(frames):
            image = np.full((24, 32, 3), (40 + 30 * (c + f)) % 256, np.uint8)
            image[:, (5 + 6 * f) % 32] = 255
            Image.fromarray(image).save(folder / f"{f:04d}.png")
    return root


if __name__ == "__main__":
    from signpose.cli.main import main

    sys.exit(main())
