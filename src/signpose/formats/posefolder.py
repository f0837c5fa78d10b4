"""A plain folder of ``.pose`` files that signpose did not write: pose-format's own
output, sign-language-datasets' files, a colleague's run without its index.

Clips are named by their path below the folder: ``<split>/<clip>.pose`` as in a run
folder (deeper folders join the clip id with ``/``), or ``<clip>.pose`` directly in the
folder, which is split ``all`` (as signpose names an unsplit video folder). Frames have no
names in such files: they are matched by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from signpose.files import natural_key
from signpose.errors import SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.formats.pose import read_pose_file

UNSPLIT = "all"


@dataclass(frozen=True)
class PoseFolder:
    root: Path
    clips: dict[str, dict[str, Path]]  # split -> clip id -> file, in natural order

    @classmethod
    def open(cls, root: Path) -> "PoseFolder":
        root = Path(root)
        files = sorted(
            (path for path in root.rglob("*.pose") if path.is_file() and not path.name.startswith(".")),
            key=lambda path: tuple(natural_key(part) for part in path.relative_to(root).parts),
        )
        if not files:
            raise SourceError(f"{root}: not a signpose run folder (no index.jsonl) and holds no .pose files")
        clips: dict[str, dict[str, Path]] = {}
        for path in files:
            parts = path.relative_to(root).with_suffix("").parts
            split, clip_id = (parts[0], "/".join(parts[1:])) if len(parts) > 1 else (UNSPLIT, parts[0])
            clips.setdefault(split, {})[clip_id] = path
        return cls(root, clips)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.clips)

    def load(self, split: str, clip_id: str) -> ClipKeypoints:
        """SourceError naming the file when it cannot be read."""
        try:
            return read_pose_file(self.clips[split][clip_id])
        except ValueError as error:
            raise SourceError(str(error)) from error
