"""Throughput of the torch estimator, end to end and per stage (the GPU benchmark):

    python -m signpose.estimators.torch_holistic.bench SOURCE [--device cuda|cpu] [--batch 64 256]

SOURCE is a folder of PNG frames (searched recursively: a PHOENIX-2014-T release, or bench's
data) or a video, whose frames are resized to --size (PHOENIX's 210x260 by default) and
PNG-encoded in memory, so both decode real PNGs. --frames of them are read into memory
(cycling), then:

- decode, alone: PNG bytes -> RGB (cv2.imdecode + cvtColor) on --threads threads;
- for each --batch B, after one untimed batch: the end-to-end loop. Batches of B frames are
  decoded on the threads (the next one while the model runs this one), go through
  TorchHolisticEstimator.estimate_clip (one batch = one clip: crops, the six networks and the
  geometry, fp32 as always), and are serialised with signpose.formats.pose.to_pose_bytes (the
  write, without the disk).

A stage's frames/s is the frames over the seconds spent in it: `decode wait` (the model
waiting for frames), the graph's and the runtime's timings (upload, crop/warp, each
network, host geometry; synchronised on CUDA), host-device synchronisations per batch, pack (results -> ClipKeypoints), write, and their host part
together (`host work`: geometry + pack + write, the ceiling of one worker's frames/s
however fast its GPU). Prints a markdown table and
the JSON (also written to --json FILE). `--ops` prints each network's op histogram.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

NETS = ("pose_detection", "pose_landmark", "face_detection", "face_landmark", "hand_recrop", "hand_landmark")


def _png_blobs(source: str, n: int, size) -> tuple[list[bytes], str]:
    """``n`` PNG files' bytes (cycling) and what they are."""
    import cv2

    path = Path(source)
    if path.is_dir():
        files = sorted(path.rglob("*.png"))
        if not files:
            raise SystemExit(f"bench: no .png files under {path}")
        blobs = [file.read_bytes() for file in files[:n]]
        kind = f"{len(files)} PNG files under {path}"
    else:
        capture, blobs = cv2.VideoCapture(str(path)), []
        while len(blobs) < n:
            ok, bgr = capture.read()
            if not ok:
                break
            if size:
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
            blobs.append(cv2.imencode(".png", bgr)[1].tobytes())
        capture.release()
        if not blobs:
            raise SystemExit(f"bench: cannot read frames from {path}")
        kind = f"{len(blobs)} frames of {path}, PNG-encoded"
    return [blobs[i % len(blobs)] for i in range(n)], kind


def _decode(blob: bytes) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit("bench: a PNG could not be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _decode_alone(blobs: list[bytes], pool: ThreadPoolExecutor) -> tuple[float, tuple[int, int]]:
    start = time.perf_counter()
    frames = list(pool.map(_decode, blobs))
    return time.perf_counter() - start, frames[0].shape[:2]


def _end_to_end(estimator, blobs: list[bytes], batch: int, pool: ThreadPoolExecutor) -> dict:
    from signpose.formats.pose import to_pose_bytes

    estimator.batch_size = batch
    graph = estimator.graph
    runtime = graph.runtime
    graph.profile = runtime.profile = True  # per-stage clocks (on a GPU each stage then waits for the device)
    chunks = [blobs[i:i + batch] for i in range(0, len(blobs), batch)]
    estimator.estimate_clip([_decode(blob) for blob in chunks[0]], 25.0)  # warm-up, untimed
    graph.timings.clear()
    runtime.timings.clear()
    syncs = runtime.syncs
    wait = estimate = write = 0.0
    written, found = 0, np.zeros(len(estimator.layout.parts), np.int64)
    start = time.perf_counter()
    pending: list[Future] = [pool.submit(_decode, blob) for blob in chunks[0]]
    for index in range(len(chunks)):
        t0 = time.perf_counter()
        frames = [future.result() for future in pending]
        wait += time.perf_counter() - t0
        if index + 1 < len(chunks):  # decode the next batch while this one runs
            pending = [pool.submit(_decode, blob) for blob in chunks[index + 1]]
        t0 = time.perf_counter()
        keypoints = estimator.estimate_clip(frames, 25.0)
        t1 = time.perf_counter()
        written += len(to_pose_bytes(keypoints))
        estimate, write = estimate + t1 - t0, write + time.perf_counter() - t1
        found += keypoints.present.sum(0)
    seconds = time.perf_counter() - start
    timings = {**graph.timings, **runtime.timings}
    stages = {"decode wait": wait, "upload": timings.get("upload", 0.0),
              "crop/warp": sum(v for k, v in timings.items() if k.startswith("crop_"))}
    stages.update({f"net {name}": timings.get(f"net_{name}", 0.0) for name in NETS})
    stages["geometry (host)"] = sum(v for k, v in timings.items() if k.startswith("host_"))
    stages["pack"] = max(0.0, estimate - sum(timings.values()))
    stages["write (.pose bytes)"] = write
    # what one worker's Python thread does for every frame whatever the device: the ceiling
    # of its frames/s with an infinitely fast GPU and decoders
    host = stages["geometry (host)"] + stages["pack"] + write
    n = len(blobs)
    return {
        "batch": batch, "frames": n, "seconds": round(seconds, 4), "frames_per_s": round(n / seconds, 2),
        "syncs_per_batch": round((runtime.syncs - syncs) / len(chunks), 2),
        "stages_s": {k: round(v, 4) for k, v in stages.items()},
        "stages_frames_per_s": {k: round(n / v, 1) if v > 0 else None for k, v in stages.items()},
        "host_seconds": round(host, 4), "host_frames_per_s": round(n / host, 1) if host > 0 else None,
        "timings_s": {k: round(v, 4) for k, v in sorted(timings.items())},
        "found": {part.name: int(count) for part, count in zip(estimator.layout.parts, found)},
        "pose_bytes": written,
    }


def markdown(report: dict) -> str:
    rows = report["rows"]
    head = "| stage (frames/s) | " + " | ".join(f"batch {row['batch']}" for row in rows) + " |"
    lines = [head, "|---|" + "---:|" * len(rows)]
    lines.append("| **end to end** | " + " | ".join(f"**{row['frames_per_s']:,.1f}**" for row in rows) + " |")
    lines.append("| host-device synchronisations per batch | " + " | ".join(f"{row['syncs_per_batch']:g}" for row in rows) + " |")
    decode = f"{report['decode_frames_per_s']:,.1f}"
    lines.append(f"| decode alone ({report['threads']} threads) | " + " | ".join(decode for _ in rows) + " |")
    for stage in rows[0]["stages_frames_per_s"] if rows else ():
        cells = [row["stages_frames_per_s"][stage] for row in rows]
        lines.append(f"| {stage} | " + " | ".join("-" if c is None else f"{c:,.1f}" for c in cells) + " |")
    cells = ["-" if row["host_frames_per_s"] is None else f"{row['host_frames_per_s']:,.1f}" for row in rows]
    lines.append("| host work: geometry + pack + write (one worker's ceiling) | " + " | ".join(cells) + " |")
    about = (f"{report['frames']} frames of {report['frame_size']} ({report['source']}) on {report['device']}"
             f" ({report['gpu'] or report['cpu_threads']}), fp32, net batch {report['net_batch']}, torch {report['torch']}")
    return about + "\n\n" + "\n".join(lines)


def run(args) -> dict:
    import torch

    from .estimator import TorchHolisticEstimator

    size = None if args.size == "native" else tuple(int(v) for v in args.size.split("x"))
    blobs, source = _png_blobs(args.source, args.frames, size)
    estimator = TorchHolisticEstimator(device=args.device, batch_size=max(args.batch))
    if args.net_batch:
        estimator.net_batch = args.net_batch
    device = estimator.device
    with ThreadPoolExecutor(args.threads) as pool:
        decode_seconds, (height, width) = _decode_alone(blobs, pool)
        rows = [_end_to_end(estimator, blobs, batch, pool) for batch in args.batch]
    cuda = device.startswith("cuda")
    return {
        "source": source, "frames": len(blobs), "frame_size": f"{width}x{height}", "device": device,
        "gpu": torch.cuda.get_device_name(torch.device(device)) if cuda else None,
        "cpu_threads": f"{torch.get_num_threads()} torch threads", "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None, "dtype": "float32", "net_batch": estimator.net_batch,
        "threads": args.threads, "decode_frames_per_s": round(len(blobs) / decode_seconds, 1), "rows": rows,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", help="a folder of PNG frames, or a video")
    ap.add_argument("--frames", type=int, default=1024, help="frames per run (default 1024)")
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256], help="frames per batch (default 64 256)")
    ap.add_argument("--size", default="210x260", help="WxH of a video's frames, or 'native' (default 210x260)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="decode threads (default: the cores)")
    ap.add_argument("--net-batch", type=int, default=None, help="crops per network call (default: the estimator's)")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--ops", action="store_true", help="print the ops of each network")
    a = ap.parse_args(argv)
    if a.ops:
        from signpose.estimators.holistic.weights import Network, read_model

        from . import net

        for network in Network:
            print(network.value, json.dumps(net.ops_used(read_model(network))))
        if not a.source:
            return 0
    if not a.source:
        ap.error("SOURCE is required")
    if a.frames < 1 or a.threads < 1 or min(a.batch) < 1:
        ap.error("--frames, --threads and --batch must be at least 1")
    report = run(a)
    text = json.dumps(report, indent=1)
    print(markdown(report) + "\n\n" + text)
    if a.json:
        a.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
