"""The ``litert`` estimator (the default): MediaPipe Holistic's six networks, as shipped with
signpose, run by LiteRT (``ai-edge-litert``, XNNPACK, one thread) through signpose's own
graph, on the CPU. Every frame is a function of its own pixels (a fresh graph per frame, as
``--estimator mediapipe --mode frame``). No mediapipe, any numpy, Python 3.10 to 3.14.

Crops are OpenCV 4.x's ``warpPerspective`` (what MediaPipe's CPU graph crops with) with the
graph's own matrices; each goes straight into the network's input tensor, one crop at a
time (batching does not pay on a CPU), and only the outputs the graph reads are copied out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from signpose.errors import EstimatorError
from signpose.estimators.base import Hints, quiet_native_logs

from .holistic.estimator import GraphEstimator
from .holistic.steps import HEATMAP_KERNEL, OUTPUTS, Crops, Graph, heatmap_windows
from .holistic.weights import Network, model_sha256, read_model

INSTALL = "pip install 'ai-edge-litert>=2.3'"
OPENCV = "pip install 'opencv-contrib-python>=4.8,<5'"
f32 = np.float32


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise EstimatorError(f"the litert estimator needs LiteRT ({error}): {INSTALL}") from error
    return Interpreter


def opencv():
    """cv2, if it is OpenCV 4.x: 5.x's warp gives other bytes than the 4.x MediaPipe crops with."""
    try:
        import cv2
    except ImportError as error:
        raise EstimatorError(f"the litert estimator needs OpenCV 4.x ({error}): {OPENCV}") from error
    if int(cv2.__version__.split(".")[0]) != 4:
        raise EstimatorError(f"the litert estimator needs OpenCV 4.x (its crops are MediaPipe's), not {cv2.__version__}: {OPENCV}")
    return cv2


@dataclass
class _Net:
    """One network's interpreter, its input tensor, the outputs copied out, and a buffer
    for the uint8 crop."""

    interpreter: Any
    input: Any  # a function giving a view of the input tensor (held only between invocations)
    outputs: list[int]  # tensor indices, in OUTPUTS order
    shapes: list[tuple[int, ...]]  # per crop: flat, but the pose heatmap's windows
    crop: np.ndarray


def _no_clock() -> float:
    return 0.0


@cache
def _value_table(value_range: tuple[float, float]) -> np.ndarray:
    """uint8 -> float32 as MediaPipe scales a crop (OpenCV's ``convertTo``: a fused
    multiply-add, one rounding), as a table: [1, 256] float32 for ``cv2.LUT``."""
    lo, hi = value_range
    scale, offset = np.float64(f32((hi - lo) / 255.0)), np.float64(f32(lo))
    return (np.arange(256, dtype=np.float64) * scale + offset).astype(f32).reshape(1, 256)


class LiteRTRuntime:
    """steps.Runtime on LiteRT: the frames stay where they are (a list of arrays)."""

    def __init__(self, *, threads: int = 1) -> None:
        Interpreter = _interpreter_class()
        self.cv2 = opencv()
        # One thread per worker for the crops too: as many workers as cores keep them busy,
        # and OpenCV's own pool would only contend with them.
        self.cv2.setNumThreads(1)
        self.nets: dict[Network, _Net] = {}
        # seconds per crop and network (crop_<network>, net_<network>) while ``profile`` is set (the bench)
        self.profile = False
        self.timings: dict[str, float] = {}
        with quiet_native_logs():  # "Created TensorFlow Lite XNNPACK delegate", once per network
            for network in Network:
                interpreter = Interpreter(model_content=read_model(network), num_threads=threads)
                interpreter.allocate_tensors()
                self.nets[network] = self._net(network, interpreter)

    @staticmethod
    def _net(network: Network, interpreter) -> _Net:
        (inp,) = interpreter.get_input_details()
        details = interpreter.get_output_details()
        chosen = [details[i] for i in OUTPUTS[network]]
        shapes = [(int(np.prod(d["shape"][1:])),) for d in chosen]
        if network is Network.POSE_LANDMARK:  # the heatmap [64, 64, 39] comes out as windows
            shapes[2] = (int(chosen[2]["shape"][-1]), HEATMAP_KERNEL, HEATMAP_KERNEL)
        _, h, w, c = (int(v) for v in inp["shape"])
        return _Net(interpreter, interpreter.tensor(inp["index"]), [d["index"] for d in chosen], shapes, np.zeros((h, w, c), np.uint8))

    def frames(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return images

    def run(self, network: Network, frames: list[np.ndarray], crops: Crops) -> list[np.ndarray]:
        cv2 = self.cv2
        net = self.nets[network]
        outs = [np.zeros((len(crops), *shape), f32) for shape in net.shapes]
        lut = _value_table(crops.value_range)
        border = cv2.BORDER_REPLICATE if crops.border == "replicate" else cv2.BORDER_CONSTANT
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        size = (crops.size, crops.size)
        interpreter = net.interpreter
        crop_s = invoke_s = 0.0
        clock = time.perf_counter if self.profile else _no_clock
        for k in np.flatnonzero(crops.valid):
            t0 = clock()
            cv2.warpPerspective(frames[crops.frames[k]], crops.matrices[k], size, dst=net.crop, flags=flags,
                                borderMode=border, borderValue=0)
            tensor = net.input()  # a view: released before invoke, which refuses to run while one is held
            cv2.LUT(net.crop, lut, dst=tensor[0])
            del tensor
            t1 = clock()
            interpreter.invoke()
            invoke_s += clock() - t1
            crop_s += t1 - t0
            for out, index in zip(outs, net.outputs):
                if out.ndim == 4:  # the pose heatmap windows
                    heat = interpreter.tensor(index)()
                    out[k] = heatmap_windows(outs[0][k], heat[0])
                    del heat
                else:
                    out[k] = interpreter.get_tensor(index).reshape(-1)
        if self.profile:
            for key, seconds in (("crop_" + network.value, crop_s), ("net_" + network.value, invoke_s)):
                self.timings[key] = self.timings.get(key, 0.0) + seconds
        return outs


class LiteRTHolistic(GraphEstimator):
    """Holistic on LiteRT, one thread: a worker per core is the way to use a machine."""

    name = "litert"
    batch_size = 16  # frames through the graph at a time: the geometry is array work over them
    # one thread per worker: as many workers as cores; a worker's peak RSS is ~0.2 GB
    hints = Hints(preload=("ai_edge_litert.interpreter", "cv2"), workers_per_core=1.0, worker_memory=300 * 2**20)

    def _build(self) -> Graph:
        return Graph(LiteRTRuntime(), self.min_detection_confidence, self.min_tracking_confidence)

    def provenance(self) -> dict[str, Any]:
        from importlib import metadata

        return {
            "runtime": "litert",
            "litert_version": metadata.version("ai-edge-litert"),
            "opencv_version": opencv().__version__,
            "numpy_version": np.__version__,
            "threads": 1,
            "graph": "signpose's MediaPipe Holistic 0.10.21 graph, static image mode, a fresh graph per frame",
            "model_sha256": model_sha256(),
        }
