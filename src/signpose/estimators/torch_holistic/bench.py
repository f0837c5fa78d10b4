"""Throughput of TorchHolistic: `python -m signpose.estimators.torch_holistic.bench VIDEO`.

Decodes frames of VIDEO (resized to --size, PHOENIX's 210x260 by default), runs them at each
--batch once to warm up and then timed, and prints frames/s and the time per stage. Also
`--ops` prints the op histogram of each network.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _frames(video: str, n: int, size):
    import cv2

    cap = cv2.VideoCapture(video)
    out = []
    while len(out) < n:
        ok, bgr = cap.read()
        if not ok:
            if not out:
                raise SystemExit(f"cannot read frames from {video}")
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if size:
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        out.append(rgb)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("video", nargs="?")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--size", default="210x260", help="WxH, or 'native'")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--net-batch", type=int, default=None)
    ap.add_argument("--ops", action="store_true", help="print the ops of each network")
    a = ap.parse_args(argv)
    from . import net
    from .holistic import MODELS, TorchHolistic, mediapipe_modules_dir

    if a.ops:
        for name, (rel, _) in MODELS.items():
            print(name, json.dumps(net.ops_used(os.path.join(mediapipe_modules_dir(), rel))))
        if not a.video:
            return 0
    if not a.video:
        ap.error("VIDEO is required")
    size = None if a.size == "native" else tuple(int(v) for v in a.size.split("x"))
    frames = _frames(a.video, a.frames, size)
    for b in a.batch:
        est = TorchHolistic(device=a.device, batch_size=b, net_batch=a.net_batch)
        est.process(frames[:min(b, 8)])  # warm-up (network shapes are fixed by net_batch)
        est.timings.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        res = est.process(frames)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        found = {k: sum(getattr(r, k) is not None for r in res)
                 for k in ("pose", "face", "left_hand", "right_hand")}
        print(json.dumps({"batch": b, "net_batch": est.net_batch, "frames": len(frames),
                          "frame_size": a.size, "seconds": round(dt, 3),
                          "frames_per_s": round(len(frames) / dt, 3),
                          "cpu_seconds_per_frame": round(cpu / len(frames), 4),
                          "torch_threads": __import__("torch").get_num_threads(),
                          "found": found,
                          "stages_s": {k: round(v, 3) for k, v in sorted(
                              est.timings.items(), key=lambda kv: -kv[1])}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
