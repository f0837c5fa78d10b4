"""Before any work: does everything the GPU check needs import here, together, and work?
numpy, OpenCV and torch in one process (a PNG encoded and decoded by OpenCV, through numpy,
to the device and back: an OpenCV or torch built against another numpy fails here, not
minutes later), CUDA where the check runs on it, and what signpose imports (pose-format,
PyAV, Pillow, tqdm, LiteRT, signpose itself with its weights, the fidelity tests' helpers). A missing piece is one line
on stderr and exit 2; else one JSON line with the versions.

    python -m bench.gpu.preflight --device cuda|cpu
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys

# what the check imports, and where each comes from when it is missing
NEEDED = {
    "numpy": "the GPU server's own",
    "cv2": "the GPU server's opencv-python-headless",
    "torch": "the GPU server's own (PyTorch with CUDA)",
    "pose_format": "the pack: bash bench/gpu/pack.sh",
    "av": "the pack (PyAV): bash bench/gpu/pack.sh",
    "PIL": "the GPU server's Pillow (matplotlib's)",
    "tqdm": "the pack: bash bench/gpu/pack.sh",
    "ai_edge_litert.interpreter": "the pack (ai-edge-litert): bash bench/gpu/pack.sh",
    "signpose": "the checkout's src/ on PYTHONPATH",
    "tests.estimators.faithful": "the checkout's tests/ (the MediaPipe comparison's), with pytest: the server's or the pack's",
}


def fail(message: str) -> None:
    print(f"bench/gpu/check.sh: {message}", file=sys.stderr)
    raise SystemExit(2)


def check(device: str) -> dict:
    modules = {}
    for name, where in NEEDED.items():
        try:
            modules[name] = importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - an import fails in many ways (ImportError, numpy ABI errors)
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            fail(f"cannot import {name} ({type(error).__name__}: {first}); it comes from {where}")
    np, cv2, torch = modules["numpy"], modules["cv2"], modules["torch"]
    try:
        image = (np.arange(260 * 210 * 3) % 251).astype(np.uint8).reshape(260, 210, 3)
        ok, png = cv2.imencode(".png", image)
        back = cv2.imdecode(png, cv2.IMREAD_COLOR)
        where = torch.device(device)
        if where.type == "cuda" and not torch.cuda.is_available():
            fail(f"DEVICE={device}: torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda})")
        round_trip = torch.from_numpy(back).to(where).cpu().numpy()
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - numpy, OpenCV and torch do not work together here
        fail(f"numpy {np.__version__}, OpenCV {cv2.__version__} and torch {torch.__version__} do not work together:"
             f" {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}")
    if not (ok and np.array_equal(round_trip, image)):
        fail(f"a PNG through OpenCV {cv2.__version__}, numpy {np.__version__} and torch on {device} came back changed")
    try:
        from signpose.estimators.holistic.weights import Network, read_model

        weights = [read_model(network) for network in Network]  # every shipped network, checked by its sha256
    except Exception as error:  # noqa: BLE001 - a weight missing or changed: the message names the file
        fail(f"signpose's weights: {error}")
    opencv4 = cv2.__version__.split(".")[0] == "4"
    return {
        "python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__, "torch": torch.__version__,
        "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(where) if where.type == "cuda" else None,
        "cores": len(os.sched_getaffinity(0)), "pose_format": _version("pose-format"), "av": modules["av"].__version__,
        "ai_edge_litert": _version("ai-edge-litert"), "networks": len(weights),
        # the litert estimator's crops are OpenCV 4.x's: with 5.x it refuses, and the check says so instead of comparing
        "litert_runs": opencv4,
    }  # fmt: skip


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # on PYTHONPATH without its metadata
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    print(json.dumps(check(args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
