"""A PyTorch dataset of clips over anything ``inputs.open_input`` opens (a run folder, a
folder of .pose files, a Parquet export): one item per clip, its keypoints as
pose-format's masked tensor and its labels, batched by pose-format's zero_pad_collator::

    from torch.utils.data import DataLoader
    from pose_format.torch.masked.collator import zero_pad_collator
    from signpose.tools.torch_dataset import ClipDataset

    clips = ClipDataset("runs/phoenix-t", split="train", normalize=True)
    loader = DataLoader(clips, batch_size=8, shuffle=True, num_workers=2, collate_fn=zero_pad_collator)

An item is a dict: ``pose`` a ``MaskedTensor`` [frames, 1, points, 3] float32 (pose-format's
body layout: frames, people, points, x/y/z; its mask True where the point's confidence is
above 0, as ``TorchPoseBody`` masks), ``confidence`` [frames, 1, points], ``present``
[frames, parts] bool, ``length`` (frames), ``split``, ``clip_id``, ``signer``, ``gloss``,
``translation`` (strings, '' where the dataset has none). Coordinates as the exports give
them: image parts x / width, y / height, world parts in metres. ``normalize=True`` instead
applies pose-format's ``Pose.normalize`` to the image parts in pixels: the clip is moved so
the midpoint of its shoulders (the mean over its frames) is at 0 and scaled so their mean
distance is 1; world parts stay in metres. Padded frames are zeros with a False mask.

torch is imported only when a dataset is made (``pip install torch``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signpose.errors import DependencyError, SourceError
from signpose.model.keypoints import ClipKeypoints
from signpose.tools.inputs import Input, InputClip, open_input, trusted

INSTALL = "pip install torch"


def _torch() -> tuple[Any, Any]:
    """``(torch, MaskedTensor)``, or DependencyError with the install command."""
    try:
        import torch
        from pose_format.torch.masked import MaskedTensor
    except ImportError as error:
        raise DependencyError(f"the PyTorch dataset needs torch, which is not installed ({error}): {INSTALL}") from error
    return torch, MaskedTensor


def normalized(keypoints: ClipKeypoints) -> tuple[np.ndarray, np.ndarray]:
    """Points [frames, points, 3] float32 with the image parts normalised by shoulder width
    (pose-format's ``Pose.normalize`` on the pixels), and where they are valid."""
    from pose_format.utils.generic import pose_normalization_info

    from signpose.formats.pose import to_pose

    image = [part.component for part in keypoints.layout if part.space == "image"]
    pose = to_pose(keypoints).get_components(image)
    try:
        info = pose_normalization_info(pose.header)
    except (NotImplementedError, ValueError, KeyError) as error:  # no body with shoulders in this layout
        raise SourceError(f"normalize needs the body's shoulders; layout {keypoints.layout.describe()} has none ({error})") from error
    data = pose.normalize(info).body.data[:, 0]  # masked where confidence is 0
    points = keypoints.points.copy()
    valid = keypoints.confidence > 0
    where = np.concatenate([np.arange(keypoints.layout.total)[keypoints.layout.slices[p.name]] for p in keypoints.layout if p.space == "image"])
    points[:, where] = np.ma.filled(data, 0).astype(np.float32)
    valid[:, where] &= ~np.ma.getmaskarray(data).any(axis=2)  # a clip without shoulders: nothing is valid
    points[~valid] = 0
    return points, valid


class ClipDataset:
    """Map-style dataset (``len`` and ``[i]``) of the ok clips of ``path``'s chosen split(s).
    Each worker process opens the input for itself; items hold one clip."""

    def __init__(self, path: Path | str, *, split: str | None = None, splits: Sequence[str] | None = None, normalize: bool = False) -> None:
        _torch()
        self.path, self.normalize = Path(path), normalize
        source = open_input(self.path)
        chosen = source.select([split] if split is not None else splits)
        self.clips: tuple[InputClip, ...] = tuple(clip for name in chosen for clip in source.clips(name) if clip.ok)
        self._source: tuple[int, Input] | None = (os.getpid(), source)

    def __len__(self) -> int:
        return len(self.clips)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_source": None}  # a worker opens the input anew

    def _opened(self) -> Input:
        if self._source is None or self._source[0] != os.getpid():  # forked: file handles are not shared
            self._source = (os.getpid(), open_input(self.path))
        return self._source[1]

    def __getitem__(self, index: int) -> dict[str, Any]:
        torch, MaskedTensor = _torch()
        clip = self.clips[index]
        keypoints = trusted(self._opened(), clip)
        if self.normalize:
            points, valid = normalized(keypoints)
        else:
            points, valid = keypoints.points, keypoints.confidence > 0
        data = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))[:, None]
        mask = torch.from_numpy(np.ascontiguousarray(valid))[:, None, :, None].expand(data.shape).contiguous()
        record = clip.record
        return {
            "pose": MaskedTensor(data, mask),
            "confidence": torch.from_numpy(np.ascontiguousarray(keypoints.confidence, dtype=np.float32))[:, None],
            "present": torch.from_numpy(np.ascontiguousarray(keypoints.present)),
            "length": keypoints.num_frames,
            "split": clip.split, "clip_id": clip.clip_id,
            "signer": record.signer, "gloss": record.gloss, "translation": record.translation,
        }  # fmt: skip
