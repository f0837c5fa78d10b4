"""The torch estimator is deterministic for real, and set up for a worker: cuBLAS's workspace
is fixed when the estimator is built, before anything starts CUDA (cuBLAS reads it once, as
its first handle is made); under strict numerics a non-deterministic kernel raises (it does
not warn), TF32 is off, uninitialised memory is not filled, and all of it is restored after;
building its graph leaves OpenCV one thread (the worker's decode threads are the pool).
Each process-wide setting is checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from signpose.estimators.torch_holistic.runtime import CUBLAS_WORKSPACE, strict_numerics  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def _fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter (without CUBLAS_WORKSPACE_CONFIG unless given); it
    prints one JSON line."""
    environ = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"} | env
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cublas_workspace_is_set_when_the_estimator_is_built_before_cuda_starts() -> None:
    seen = _fresh(
        "import json, os, sys\n"
        "from signpose.estimators.torch_holistic.estimator import TorchHolisticEstimator\n"
        "before = os.environ.get('CUBLAS_WORKSPACE_CONFIG'), 'torch' in sys.modules\n"
        "TorchHolisticEstimator(device='cpu')\n"
        "import torch\n"
        "print(json.dumps({'before': before, 'after': os.environ.get('CUBLAS_WORKSPACE_CONFIG'),"
        " 'cuda_started': torch.cuda.is_initialized()}))"
    )
    # the module alone imports no torch and sets nothing; building the estimator sets it, and CUDA is not started yet
    assert seen == {"before": [None, False], "after": CUBLAS_WORKSPACE, "cuda_started": False}
    assert CUBLAS_WORKSPACE == ":4096:8"


def test_a_workspace_the_user_set_is_kept() -> None:
    seen = _fresh(
        "import json, os\n"
        "from signpose.estimators.torch_holistic.estimator import TorchHolisticEstimator\n"
        "TorchHolisticEstimator(device='cpu')\n"
        "print(json.dumps(os.environ['CUBLAS_WORKSPACE_CONFIG']))",
        CUBLAS_WORKSPACE_CONFIG=":16:8",
    )
    assert seen == ":16:8"  # the other deterministic setting cuBLAS documents


def test_strict_numerics_raise_on_non_deterministic_kernels_and_skip_the_fill() -> None:
    import torch.utils.deterministic as deterministic

    before = (torch.are_deterministic_algorithms_enabled(), deterministic.fill_uninitialized_memory,
              torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)  # fmt: skip
    with strict_numerics():
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()  # an error, not a warning
        assert deterministic.fill_uninitialized_memory is False  # every value is written before it is read
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert torch.is_inference_mode_enabled()
        with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
            torch.zeros(4).put_(torch.tensor([0, 0]), torch.ones(2))  # no deterministic put_ without accumulation
    after = (torch.are_deterministic_algorithms_enabled(), deterministic.fill_uninitialized_memory,
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)  # fmt: skip
    assert after == before


def test_a_non_deterministic_kernel_in_the_estimator_s_own_call_is_an_error() -> None:
    """The estimator's landmarks run under strict numerics: the same kernel, reached from
    inside its call (its graph's pose detector, swapped for one that uses it), raises."""
    import numpy as np

    from signpose.estimators.holistic.weights import Network
    from signpose.estimators.torch_holistic.estimator import TorchHolisticEstimator

    estimator = TorchHolisticEstimator(device="cpu", batch_size=1)
    runtime = estimator.graph.runtime
    real = runtime.nets[Network.POSE_DETECTION]

    class Scatter(torch.nn.Module):  # a real network with one non-deterministic op after it
        def forward(self, x):
            outputs = real(x)
            torch.zeros(4).put_(torch.tensor([0, 0]), torch.ones(2))
            return outputs

    runtime.nets[Network.POSE_DETECTION] = Scatter()
    with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
        estimator.estimate_clip([np.zeros((260, 210, 3), np.uint8)], 25.0)
    runtime.nets[Network.POSE_DETECTION] = real
    assert estimator.estimate_clip([np.zeros((260, 210, 3), np.uint8)], 25.0).num_frames == 1


def test_building_the_graph_leaves_opencv_one_thread_and_torch_its_own() -> None:
    seen = _fresh(
        "import json, cv2, torch\n"
        "from signpose.estimators.torch_holistic.estimator import TorchHolisticEstimator\n"
        "before = cv2.getNumThreads(), torch.get_num_threads()\n"
        "TorchHolisticEstimator(device='cpu').load()\n"
        "print(json.dumps({'before': before, 'after': [cv2.getNumThreads(), torch.get_num_threads()]}))"
    )
    assert seen["after"] == [1, seen["before"][1]]
