"""The graph's networks in PyTorch (``steps.Runtime``), batched, on a GPU or the CPU.

A batch's frames go to the device once (pinned and asynchronous on a GPU); every crop is
OpenCV 4.x's fixed-point warp emulated on the device (warp.py) with the graph's own
matrices, scaled as MediaPipe does (one rounding); every network runs on chunks of exactly
``net_batch`` crops (zero-padded), so a crop's bits do not depend on which crops share its
batch; a network's outputs, the pose heatmap reduced to each landmark's window, come back
to the host in one copy: one synchronisation per network, six per batch at most.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from signpose.estimators.holistic.steps import HEATMAP_KERNEL, OUTPUTS, Crops
from signpose.estimators.holistic.weights import Network, read_model

from . import net as N
from . import warp

# Set before CUDA starts (cuBLAS reads it when its first handle is made): without it
# cuBLAS may pick non-deterministic reductions, which use_deterministic_algorithms refuses.
CUBLAS_WORKSPACE = ":4096:8"


def prepare_determinism() -> None:
    """Call before anything touches CUDA (the estimator does, as it is built)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


@contextlib.contextmanager
def strict_numerics() -> Iterator[None]:
    """fp32, no TF32, deterministic kernels (a non-deterministic one is an error), no
    filling of uninitialised memory (every value is written before it is read), restored on exit."""
    import torch.utils.deterministic as deterministic

    backends = torch.backends
    prev = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, backends.cudnn.benchmark,
            backends.cudnn.deterministic, torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(), deterministic.fill_uninitialized_memory)
    backends.cuda.matmul.allow_tf32 = False
    backends.cudnn.allow_tf32 = False
    backends.cudnn.benchmark = False
    backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)
    deterministic.fill_uninitialized_memory = False
    try:
        with torch.inference_mode():
            yield
    finally:
        (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, backends.cudnn.benchmark,
         backends.cudnn.deterministic) = prev[:4]
        torch.use_deterministic_algorithms(prev[4], warn_only=prev[5])
        deterministic.fill_uninitialized_memory = prev[6]


@dataclass(frozen=True)
class Frames:
    """A batch's frames on the device: uint8 [N, Hmax, Wmax, 3], each top-left, and their sizes."""

    images: torch.Tensor
    sizes: torch.Tensor


# outputs each network computes (the others are left out of the network)
_SKIP = {Network.POSE_LANDMARK: (2,), Network.HAND_LANDMARK: (2, 3)}


class TorchRuntime:
    """steps.Runtime on PyTorch. ``syncs`` counts the copies back to the host (the bench reports it)."""

    def __init__(self, *, device: str = "cpu", net_batch: int | None = None) -> None:
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        # On the CPU, chunks of >= 16 also make PyTorch always pick oneDNN convolutions, so
        # the bits do not depend on the number of threads either.
        self.net_batch = int(net_batch or (64 if cuda else 16))
        self.nets = {network: N.TFLiteNet(N.load_program(read_model(network), network.value), _SKIP.get(network, ())).to(self.device).eval()
                     for network in Network}  # fmt: skip
        self.syncs = 0
        # Seconds per crop and network (crop_<network>, net_<network>), kept while ``profile``
        # is set (the bench): the clock then waits for the device after each, which a run should not.
        self.profile = False
        self.timings: dict[str, float] = {}

    def _tick(self, name: str, t0: float) -> float:
        if self.profile:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            now = time.perf_counter()
            self.timings[name] = self.timings.get(name, 0.0) + now - t0
            return now
        return t0

    def frames(self, images: list[np.ndarray]) -> Frames:
        shapes = {im.shape for im in images}
        if len(shapes) == 1:
            pad = torch.from_numpy(np.stack(images))
        else:  # frames of different sizes share a batch: each top-left in a padded array
            pad = torch.zeros((len(images), max(s[0] for s in shapes), max(s[1] for s in shapes), 3), dtype=torch.uint8)
            for k, im in enumerate(images):
                pad[k, : im.shape[0], : im.shape[1]] = torch.from_numpy(im)
        sizes = torch.tensor([im.shape[:2] for im in images], dtype=torch.int64)
        if self.device.type == "cuda":
            pad, sizes = pad.pin_memory(), sizes.pin_memory()
        return Frames(pad.to(self.device, non_blocking=True), sizes.to(self.device, non_blocking=True))

    def _crop(self, frames: Frames, crops: Crops, index: slice) -> torch.Tensor:
        lo, hi = crops.value_range
        index_t = torch.from_numpy(crops.frames[index])
        mats = torch.from_numpy(crops.matrices[index])
        border = warp.BORDER_REPLICATE if crops.border == "replicate" else warp.BORDER_ZERO
        u8 = warp.warp_batch(frames.images, frames.sizes, index_t, mats, crops.size, crops.size, border)
        # u8 * scale + offset rounded once, as OpenCV's convertTo (a fused multiply-add)
        scale, offset = float(np.float32((hi - lo) / 255.0)), float(np.float32(lo))
        return (u8.to(torch.float64) * scale + offset).to(torch.float32).permute(0, 3, 1, 2)

    def run(self, network: Network, frames: Frames, crops: Crops) -> list[np.ndarray]:
        K, nb = len(crops), self.net_batch
        net = self.nets[network]
        outs: list[list[torch.Tensor]] = []
        t0 = time.perf_counter()
        for start in range(0, K, nb):
            x = self._crop(frames, crops, slice(start, start + nb))
            t0 = self._tick("crop_" + network.value, t0)
            n = x.shape[0]
            if n < nb:
                x = torch.cat([x, x.new_zeros((nb - n, *x.shape[1:]))])
            results = net(x.contiguous())
            chosen = [results[i][:n] for i in OUTPUTS[network]]
            if network is Network.POSE_LANDMARK:  # the heatmap [n, 64, 64, 39]: only its windows
                chosen[2] = heatmap_windows(chosen[0], chosen[2])
            outs.append([c.reshape(n, -1).float() for c in chosen])
            t0 = self._tick("net_" + network.value, t0)
        widths = [o.shape[1] for o in outs[0]]
        flat = torch.cat([torch.cat(parts, 1) for parts in outs]) if len(outs) > 1 else torch.cat(outs[0], 1)
        host = flat.cpu().numpy()  # the one copy back
        self.syncs += 1
        self._tick("net_" + network.value, t0)
        split = np.split(host, np.cumsum(widths)[:-1], axis=1)
        if network is Network.POSE_LANDMARK:
            split[2] = split[2].reshape(K, -1, HEATMAP_KERNEL, HEATMAP_KERNEL)
        return split


def heatmap_windows(landmarks: torch.Tensor, heat: torch.Tensor, kernel: int = HEATMAP_KERNEL) -> torch.Tensor:
    """steps.heatmap_windows for [K] crops where the heatmaps are: [K, n, kernel, kernel]."""
    K, hh, hw, n = heat.shape
    lm = landmarks.reshape(K, n, -1)
    offsets = torch.arange(-(kernel // 2), kernel // 2 + 1, device=heat.device)
    scale = float(hw) / 256.0  # exact: powers of two, as steps.heatmap_cells
    col = torch.trunc(lm[:, :, 0] * scale).to(torch.int64)
    row = torch.trunc(lm[:, :, 1] * scale).to(torch.int64)
    cols = torch.clamp(col[..., None] + offsets, 0, hw - 1)
    rows = torch.clamp(row[..., None] + offsets, 0, hh - 1)
    frame = torch.arange(K, device=heat.device).view(K, 1, 1, 1)
    part = torch.arange(n, device=heat.device).view(1, n, 1, 1)
    flat = ((frame * hh + rows[:, :, :, None]) * hw + cols[:, :, None, :]) * n + part
    return heat.reshape(-1)[flat]
