"""signpose's benchmark: the same frames through the bare MediaPipe loop, the seed's design,
pose-format's videos_to_poses and signpose (local 1 and 2 workers, image and video mode,
Ray), side by side in one session; then memory with 10× the clips; then the worker profile.
Writes bench/out/results.md and results.json and prints the table.

    python bench/run.py [--clips N] [--frames-per-clip F] [--repeats R] [--out bench/out]
                        [--skip-pose-format] [--skip-ray] [--skip-profile]
"""

if __package__ in (None, ""):  # run as a script: import from the repository root, not bench/
    import sys
    from pathlib import Path

    _BENCH = Path(__file__).resolve().parent
    sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench import posefmt, prep
from bench.measure import Measurement, index_lines, run_measured, wait_quiet

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


# -- one measured run ---------------------------------------------------------------------


@dataclass
class Run:
    """One repeat of one row."""

    m: Measurement
    frames: int
    own: float | None = None  # the tool's own timer (see Row.own_timer), seconds
    steady_fps: float | None = None
    first_clip: float | None = None
    error: str | None = None
    waited: float = 0.0

    @property
    def tail(self) -> float | None:
        """Seconds from the last clip on disk to the command's exit (shutting workers down,
        finalising the run, interpreter exit)."""
        return round(self.m.wall - max(self.m.index_times), 3) if self.m.index_times else None

    def to_json(self) -> dict:
        return {
            "frames": self.frames,
            "tail_seconds": self.tail,
            "own_seconds": self.own,
            "steady_fps": self.steady_fps,
            "first_clip_seconds": self.first_clip,
            "error": self.error,
            "waited_for_quiet_seconds": self.waited,
            "measurement": self.m.to_json(),
        }


def steady_fps(times: list[float], frames_per_clip: float, workers: int) -> float | None:
    """Frames per second once every worker has finished its first clip: from the
    ``workers``-th finished clip to the last (start-up, model loads and first clips excluded)."""
    times = sorted(times)
    if len(times) <= workers:
        return None
    span = times[-1] - times[workers - 1]
    return round((len(times) - workers) * frames_per_clip / span, 2) if span > 0 else None


def _error(m: Measurement) -> str | None:
    if m.returncode == 0:
        return None
    tail = [line for line in m.stderr.strip().splitlines() if line.strip() and not line.startswith(("W0000", "I0000", "INFO:"))]
    return f"exit {m.returncode}: {tail[-1][:200] if tail else '(no message)'}"


def signpose_run(root: Path, out: Path, workers: int, mode: str, backend: str = "local") -> Run:
    shutil.rmtree(out, ignore_errors=True)
    command = [PY, "-m", "signpose", "extract", str(root), "-o", str(out), "--workers", str(workers),
               "--mode", mode, "--backend", backend, "--quiet", "--overwrite"]
    m = run_measured(command, progress=index_lines(out / "index.jsonl"), cwd=REPO)
    own = frames = None
    try:
        info = json.loads((out / "run.json").read_text())
        own, frames = info.get("elapsed_seconds"), info.get("frames_processed")
    except (OSError, ValueError):
        pass
    clips = len(m.index_times)
    run = Run(m, frames or 0, own=own, first_clip=m.first_clip, error=_error(m))
    if clips and frames:
        run.steady_fps = steady_fps(m.index_times, frames / clips, workers)
    return run


def script_run(script: str, *args: object, fork_workers: bool = False) -> Run:
    m = run_measured([PY, str(REPO / "bench" / script), *map(str, args)], fork_workers=fork_workers, cwd=REPO)
    run = Run(m, 0, error=_error(m))
    if m.returncode == 0:
        report = json.loads(m.stdout.strip().splitlines()[-1])
        run.frames, run.own = report["frames"], report["elapsed"]
        if "first_clip" in report:
            # the script's own clock starts after its imports: add the time before it
            before = m.wall - report["elapsed"]
            run.first_clip = round(before + report["first_clip"], 3)
            first_frames = report["frames"] / report["clips"]
            rest = report["elapsed"] - report["first_clip"]
            run.steady_fps = round((report["frames"] - first_frames) / rest, 2) if rest > 0 else None
        else:
            run.first_clip = m.wall  # nothing is written before the end
    return run


def posefmt_run(tool: posefmt.PoseFormatTool, data: prep.BenchData, work: Path, workers: int) -> Run:
    posefmt.prepare_workdir(data.videos_dir, work)
    m = run_measured(posefmt.command(tool, work, workers), progress=lambda: posefmt.count_poses(work),
                     fork_workers=True, cwd=REPO)
    run = Run(m, data.total_frames if m.returncode == 0 else 0, first_clip=m.first_clip, error=_error(m))
    if m.returncode == 0 and posefmt.count_poses(work) != len(data.clips):
        run.error = f"wrote {posefmt.count_poses(work)} of {len(data.clips)} .pose files"
    if m.index_times:
        run.steady_fps = steady_fps(m.index_times, data.total_frames / len(data.clips), workers)
    return run


# -- rows -----------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    mode: str
    procs: int
    go: Callable[[], Run]
    own_timer: str  # what the tool's own timer covers
    reference: str | None = None  # key of the signpose 1-worker row of the same mode
    raw: str | None = None  # key of the raw loop row of the same mode
    output: Path | None = None  # what `signpose verify` compares with the reference
    repeats: int | None = None  # None: --repeats
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None
    same: str = ""  # identical to the reference?
    verify: dict | None = None

    def ok_runs(self) -> list[Run]:
        return [run for run in self.runs if run.error is None]

    def median(self, pick: Callable[[Run], float | None]) -> float | None:
        values = [value for value in (pick(run) for run in self.ok_runs()) if value is not None]
        return statistics.median(values) if values else None

    @property
    def frames(self) -> int:
        runs = self.ok_runs()
        return runs[0].frames if runs else 0

    def wall(self) -> float | None:
        return self.median(lambda run: run.m.wall)

    def own(self) -> float | None:
        return self.median(lambda run: run.own)

    def fps_wall(self) -> float | None:
        wall = self.wall()
        return self.frames / wall if wall else None

    def fps_own(self) -> float | None:
        own = self.own()
        return self.frames / own if own else None


def build_rows(args, out: Path, data: prep.BenchData, tool: posefmt.PoseFormatTool | None, ray_reason: str | None) -> list[Row]:
    runs = out / "runs"
    rows: list[Row] = []
    for mode in ("image", "video"):
        rows.append(Row(f"raw-{mode}", "raw MediaPipe loop (imread+cvtColor+process, reset per clip)", mode, 1,
                        lambda mode=mode: script_run("raw_loop.py", out / "data", "--mode", mode),
                        "after imports: Holistic built, all frames"))
    seed_pkl = runs / "seed-design.pkl"
    rows.append(Row("seed", "seed design: Pool(2).map over all images, chunks len/2, never reset", "image", 2,
                    lambda: script_run("seed_design.py", out / "data", seed_pkl, "--processes", 2, fork_workers=True),
                    "pool start, all frames, pickle written", reference="sp-local-1-image", raw="raw-image", output=seed_pkl))
    pf_work = runs / "pose-format"
    pf_row = Row("pose-format", "pose-format videos_to_poses --num-workers 2 (lossless mp4s)", "video", 2,
                 lambda: posefmt_run(tool, data, pf_work, 2), "none (wall only)",
                 reference="sp-local-1-video", raw="raw-video", output=runs / "pose-format.pkl")
    if args.skip_pose_format:
        pf_row.skipped = "skipped (--skip-pose-format)"
    elif tool is None or tool.command is None:
        pf_row.skipped = f"cannot run: {tool.where if tool else 'not set up'}"
    rows.append(pf_row)
    for mode in ("image", "video"):
        for workers in (1, 2):
            key = f"sp-local-{workers}-{mode}"
            rows.append(Row(key, f"signpose local, {workers} worker{'s' if workers > 1 else ''}", mode, workers,
                            lambda w=workers, m=mode, k=key: signpose_run(data.root, runs / k, w, m),
                            "run.json elapsed_seconds: worker spawn, model load, all clips",
                            reference=None if workers == 1 else f"sp-local-1-{mode}", raw=f"raw-{mode}", output=runs / key))
    ray_row = Row("sp-ray-2-image", "signpose Ray, 2 workers", "image", 2,
                  lambda: signpose_run(data.root, runs / "sp-ray-2-image", 2, "image", "ray"),
                  "run.json elapsed_seconds: after ray.init and actor start; model load, all clips",
                  reference="sp-local-1-image", raw="raw-image", output=runs / "sp-ray-2-image")
    if args.skip_ray:
        ray_row.skipped = "skipped (--skip-ray)"
    elif ray_reason:
        ray_row.skipped = f"cannot run: {ray_reason}"
    rows.append(ray_row)
    return rows


def ray_unavailable() -> str | None:
    if importlib.util.find_spec("ray") is None:
        return "`import ray` fails (pip install 'signpose[ray]')"
    if importlib.util.find_spec("signpose.backends.ray") is None:
        return "signpose has no Ray backend (signpose.backends.ray) yet"
    return None


# -- verify ---------------------------------------------------------------------------------


def verify(a: Path, b: Path) -> dict:
    """`signpose verify A B --json`, bitwise and with atol 1e-6 (to tell rounding from real
    differences). Returns a summary."""
    summary: dict = {}
    for atol in ("0", "1e-6"):
        done = subprocess.run([PY, "-m", "signpose", "verify", str(a), str(b), "--json", "--atol", atol],
                              capture_output=True, text=True, cwd=REPO)
        if done.returncode not in (0, 1):
            return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:300]}
        try:
            report = json.loads(done.stdout)
        except ValueError:
            return {"error": f"verify printed no JSON (exit {done.returncode})"}
        parts: dict = {}
        frames = 0
        for split in report["splits"]:
            frames += split["frames_a"]
            for part in split["parts"]:
                tally = parts.setdefault(part["part"], {"differ": 0, "max": 0.0, "both": 0})
                tally["differ"] += part["only_a"] + part["only_b"] + part["over_atol"] + part["shape_mismatches"]
                tally["both"] += part["both"]
                value = part["max_abs_diff"]
                if value is not None:
                    tally["max"] = max(tally["max"], float(value))
        summary[f"atol={atol}"] = {"equal": report["equal"], "reasons": report["reasons"], "frames": frames, "parts": parts}
    return summary


def describe_verify(summary: dict) -> str:
    if "error" in summary:
        return f"verify failed: {summary['error']}"
    exact = summary["atol=0"]
    if exact["equal"]:
        return "yes (bitwise)"
    loose = summary["atol=1e-6"]
    short = {"pose": "pose", "face": "face", "left_hand": "lh", "right_hand": "rh"}
    worst = max(part["max"] for part in exact["parts"].values())
    counts = "/".join(str(exact["parts"][p]["differ"]) for p in short)
    counts_loose = "/".join(str(loose["parts"][p]["differ"]) for p in short)
    stats = "" if not any("stats differ" in r for r in exact["reasons"]) else "; stats differ"
    return (f"no: max abs diff {worst:.3g}; frames differing pose/face/lh/rh {counts} of {exact['frames']}"
            f" (beyond 1e-6: {counts_loose}){stats}")


# -- report ---------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "–" if value is None else f"{value:.{digits}f}{suffix}"


def environment(tool: posefmt.PoseFormatTool | None) -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    import signpose

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gb": round(int(memory) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "signpose": signpose.__version__,
        "mediapipe": version("mediapipe"),
        "numpy": version("numpy"),
        "opencv": version("opencv-contrib-python") if version("opencv-contrib-python") != "not installed" else version("opencv-python"),
        "pose-format": version("pose-format"),
        "pose-format (its venv)": tool.version if tool and tool.version else "–",
        "ray": version("ray"),
    }


def table(rows: list[Row]) -> list[str]:
    by_key = {row.key: row for row in rows}
    head = ["#", "tool", "mode", "procs", "wall s", "fps wall", "fps own timer", "fps steady",
            "× sp 1w (wall/own/steady)", "vs raw loop (wall/own)", "CPU ms/frame", "cores busy", "1st clip s", "last clip → exit s",
            "RSS driver MB", "RSS per worker MB", "identical to sp 1w"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for number, row in enumerate(rows, 1):
        if row.skipped or not row.ok_runs():
            reason = row.skipped or "; ".join(sorted({run.error for run in row.runs if run.error})) or "no run"
            lines.append(f"| {number} | {row.label} | {row.mode} | {row.procs} | " + " | ".join(["–"] * 12) + f" | {reason} |")
            continue
        ref = by_key.get(f"sp-local-1-{row.mode}")
        raw = by_key.get(row.raw or f"raw-{row.mode}")
        speed = "–"
        if ref and ref.ok_runs() and row.key != ref.key and not row.key.startswith("raw-"):
            parts = [
                (row.fps_wall() or 0) / (ref.fps_wall() or 1),
                (row.fps_own() or 0) / (ref.fps_own() or 1) if row.fps_own() and ref.fps_own() else None,
                (row.median(lambda r: r.steady_fps) or 0) / ref.median(lambda r: r.steady_fps)
                if row.median(lambda r: r.steady_fps) and ref.median(lambda r: r.steady_fps) else None,
            ]
            speed = " / ".join("–" if p is None else f"{p:.2f}×" for p in parts)
        overhead = "–"
        if raw and raw.ok_runs() and row.key != raw.key:
            wall = 100 * (row.wall() / raw.wall() - 1)
            own = 100 * (row.own() / raw.own() - 1) if row.own() and raw.own() else None
            overhead = f"{wall:+.0f}% / " + ("–" if own is None else f"{own:+.0f}%")
        cpu = row.median(lambda r: r.m.cpu_total)
        same = row.same or ("reference" if row.key.startswith("sp-local-1") else "– (no output)")
        lines.append(
            f"| {number} | {row.label} | {row.mode} | {row.procs} | {_fmt(row.wall(), 2)} | {_fmt(row.fps_wall())} | "
            f"{_fmt(row.fps_own())} | {_fmt(row.median(lambda r: r.steady_fps))} | {speed} | {overhead} | "
            f"{_fmt(1000 * cpu / row.frames if cpu else None)} | {_fmt(row.median(lambda r: r.m.cpu_total / r.m.wall), 2)} | "
            f"{_fmt(row.median(lambda r: r.first_clip), 2)} | {_fmt(row.median(lambda r: r.tail), 2)} | "
            f"{_fmt(row.median(lambda r: r.m.driver_mb), 0)} | {_fmt(row.median(lambda r: r.m.worker_mb), 0)} | {same} |"
        )
    return lines


NOTES = """\
- **wall s**: the whole command, process start to exit (interpreter start, imports, model
  loads, Ray start-up), median of the repeats. **fps wall** = frames / wall s.
- **fps own timer**: frames / the tool's own clock, which starts after the driver's imports:
  raw loop and seed design time themselves (Holistic built + all frames; the seed's includes
  starting the pool and writing its pickle); signpose's is run.json `elapsed_seconds`
  (measured in the runner around the backend's map: local includes spawning the workers and
  their imports and stopping them; Ray's excludes `ray.init` and actor start, which happen
  in the backend's pre-flight check, but includes the model load in each actor and
  `ray.shutdown` at the end). pose-format has none.
- **fps steady**: frames / time between the moment every worker had finished its first clip
  and the last clip (from the times clips appear in index.jsonl, or .pose files appear for
  pose-format, polled every 50 ms): no start-up, no model load, no first clip.
- **× sp 1w**: speed-up over signpose local 1 worker of the same mode. **vs raw loop**: time
  over the raw loop of the same mode (negative = faster; for 2-process rows it includes the
  parallel speed-up).
- **CPU ms/frame**: user+sys CPU of the whole process tree per frame (wait4 rusage, or the
  sum of /proc/<pid>/stat samples when larger, e.g. Ray's unreaped processes).
- **cores busy**: that CPU time over the wall time: how many of the machine's cores the
  run kept busy on average (MediaPipe runs some work on its own threads, so one process can
  use more than one core).
- **1st clip s**: from the command's start until the first clip was finished on disk
  (index.jsonl line or .pose file); the seed design writes nothing until the end (= wall);
  for the raw loop, the time before its clock plus its first clip.
- **last clip → exit s**: from the last clip on disk to the command's exit: stopping the
  workers (Ray: `ray.shutdown`), finalising the run folder, interpreter exit.
- **RSS**: peak resident set (VmHWM from /proc/<pid>/status, polled every 50 ms over the
  whole process tree). Driver = the command's own process; per worker = the largest worker
  (spawned multiprocessing children, forked pool children, Ray actors). Ray's own processes
  (GCS, raylet, dashboard, agents, idle workers) are listed apart in results.json.
- **identical to sp 1w**: `signpose verify` against signpose local 1 worker of the same mode
  (atol 0). For the seed and pose-format, the counts are frames where a part differs at all
  (or is detected in one only) and, in brackets, by more than 1e-6. Coordinates are
  MediaPipe's normalised ones (pose-format's pixels divided by width and height exactly as
  signpose reads its own .pose files); the pose column includes visibility. Differences of
  at most ~6e-8 are float32 rounding, not inference: a .pose file stores pixels (x × width)
  as float32, so reading one back can differ by 1 ulp from MediaPipe's own float32 value,
  which the seed design keeps.
"""


def targets(rows: list[Row], memory: list) -> list[str]:
    """The project's speed targets, each with the three measures side by side."""
    by_key = {row.key: row for row in rows}

    def ratio(a: str, b: str, measure: str) -> float | None:
        ra, rb = by_key.get(a), by_key.get(b)
        if not ra or not rb or not ra.ok_runs() or not rb.ok_runs():
            return None
        pick = {"wall": Row.fps_wall, "own": Row.fps_own, "steady": lambda r: r.median(lambda run: run.steady_fps)}[measure]
        va, vb = pick(ra), pick(rb)
        return va / vb if va and vb else None

    def show(a: str, b: str, goal: Callable[[float], bool], measures=("wall", "own", "steady")) -> str:
        cells = []
        for measure in measures:
            value = ratio(a, b, measure)
            cells.append(f"{measure} –" if value is None else f"{measure} {value:.2f}× {'✓' if goal(value) else '✗'}")
        return ", ".join(cells)

    lines = ["## Targets (fps ratios; ✓ met, ✗ not met)", "", "| target | measured |", "|---|---|"]
    for mode in ("image", "video"):
        lines.append(f"| local 2 workers ≥ 1.9× local 1 worker ({mode}) | {show(f'sp-local-2-{mode}', f'sp-local-1-{mode}', lambda v: v >= 1.9)} |")
    for mode in ("image", "video"):
        lines.append(f"| local 1 worker within 5% of the raw loop ({mode}) | {show(f'sp-local-1-{mode}', f'raw-{mode}', lambda v: v >= 0.95)} |")
    lines.append(f"| faster than pose-format (2 processes, video mode) | {show('sp-local-2-video', 'pose-format', lambda v: v > 1.0, ('wall', 'steady'))} |")
    lines.append(f"| at least as fast as the seed design (2 processes, image mode) | {show('sp-local-2-image', 'seed', lambda v: v >= 1.0, ('wall', 'own'))} |")
    lines.append(f"| Ray within 10% of local, 2 workers, excluding start-up | {show('sp-ray-2-image', 'sp-local-2-image', lambda v: v >= 0.9)} |")
    ours = [(clips, run) for what, clips, run in memory if what.startswith("signpose") and run.m.worker_mb]
    if len(ours) >= 2:
        (small, a), (large, b) = ours[:2]
        growth = b.m.worker_mb / a.m.worker_mb - 1
        raw = [run for what, _, run in memory if what.startswith("raw") and run.m.driver_mb]
        reference = f"; the bare loop on the same clips: {raw[0].m.driver_mb:.0f} → {raw[1].m.driver_mb:.0f} MB" if len(raw) == 2 else ""
        lines.append(f"| peak memory per worker flat with 10× the clips | {a.m.worker_mb:.0f} MB ({small} clips) → {b.m.worker_mb:.0f} MB"
                     f" ({large} clips): {100 * growth:+.0f}%; driver {a.m.driver_mb:.0f} → {b.m.driver_mb:.0f} MB{reference}"
                     + "".join(f"; {clips} clips: worker {run.m.worker_mb:.0f} MB, driver {run.m.driver_mb:.0f} MB" for clips, run in ours[2:])
                     + " |")
    return lines + [""]


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8, help="clips in the dataset (default 8)")
    parser.add_argument("--frames-per-clip", type=int, default=40, help="frames per clip (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per row; the median is reported (default 3)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--skip-pose-format", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--memory-frames", type=int, default=10, help="frames per clip of the memory runs (default 10)")
    parser.add_argument("--memory-scales", default="1,10,30",
                        help="memory runs on these multiples of --clips (default 1,10,30; the bare loop runs the first two)")
    parser.add_argument("--quiet-wait", type=float, default=20.0,
                        help="before each measurement wait up to this many seconds for other processes to go quiet")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[bench {time.monotonic() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    log(f"building the dataset: {args.clips} clips × {args.frames_per_clip} frames (+ lossless mp4s)")
    data = prep.build(out / "data", args.clips, args.frames_per_clip, videos=not args.skip_pose_format)
    tool = None
    if not args.skip_pose_format:
        log("pose-format: its own virtualenv (first time: pip install, about a minute)")
        tool = posefmt.setup(out, out / "pf-install.log")
        log(f"pose-format: {tool.where}")
    rows = build_rows(args, out, data, tool, ray_unavailable())
    by_key = {row.key: row for row in rows}

    for repeat in range(args.repeats):
        for row in rows:
            if row.skipped or repeat >= (row.repeats or args.repeats):
                continue
            waited, busy = wait_quiet(args.quiet_wait)
            log(f"repeat {repeat + 1}/{args.repeats}: {row.key}" + (f" (waited {waited:.0f} s for quiet; busy {busy} cores)" if waited >= 1 else ""))
            run = row.go()
            run.waited = waited
            row.runs.append(run)
            if run.error:
                log(f"  {row.key} failed: {run.error}")
            else:
                log(f"  {row.key}: wall {run.m.wall:.2f} s, own {run.own} s, steady {run.steady_fps} fps,"
                    f" other load {run.m.foreign_cores} cores")

    log("comparing outputs with signpose verify")
    if by_key["pose-format"].ok_runs():
        notes = posefmt.to_seed_pickle(out / "runs" / "pose-format", data, out / "runs" / "pose-format.pkl")
        if notes["frame_count_mismatch"]:
            log(f"  pose-format frame counts differ: {notes['frame_count_mismatch']}")
    for row in rows:
        if row.reference is None or row.output is None or not row.ok_runs():
            continue
        reference = by_key[row.reference]
        if not reference.ok_runs():
            row.same = "– (reference failed)"
            continue
        row.verify = verify(reference.output, row.output)
        row.same = describe_verify(row.verify)
        log(f"  {row.key}: {row.same}")

    scales = [int(value) for value in args.memory_scales.split(",") if value.strip()]
    sizes = [scale * args.clips for scale in scales]
    log(f"memory: signpose local 2 workers on {', '.join(map(str, sizes))} clips × {args.memory_frames} frames")
    memory = []
    for clips in sizes:
        mem_data = prep.build(out / f"data-mem-{clips}", clips, args.memory_frames, videos=False, row_offset=args.clips)
        wait_quiet(args.quiet_wait)
        run = signpose_run(mem_data.root, out / "runs" / f"mem-{clips}", 2, "image")
        memory.append(("signpose local, 2 workers", clips, run))
        log(f"  {clips} clips: wall {run.m.wall:.1f} s, driver {_fmt(run.m.driver_mb, 0)} MB, worker {_fmt(run.m.worker_mb, 0)} MB")
    for clips in sizes[:2]:  # the same frames through the bare loop, for reference
        wait_quiet(args.quiet_wait)
        run = script_run("raw_loop.py", out / f"data-mem-{clips}", "--mode", "image")
        memory.append(("raw MediaPipe loop, 1 process (reset per clip)", clips, run))
        log(f"  raw loop, {clips} clips: wall {run.m.wall:.1f} s, process {_fmt(run.m.driver_mb, 0)} MB")

    profile_text = None
    if not args.skip_profile:
        log("profile: bench/profile.py (one worker's stages)")
        done = subprocess.run([PY, str(REPO / "bench" / "profile.py"), "--data", str(out / "data"),
                               "--out", str(out / "profile"), "--json", str(out / "profile.json")],
                              capture_output=True, text=True, cwd=REPO)
        profile_text = done.stdout if done.returncode == 0 else f"profile failed (exit {done.returncode}):\n{done.stderr[-2000:]}"

    env = environment(tool)
    env["foreign_load_cores_max"] = max((run.m.foreign_cores for row in rows for run in row.runs), default=0.0)
    lines = [
        "# signpose benchmark",
        "",
        f"- date: {env['date']}",
        f"- machine: {env['cores']} cores, {env['cpu']}, {env['memory_gb']} GB, Linux {env['kernel']}",
        f"- versions: signpose {env['signpose']}, mediapipe {env['mediapipe']}, python {env['python']},"
        f" pose-format {env['pose-format']} (its venv: {env['pose-format (its venv)']}), numpy {env['numpy']},"
        f" opencv {env['opencv']}, ray {env['ray']}",
        f"- dataset: PHOENIX-2014-T layout, {len(data.clips)} clips × {args.frames_per_clip} frames = {data.total_frames}"
        f" frames of 210×260 PNG, made from the real signing videos in shared/testdata/signing;"
        f" clip names from the official train CSV; the mp4s hold the same frames losslessly (libx264rgb qp 0)",
        f"- repeats: {args.repeats} per row, median reported; rows interleaved (repeat 1 of every row, then repeat 2...)",
        f"- other load on the machine during the measurements: up to {env['foreign_load_cores_max']} cores"
        " (busy CPU outside the measured process tree, per run in results.json)",
        f"- bench wall time: {time.monotonic() - started:.0f} s",
        "",
        *table(rows),
        "",
        NOTES,
        *targets(rows, memory),
        "## Memory with 10× the clips (image mode)",
        "",
        "| what | clips × frames | frames | wall s | fps wall | RSS driver MB | RSS per worker MB (each) | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for what, clips, run in memory:
        workers = ", ".join(f"{p.hwm_kb / 1024:.0f}" for p in run.m.processes if p.role == "worker")
        fps = run.frames / run.m.wall if run.frames else None
        lines.append(f"| {what} | {clips} × {args.memory_frames} | {run.frames} | {run.m.wall:.1f} | {_fmt(fps)} |"
                     f" {_fmt(run.m.driver_mb, 0)} | {workers or '–'} | {run.error or '–'} |")
    lines += ["", "The raw loop's single process is its driver column: it is the reference for a worker."]
    if profile_text:
        lines += ["", "## Where a worker's time goes (bench/profile.py, image mode, one process)", "", "```", profile_text.rstrip(), "```"]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    record = {
        "environment": env,
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "dataset": {"clips": data.clips, "frames": data.frames},
        "rows": [
            {
                "key": row.key, "label": row.label, "mode": row.mode, "procs": row.procs, "own_timer": row.own_timer,
                "skipped": row.skipped, "identical": row.same, "verify": row.verify,
                "median": {"wall": row.wall(), "own": row.own(), "fps_wall": row.fps_wall(), "fps_own": row.fps_own(),
                           "steady_fps": row.median(lambda r: r.steady_fps), "first_clip": row.median(lambda r: r.first_clip),
                           "cpu": row.median(lambda r: r.m.cpu_total), "driver_mb": row.median(lambda r: r.m.driver_mb),
                           "worker_mb": row.median(lambda r: r.m.worker_mb), "tail": row.median(lambda r: r.tail)},
                "runs": [run.to_json() for run in row.runs],
            }
            for row in rows
        ],
        "memory": [{"what": what, "clips": clips, "frames_per_clip": args.memory_frames, "run": run.to_json()} for what, clips, run in memory],
        "profile": json.loads((out / "profile.json").read_text()) if (out / "profile.json").exists() and not args.skip_profile else None,
    }
    (out / "results.json").write_text(json.dumps(record, indent=1))
    print(text)
    log(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
