"""A worker's ``.pose`` files written on a thread of their own, for an estimator that batches
across clips (the torch one, on a GPU): the thread that feeds the device hands each clip's
keypoints over and goes on, while this thread packs them, writes, fsyncs and renames the file
(``RunStore.write_pose``). A clip's call takes the file's path and checksum once the file is
whole on disk, so nothing is recorded in the index before its file is; an error writing it
(disk full, read-only) is raised in that clip's call, as if it had been written there."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from signpose.formats.pose import to_pose_bytes
from signpose.model.keypoints import ClipKeypoints
from signpose.run.store import RunStore

THREAD_NAME = "signpose-writer"


def write_pose(out_dir: Path, split: str, clip_id: str, keypoints: ClipKeypoints) -> tuple[str, str]:
    """One clip's .pose, written now: its path relative to the run and its sha256."""
    return RunStore(out_dir).write_pose(split, clip_id, to_pose_bytes(keypoints))


class PoseWriter:
    """Clips' .pose files, written in the order given on one thread (started on first use)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._thread: ThreadPoolExecutor | None = None
        self._pending: dict[tuple[str, str], Future] = {}

    def submit(self, split: str, clip_id: str, keypoints: ClipKeypoints) -> None:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        self._pending[(split, clip_id)] = self._thread.submit(write_pose, self.out_dir, split, clip_id, keypoints)

    def take(self, split: str, clip_id: str) -> Future | None:
        """The write of a clip submitted earlier (None if none was), handed over once."""
        return self._pending.pop((split, clip_id), None)
