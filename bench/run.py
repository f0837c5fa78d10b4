"""signpose's benchmark: the same frames through the bare MediaPipe loop, the design of
data/extract_phoenix_keypoints_distributed.py (multiprocessing.Pool(N) over the flat image
list), signpose's command line with the litert estimator (the default) and with the mediapipe
estimator, and the litert estimator's networks alone (the limit); repeats interleaved, medians
reported; plus the per-clip overhead (400 one-frame clips vs 40 ten-frame clips). See bench/README.md.

    python bench/run.py [--clips 24] [--frames-per-clip 40] [--repeats 3] [--workers 1,2,8]
                        [--modes image,video] [--overhead-frames 400] [--out bench/out]
"""

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # import bench.dataset from the repository root
from bench.dataset import read_video_frames, real_rows, synthetic_rows, write_clips  # noqa: E402

PY = sys.executable
SHARED = REPO.parent / "shared" / "testdata"
CSV = SHARED / "phoenix" / "PHOENIX-2014-T" / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv"
NO_SHARED = os.environ.get("BENCH_NO_SHARED", "") not in ("", "0")  # act as a fresh clone
TICKS = os.sysconf("SC_CLK_TCK")
RELEASE = "PHOENIX-2014-T-release-v3"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- data -------------------------------------------------------------------------------------


def signing_videos() -> list[Path]:
    places = [REPO / "tests" / "data" / "signing"] + ([] if NO_SHARED else [SHARED / "signing"])
    for place in places:
        if videos := sorted(place.glob("slp_*.mp4")):
            return videos
    raise SystemExit("bench: needs the real signing videos tests/data/signing/slp_*.mp4"
                     + ("" if NO_SHARED else " (or ../shared/testdata/signing/slp_*.mp4)") + "; none found")


def clip_rows(count: int) -> tuple[list[list[str]], str]:
    if not NO_SHARED and CSV.exists() and len(rows := real_rows(CSV, count)) == count:
        return rows, "real names from the official train CSV"
    return synthetic_rows(count), "synthesized names in the official format"


def dataset(base: Path, chunks: int, chunk_frames: int, clip_frames: int, videos: list[Path]) -> tuple[Path, str]:
    """A release folder of ``chunks`` runs of ``chunk_frames`` consecutive real frames (run i
    from video i % len(videos), starting further in each round), cut into clips of
    ``clip_frames``; built once, reused while the recipe is unchanged."""
    clips = chunks * chunk_frames // clip_frames
    rows, names = clip_rows(clips)
    recipe = {"chunks": chunks, "chunk_frames": chunk_frames, "clip_frames": clip_frames, "names": names,
              "videos": [[v.name, v.stat().st_size] for v in videos], "version": 1}
    done = base / "recipe.json"
    if done.exists() and json.loads(done.read_text()) == recipe:
        return base / RELEASE, names
    shutil.rmtree(base, ignore_errors=True)
    decoded = {v: read_video_frames(v) for v in videos}
    frames = []
    for i in range(chunks):
        source = decoded[videos[i % len(videos)]]
        start = (i // len(videos)) * 17
        frames += [source[(start + k) % len(source)] for k in range(chunk_frames)]
    write_clips(base / RELEASE / "PHOENIX-2014-T",
                [(rows[c], frames[c * clip_frames:(c + 1) * clip_frames]) for c in range(clips)])
    done.write_text(json.dumps(recipe))
    return base / RELEASE, names


# -- measuring one command ----------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _tree(root: int) -> set[int]:
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                tasks = []
            todo += [int(c) for t in tasks for c in _read(f"/proc/{pid}/task/{t}/children").split()]
    return seen


def _sample(pid: int) -> tuple[int, int] | None:
    """(VmHWM in kB, utime + stime in ticks) of a process; None when gone or a zombie."""
    hwm = [line.split()[1] for line in _read(f"/proc/{pid}/status").splitlines() if line.startswith("VmHWM:")]
    stat = _read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()
    return (int(hwm[0]), int(stat[11]) + int(stat[12])) if hwm and len(stat) > 12 else None


def loadavg() -> float:
    return float(_read("/proc/loadavg").split()[0])


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores): /proc/stat less idle and iowait."""
    ticks = [int(t) for t in _read("/proc/stat").split("\n")[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


def measure(command: list[str], timeout: float) -> dict:
    """Run ``command``; every 50 ms read VmHWM and CPU ticks of each process of its tree."""
    peaks: dict[int, list[int]] = {}
    stop = threading.Event()
    load_before, busy_before = loadavg(), busy_seconds()
    with tempfile.TemporaryFile("w+") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, text=True)

        def watch() -> None:
            while not stop.is_set():
                for pid in _tree(process.pid):
                    if sample := _sample(pid):
                        peak = peaks.setdefault(pid, [0, 0])
                        peak[:] = [max(peak[0], sample[0]), max(peak[1], sample[1])]
                stop.wait(0.05)

        watcher, killer = threading.Thread(target=watch, daemon=True), threading.Timer(timeout, process.kill)
        watcher.start(), killer.start()
        _, status, usage = os.wait4(process.pid, 0)  # CPU of the command and every child it reaped
        wall, busy = time.monotonic() - started, busy_seconds() - busy_before
        process.returncode = os.waitstatus_to_exitcode(status)
        killer.cancel(), stop.set(), watcher.join()
        output.seek(0)
        tail = output.read()[-1500:]
    sampled = sum(ticks for _, ticks in peaks.values()) / TICKS  # also sees children never reaped
    cpu = max(usage.ru_utime + usage.ru_stime, sampled)
    # workers: descendants that used CPU (not multiprocessing's resource tracker, not a fork that execs)
    workers = [hwm for pid, (hwm, ticks) in peaks.items() if pid != process.pid and ticks >= 0.3 * TICKS]
    return {"rc": process.returncode, "wall": round(wall, 3), "cpu": round(cpu, 2), "cores": round(cpu / wall, 2),
            "driver_mb": round(peaks.get(process.pid, [0])[0] / 1024, 1),
            "worker_mb": round(max(workers) / 1024, 1) if workers else None, "workers_seen": len(workers),
            "load_before": load_before, "load_after": loadavg(),
            "other_cores": round(max(0.0, busy - cpu) / wall, 2), "output_tail": tail if process.returncode else ""}


# -- rows ---------------------------------------------------------------------------------------


def plan(args, data: Path, frames: int, overhead: dict[int, Path], runs: Path) -> list[dict]:
    """Rows in the order each repeat runs them. ``command(rep)`` gives the command line and the
    run folder it writes (signpose rows); ``reference``: the row whose repeat-1 run it is verified against."""
    sp = [PY, "-m", "signpose", "extract"]
    rows = []

    def add(key, label, mode, workers, command, frames=frames, reference=None, pool=None):
        rows.append({"key": key, "label": label, "mode": mode, "workers": workers, "command": command,
                     "frames": frames, "reference": reference, "pool": pool, "repeats": []})

    loops = [PY, str(REPO / "bench" / "loops.py")]
    for mode in args.modes:
        add(f"raw-{mode}", "bare MediaPipe loop", mode, 1, lambda rep, m=mode: (loops + ["raw", str(data), "--mode", m], None), pool="pool-1")
        if mode == "image":
            for n in args.workers:
                add(f"pool-{n}", f"Pool({n}) over the image list", "image", n, lambda rep, n=n: (
                    loops + ["pool", str(data), str(runs / f"pool-{n}.pkl"), "--processes", str(n)], None), pool=f"pool-{n}")
        for n in args.workers:
            key = f"mp-{mode}-{n}"
            add(key, f"signpose --estimator mediapipe --workers {n}", mode, n, lambda rep, n=n, m=mode, key=key: (
                sp + [str(data), "-o", str(runs / f"r{rep}" / key), "--estimator", "mediapipe", "--workers", str(n), "--mode", m,
                      "--quiet", "--overwrite"], runs / f"r{rep}" / key), reference=f"mp-{mode}-{args.workers[0]}", pool=f"pool-{n}")
    for n in args.workers:
        key = f"lt-{n}"
        add(key, f"signpose --workers {n} (litert)", "frame", n, lambda rep, n=n, key=key: (
            sp + [str(data), "-o", str(runs / f"r{rep}" / key), "--estimator", "litert", "--workers", str(n), "--quiet", "--overwrite"],
            runs / f"r{rep}" / key), reference=f"lt-{args.workers[0]}", pool=f"pool-{n}")
    add("networks", "litert networks alone (1 process)", "frame", 1,
        lambda rep: (loops + ["networks", str(data), str(runs / f"networks-{rep}.json")], None), pool="pool-1")
    for clip_frames, root in overhead.items():
        key = f"clips-{args.overhead_frames // clip_frames}x{clip_frames}"
        add(key, f"signpose --workers 1, {args.overhead_frames // clip_frames} clips × {clip_frames}", "frame", 1,
            lambda rep, root=root, key=key: (sp + [str(root), "-o", str(runs / f"r{rep}" / key), "--workers", "1",
                                                   "--quiet", "--overwrite"], runs / f"r{rep}" / key),
            frames=args.overhead_frames)
    return rows


def verify(a: Path, b: Path) -> bool:
    done = subprocess.run([PY, "-m", "signpose", "verify", str(a), str(b)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        log(f"signpose verify {a} {b}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.returncode == 0


def median(row: dict, field: str):
    values = [r[field] for r in row["repeats"] if r["rc"] == 0 and r[field] is not None]
    return statistics.median(values) if values else None


def machine() -> dict:
    cpuinfo = _read("/proc/cpuinfo")
    flags = next((line.split(":")[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), platform.processor())
    mem_kb = int(next(line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")))
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(),
            "vector": [flag for flag in ("avx2", "avx512f") if flag in flags], "ram_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "mediapipe": importlib.metadata.version("mediapipe"),
            "litert": importlib.metadata.version("ai-edge-litert"), "opencv": importlib.metadata.version("opencv-contrib-python"),
            "signpose": importlib.metadata.version("signpose"), "os": platform.platform()}


# -- report ---------------------------------------------------------------------------------------


def fmt(value, spec: str = ".1f", none: str = "–") -> str:
    return none if value is None else format(value, spec)


def report(args, env: dict, rows: list[dict], names: str, started: str) -> tuple[str, float | None]:
    by_key = {row["key"]: row for row in rows}

    def fps(row):
        wall = median(row, "wall")
        return row["frames"] / wall if wall else None

    def cpu(row):  # CPU ms per frame: barely moved by other processes on the machine, unlike frames/s
        return median(row, "cpu") / row["frames"] * 1000 if median(row, "cpu") else None

    lines = [f"# signpose benchmark ({started})", "",
             f"- machine: {env['cpu']}, {env['cores']} cores usable ({env['cpu_count']} online), "
             f"{'+'.join(env['vector']) or 'no avx2/avx512f'}, {env['ram_gib']} GiB RAM; {env['os']}",
             f"- versions: python {env['python']}, mediapipe {env['mediapipe']}, ai-edge-litert {env['litert']}, "
             f"opencv {env['opencv']}, signpose {env['signpose']}",
             f"- data: PHOENIX-2014-T layout, {args.clips} clips × {args.frames_per_clip} frames of 210×260 PNG "
             f"from real signing videos ({names}); {args.repeats} repeat(s) interleaved, medians",
             f"- command: `{' '.join(['bench/run.py', *sys.argv[1:]])}`", "",
             "| row | mode | N | frames/s | CPU ms/frame | cores busy | peak RSS driver / worker MB | × Pool(N) | same bytes | load before→after | other cores busy |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|"]
    for row in rows:
        ok = [r for r in row["repeats"] if r["rc"] == 0]
        pool = by_key.get(row["pool"] or "")
        ratio = fps(row) / fps(pool) if pool and fps(pool) and fps(row) and row["frames"] == pool["frames"] else None
        checks = [r["same"] for r in ok if r.get("same") is not None]
        same = "–" if not row["key"].startswith(("mp-", "lt-")) else ("ref" if not checks else "yes" if all(checks) else "no")
        load = (f"{max(r['load_before'] for r in row['repeats']):.1f}→{max(r['load_after'] for r in row['repeats']):.1f}"
                if row["repeats"] else "–")
        failed = len(row["repeats"]) - len(ok)
        lines.append(f"| {row['label']}{f' ({failed} failed)' if failed else ''} | {row['mode']} | {row['workers']} | "
                     f"{fmt(fps(row))} | {fmt(cpu(row), '.0f')} | {fmt(median(row, 'cores'), '.2f')} | {fmt(median(row, 'driver_mb'), '.0f')} / "
                     f"{fmt(median(row, 'worker_mb'), '.0f')} | {fmt(ratio, '.2f')} | {same} | {load} | {fmt(median(row, 'other_cores'), '.2f')} |")
    networks = [json.loads(Path(r["networks_json"]).read_text()) for r in by_key["networks"]["repeats"]
                if r["rc"] == 0 and Path(r.get("networks_json", "")).is_file()] if "networks" in by_key else []
    limit = None
    if networks:
        invoke = statistics.median(n["invoke_s"] / n["frames"] for n in networks) * 1000
        crop = statistics.median(n["crop_s"] / n["frames"] for n in networks) * 1000
        alone = statistics.median(n["cpu_s"] / n["frames"] for n in networks) * 1000
        lines += ["", f"The limit: inside LiteRT's invoke (the six networks alone) **{invoke:.1f} ms of CPU per frame**; "
                  f"the crops (OpenCV's warp, as MediaPipe crops) {crop:.1f} ms; the litert estimator in one process, "
                  f"decoding included, {alone:.1f} ms ({alone / invoke:.2f}× invoke)."]
        for n in args.workers:
            row = by_key.get(f"lt-{n}")
            if row and cpu(row):
                lines.append(f"- signpose --workers {n} (litert), the whole command: {cpu(row):.1f} ms of CPU per frame = "
                             f"**{cpu(row) / invoke:.2f}× invoke**")
        limit = {"invoke_ms": invoke, "crop_ms": crop, "one_process_ms": alone}
    overhead = None
    many, few = (by_key.get(f"clips-{args.overhead_frames // n}x{n}") for n in (1, 10))
    if many and few and median(many, "wall") and median(few, "wall"):
        clips_many, clips_few = args.overhead_frames, args.overhead_frames // 10
        overhead = (median(many, "wall") - median(few, "wall")) / (clips_many - clips_few) * 1000
        lines += ["", f"Per-clip overhead (signpose, 1 worker, litert, the same {clips_many} frames): "
                  f"({fmt(median(many, 'wall'), '.2f')} s − {fmt(median(few, 'wall'), '.2f')} s) / "
                  f"({clips_many} − {clips_few}) clips = **{overhead:.1f} ms per clip** (wall clock); in CPU time "
                  f"{(cpu(many) - cpu(few)) * clips_many / (clips_many - clips_few):.1f} ms per clip."]
    lines += ["", "frames/s: frames / wall clock of the whole command (interpreter start to exit). CPU ms/frame: CPU "
              "time of the whole process tree per frame. cores busy: CPU "
              "seconds of the whole process tree / wall seconds. Peak RSS: VmHWM of the command's process and of "
              "its largest worker. × Pool(N): frames/s over the Pool(N) design's (data/extract_phoenix_keypoints_distributed.py, image mode) at the same N. same "
              "bytes: `signpose verify` of every repeat against repeat 1 of the first-listed worker count "
              "of the same mode (ref: itself, only one repeat). load: 1-minute load average, highest over repeats. other "
              "cores busy: CPU the rest of the machine used meanwhile (/proc/stat), in cores: contention shows here."]
    return "\n".join(lines) + "\n", overhead, limit


def main() -> None:
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--frames-per-clip", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default=f"1,2,{cores}", help="worker counts (default 1,2,cores)")
    parser.add_argument("--modes", default="image,video")
    parser.add_argument("--overhead-frames", type=int, default=400, help="frames of the per-clip overhead pair, 0: skip")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    args = parser.parse_args()
    args.workers = sorted({int(n) for n in args.workers.split(",")})
    args.modes = [m for m in ("image", "video") if m in args.modes.split(",")]
    if args.overhead_frames % 10 or not args.modes or args.workers[0] < 1:
        parser.error("--overhead-frames must be a multiple of 10; --modes image,video; --workers ≥ 1")

    videos = signing_videos()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    log(f"data from {len(videos)} videos in {videos[0].parent}")
    data, names = dataset(args.out / "data" / f"{args.clips}x{args.frames_per_clip}", args.clips, args.frames_per_clip,
                          args.frames_per_clip, videos)
    overhead = {} if not args.overhead_frames else {
        n: dataset(args.out / "data" / f"overhead-{args.overhead_frames}x{n}", args.overhead_frames // 10, 10, n, videos)[0]
        for n in (1, 10)}
    runs = args.out / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    rows = plan(args, data, args.clips * args.frames_per_clip, overhead, runs)
    by_key = {row["key"]: row for row in rows}
    for rep in range(1, args.repeats + 1):
        for row in rows:
            command, run_dir = row["command"](rep)
            result = measure(command, args.timeout) | {"repeat": rep}
            if row["key"] == "networks":
                result["networks_json"] = command[-1]
            reference = by_key.get(row["reference"] or "")
            ref_dir = runs / "r1" / reference["key"] if reference else None
            if result["rc"] == 0 and run_dir and ref_dir and ref_dir != run_dir and (ref_dir / "index.jsonl").exists():
                result["same"] = verify(ref_dir, run_dir)
            row["repeats"].append(result)
            log(f"repeat {rep}/{args.repeats} {row['key']}: {result['wall']:.1f} s, exit {result['rc']}"
                + (f", same bytes: {result['same']}" if "same" in result else "")
                + (f"\n{result['output_tail']}" if result["rc"] else ""))
    env = machine()
    markdown, per_clip, limit = report(args, env, rows, names, started)
    (args.out / "results.md").write_text(markdown, encoding="utf-8")
    record = {"started": started, "machine": env, "args": vars(args) | {"out": str(args.out)}, "names": names,
              "per_clip_overhead_ms": per_clip, "litert_limit": limit,
              "rows": [{k: v for k, v in row.items() if k != "command"} for row in rows]}
    (args.out / "results.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    print(markdown)
    if any(r["rc"] for row in rows for r in row["repeats"]):
        raise SystemExit("bench: some commands failed (see above and results.json)")


if __name__ == "__main__":
    main()
