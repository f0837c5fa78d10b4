"""Where a signpose worker's time goes, stage by stage, in ms per frame.

Runs signpose's own ClipProcessor (the function every backend runs) over the benchmark
dataset in this process, with timers wrapped around each stage (src/ is not changed; the
wrappers are installed on the classes and modules at run time):

- decode:     signpose.decode.read_frame, on the prefetch thread (overlaps inference)
- wait:       time the estimator waited for the next decoded frame (decode not hidden)
- inference:  Holistic.process (first frame of the worker, with the model load, apart)
- reset:      Holistic.reset at the start of every clip
- landmarks:  HolisticEstimator._fill (protobuf landmarks to arrays)
- stack:      the rest of estimate_clip (per-frame arrays, np.stack, logging guards)
- pose bytes: posefile.to_pose_bytes (pose-format Pose build + serialise)
- write:      RunStore.write_pose (atomic write + fsync + sha256)
- other:      the rest of ClipProcessor.__call__ (listing frames, records)

Then the costs a backend adds, measured apart: a worker's start (spawn, imports, graph),
the result record's IPC (pickle size and time), the driver's index append (fsync), and the
same clips through LocalBackend(1) end to end vs in this process.

    python bench/profile.py [--data bench/out/data] [--mode image|video] [--cprofile N]
"""

if __package__ in (None, ""):  # run as a script: import from the repository root, not bench/
    import sys
    from pathlib import Path

    _BENCH = Path(__file__).resolve().parent
    sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import argparse
import json
import pickle
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]


class Timers:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.seconds[name] += seconds
            self.calls[name] += 1

    @contextmanager
    def time(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed


def instrument(timers: Timers) -> None:
    """Install the stage timers on signpose's and mediapipe's classes and modules."""
    import signpose.decode as decode
    import signpose.pipeline as pipeline
    from mediapipe.python.solutions.holistic import Holistic
    from signpose.estimator import HolisticEstimator
    from signpose.store import RunStore

    decode.read_frame = timers.wrap("decode", decode.read_frame)

    original_decode_frames = pipeline.decode_frames

    def timed_decode_frames(paths):
        frames = original_decode_frames(paths)
        while True:
            started = time.perf_counter()
            try:
                frame = next(frames)
            except StopIteration:
                return
            timers.add("wait", time.perf_counter() - started)
            yield frame

    pipeline.decode_frames = timed_decode_frames

    original_process = Holistic.process
    original_reset = Holistic.reset
    state = {"loaded": False, "after_reset": False}

    def process(self, image):
        started = time.perf_counter()
        try:
            return original_process(self, image)
        finally:
            elapsed = time.perf_counter() - started
            if not state["loaded"]:
                state["loaded"] = True
                timers.add("first frame (model load)", elapsed)
            elif state["after_reset"]:
                timers.add("first frame after reset", elapsed)
            else:
                timers.add("inference", elapsed)
            state["after_reset"] = False

    def reset(self):
        started = time.perf_counter()
        try:
            return original_reset(self)
        finally:
            timers.add("reset", time.perf_counter() - started)
            state["after_reset"] = True

    Holistic.process = process
    Holistic.reset = reset
    HolisticEstimator._fill = timers.wrap("landmarks", HolisticEstimator._fill)
    HolisticEstimator.estimate_clip = timers.wrap("estimate_clip", HolisticEstimator.estimate_clip)
    HolisticEstimator.__init__ = timers.wrap("graph construction", HolisticEstimator.__init__)
    pipeline.to_pose_bytes = timers.wrap("pose bytes", pipeline.to_pose_bytes)
    RunStore.write_pose = timers.wrap("write", RunStore.write_pose)


def in_process(data, mode: str, out: Path, timers: Timers) -> tuple[list, float]:
    from signpose.datasets import open_dataset
    from signpose.estimator import EstimatorOptions
    from signpose.pipeline import ClipProcessor

    dataset = open_dataset(data.root, "auto", None, None)
    processor = ClipProcessor(EstimatorOptions(mode=mode), out)
    results = []
    started = time.perf_counter()
    for clip in dataset.clips:
        with timers.time("clip total"):
            results.append(processor(clip))
    total = time.perf_counter() - started
    processor.estimator.close()
    return results, total


def decode_ab(data, mode: str, out: Path) -> dict:
    """The prefetch thread on and off, clip by clip (alternating, so drift in the machine's
    load hits both alike): ms per frame of ClipProcessor with signpose's decode_frames and
    with a plain in-line decoder."""
    import signpose.pipeline as pipeline
    from signpose.datasets import open_dataset
    from signpose.decode import _decode
    from signpose.estimator import EstimatorOptions
    from signpose.pipeline import ClipProcessor

    threaded = pipeline.decode_frames

    def inline(paths):
        for path in paths:
            yield _decode(path)

    dataset = open_dataset(data.root, "auto", None, None)
    processor = ClipProcessor(EstimatorOptions(mode=mode), out)
    processor(dataset.clips[0])  # warm: the model loads outside the comparison
    seconds = {"prefetch thread": 0.0, "in line": 0.0}
    frames = 0
    try:
        variants = [("prefetch thread", threaded), ("in line", inline)]
        for number, clip in enumerate(dataset.clips):
            for name, decoder in variants if number % 2 == 0 else variants[::-1]:
                pipeline.decode_frames = decoder
                started = time.perf_counter()
                result = processor(clip)
                seconds[name] += time.perf_counter() - started
            frames += result.frames
    finally:
        pipeline.decode_frames = threaded
        processor.estimator.close()
    return {name: 1000 * value / frames for name, value in seconds.items()}


def threads_of_a_worker(data, mode: str) -> int:
    """Threads in this process once a Holistic graph has run (MediaPipe's own pool, TFLite)."""
    from mediapipe.python.solutions.holistic import Holistic

    holistic = Holistic(static_image_mode=mode == "image", model_complexity=1)
    holistic.process(cv2.cvtColor(cv2.imread(str(data.frame_paths(data.clips[0])[0])), cv2.COLOR_BGR2RGB))
    count = int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("Threads:")))
    holistic.close()
    return count


def raw_loop(data, mode: str) -> float:
    """The same frames through the bare loop, in this process (steady state: the model is
    loaded by a warm-up frame first, which is not counted)."""
    from mediapipe.python.solutions.holistic import Holistic

    holistic = Holistic(static_image_mode=mode == "image", model_complexity=1)
    first = data.frame_paths(data.clips[0])[0]
    holistic.process(cv2.cvtColor(cv2.imread(str(first)), cv2.COLOR_BGR2RGB))
    started = time.perf_counter()
    for clip in data.clips:
        holistic.reset()
        for path in data.frame_paths(clip):
            holistic.process(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    elapsed = time.perf_counter() - started
    holistic.close()
    return elapsed


def backend_costs(data, mode: str, out: Path, results: list) -> dict:
    """What running the same clips on LocalBackend(1) adds, and its parts."""
    from signpose.backends.local import LocalBackend
    from signpose.datasets import open_dataset
    from signpose.estimator import EstimatorOptions
    from signpose.pipeline import ClipProcessor
    from signpose.store import RunStore

    sizes = [len(pickle.dumps(result)) for result in results]
    started = time.perf_counter()
    for _ in range(20):
        for result in results:
            pickle.loads(pickle.dumps(result))
    pickle_seconds = (time.perf_counter() - started) / 20

    store = RunStore(out)
    started = time.perf_counter()
    for result in results:
        store.append(result)
    append_seconds = time.perf_counter() - started

    # A worker's start: spawn + import signpose + unpickle the processor, then one clip of
    # one frame (the graph built and its models loaded), measured from the driver.
    spawn = subprocess.run(
        [sys.executable, "-c", "import time; t=time.perf_counter(); import signpose.pipeline, mediapipe.python.solutions.holistic; print(time.perf_counter()-t)"],
        capture_output=True, text=True, cwd=REPO,
    )
    import_seconds = float(spawn.stdout.strip().splitlines()[-1]) if spawn.returncode == 0 else None

    dataset = open_dataset(data.root, "auto", None, None)
    backend_out = out.parent / (out.name + "-backend")
    shutil.rmtree(backend_out, ignore_errors=True)
    started = time.perf_counter()
    first = None
    for outcome in LocalBackend(1).map_unordered(ClipProcessor(EstimatorOptions(mode=mode), backend_out), dataset.clips):
        first = first or time.perf_counter() - started
        store.append(outcome.result)  # as the runner does
    backend_total = time.perf_counter() - started
    return {
        "result_pickle_bytes_per_clip": round(sum(sizes) / len(sizes)),
        "result_pickle_roundtrip_seconds_per_clip": pickle_seconds / len(results),
        "index_append_seconds_per_clip": append_seconds / len(results),
        "worker_import_seconds": import_seconds,
        "local_backend_1_worker_seconds": backend_total,
        "local_backend_first_clip_seconds": first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "out" / "data")
    parser.add_argument("--mode", choices=["image", "video"], default="image")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "profile")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also print cProfile's top N functions")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = parser.parse_args()

    from bench.prep import load

    try:
        data = load(args.data)
    except FileNotFoundError:
        from bench.prep import build

        data = build(args.data, 8, 40, videos=False)
    frames = data.total_frames
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)

    timers = Timers()
    instrument(timers)
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    results, total = in_process(data, args.mode, args.out / "run", timers)
    if profiler is not None:
        profiler.disable()
    seconds, calls = dict(timers.seconds), dict(timers.calls)  # before the checks below add to them
    raw = raw_loop(data, args.mode)
    ab = decode_ab(data, args.mode, args.out / "ab")
    threads = threads_of_a_worker(data, args.mode)
    costs = backend_costs(data, args.mode, args.out / "run", results)

    s, calls = defaultdict(float, seconds), defaultdict(int, calls)
    inference_all = s["inference"] + s["first frame (model load)"] + s["first frame after reset"]
    estimate_rest = s["estimate_clip"] - s["wait"] - inference_all - s["reset"] - s["landmarks"]
    steady_inference = s["inference"] / max(1, calls["inference"])
    # What a reset costs beyond reset() itself: its clip's first frame over a steady frame.
    reset_extra = s["first frame after reset"] - steady_inference * calls["first frame after reset"]
    rows = [
        ("inference (Holistic.process), steady", s["inference"] + steady_inference * calls["first frame after reset"], calls["inference"]),
        ("first frame of the worker (model load)", s["first frame (model load)"], calls["first frame (model load)"]),
        ("reset() per clip", s["reset"], calls["reset"]),
        ("  + its clip's first frame beyond a steady one", reset_extra, calls["first frame after reset"]),
        ("landmarks (_fill)", s["landmarks"], calls["landmarks"]),
        ("wait for decode (not hidden)", s["wait"], calls["wait"]),
        ("estimate_clip rest (arrays, stack, log guards)", estimate_rest, calls["estimate_clip"]),
        ("pose bytes (to_pose_bytes)", s["pose bytes"], calls["pose bytes"]),
        ("write (.pose atomic + fsync)", s["write"], calls["write"]),
        ("clip rest (listing, records)", s["clip total"] - s["estimate_clip"] - s["pose bytes"] - s["write"], calls["clip total"]),
    ]
    print(f"signpose worker profile: {len(data.clips)} clips, {frames} frames, mode {args.mode}")
    print(f"{'stage':<48}{'ms/frame':>10}{'% of clip time':>16}{'calls':>7}")
    for name, seconds, count in rows:
        print(f"{name:<48}{1000 * seconds / frames:>10.2f}{100 * seconds / total:>15.1f}%{count:>7}")
    print(f"{'= ClipProcessor total (in process)':<48}{1000 * total / frames:>10.2f}{100.0:>15.1f}%")
    print(f"{'decode on the prefetch thread (overlapped)':<48}{1000 * s['decode'] / frames:>10.2f}")
    print(f"{'graph construction (once per worker)':<48}{1000 * s['graph construction']:>9.1f} ms total")
    print()
    print(f"bare loop, same frames, same process (model warm): {1000 * raw / frames:.2f} ms/frame")
    print(f"steady inference per frame inside signpose:       {1000 * steady_inference:.2f} ms/frame")
    print(f"not steady inference, per frame inside signpose:  {1000 * (total - steady_inference * (frames - 1)) / frames:.2f} ms/frame"
          f" (model load, resets, landmarks, arrays, .pose, waits)")
    reset_ms = 1000 * (s["reset"] / max(1, calls["reset"]) + reset_extra / max(1, calls["first frame after reset"]))
    print(f"a reset costs {reset_ms:.1f} ms per clip"
          f" (reset() {1000 * s['reset'] / max(1, calls['reset']):.1f} ms + {1000 * reset_extra / max(1, calls['first frame after reset']):.1f} ms"
          " more on the clip's first frame: the graph restarts)")
    print("decode A/B, whole clip, clips alternating (warm model): "
          + ", ".join(f"{name} {value:.2f} ms/frame" for name, value in ab.items()))
    print(f"threads in a process running Holistic: {threads}")
    print()
    print("backend costs (driver side):")
    print(f"  worker import (signpose.pipeline + mediapipe holistic), fresh interpreter: {costs['worker_import_seconds']:.2f} s")
    print(f"  result record: {costs['result_pickle_bytes_per_clip']} bytes pickled per clip,"
          f" {1e6 * costs['result_pickle_roundtrip_seconds_per_clip']:.0f} us to pickle+unpickle")
    print(f"  index append (json + fsync) per clip: {1000 * costs['index_append_seconds_per_clip']:.2f} ms")
    print(f"  LocalBackend(1) end to end: {costs['local_backend_1_worker_seconds']:.2f} s vs in process {total:.2f} s"
          f" (+{costs['local_backend_1_worker_seconds'] - total:.2f} s: spawn, imports, IPC; first clip after"
          f" {costs['local_backend_first_clip_seconds']:.2f} s)")
    if profiler is not None:
        import pstats

        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.cprofile)
    record = {
        "clips": len(data.clips),
        "frames": frames,
        "mode": args.mode,
        "stages_ms_per_frame": {name: 1000 * seconds / frames for name, seconds, _ in rows},
        "clip_total_ms_per_frame": 1000 * total / frames,
        "decode_thread_ms_per_frame": 1000 * s["decode"] / frames,
        "graph_construction_seconds": s["graph construction"],
        "steady_inference_ms_per_frame": 1000 * steady_inference,
        "reset_ms_per_clip": 1000 * (s["reset"] / max(1, calls["reset"]) + reset_extra / max(1, calls["first frame after reset"])),
        "bare_loop_ms_per_frame": 1000 * raw / frames,
        "decode_ab_ms_per_frame": ab,
        "threads_per_holistic_process": threads,
        "backend": costs,
    }
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
