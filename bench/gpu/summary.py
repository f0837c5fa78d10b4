"""The GPU check's answer: ``summary.txt`` (each target PASS, FAIL, N/A or NOT RUN, then the
numbers behind them) and ``results.json`` (everything), from what check.sh left in its work
folder: preflight.json, data.json, steps.tsv, runs/<name>/run.json, bench-*.json and the
logs of the verify and compare steps (logs/<step>.out). Exit 0 when every target that
applies passed, 1 otherwise.

    python -m bench.gpu.summary WORK --device cuda|cpu --out OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TARGET_FPS = 2000.0  # end to end, one H200: a PHOENIX-2014-T (947,756 frames) in under 8 minutes
PHOENIX_T_FRAMES = 947_756
GPU_CPU_MEDIAN_PX = 0.05  # GPU vs the torch estimator on the CPU, median landmark distance per part
HAND_AGREEMENT = 0.995  # ... and the same hand presence on this share of frames
# the torch estimator's fidelity bounds against MediaPipe (tests/estimators/test_faithful.py)
MP_AGREEMENT, MP_MEDIAN_PX, MP_P99_PX = 0.99, 0.1, 2.0
IMAGE_PARTS = ("pose", "face", "left_hand", "right_hand")


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _log(work: Path, step: str) -> dict | None:
    """The JSON a step printed (its last line)."""
    try:
        lines = (work / "logs" / f"{step}.out").read_text().strip().splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def steps(work: Path) -> dict[str, dict]:
    found = {}
    for line in (work / "steps.tsv").read_text().splitlines() if (work / "steps.tsv").is_file() else []:
        name, rc, seconds, note = (line.split("\t") + [""] * 4)[:4]
        found[name] = {"rc": None if rc == "-" else int(rc), "seconds": int(seconds), "note": note}
    return found


def speed(work: Path, workers: list[int]) -> dict[int, dict]:
    """Per worker count: run.json's frames/s (start-up included) and the steady rate from the
    full run less its one-clip-per-split start-up run: (N - n) / (T - t)."""
    rows = {}
    for count in workers:
        full, start = _json(work / "runs" / f"w{count}" / "run.json"), _json(work / "runs" / f"w{count}-start" / "run.json")
        if not full or full.get("status") != "complete":
            continue
        row = {"frames": full["frames_processed"], "seconds": full["processing_seconds"], "frames_per_s": full["frames_per_second"]}
        if start and start.get("status") == "complete" and full["processing_seconds"] > start["processing_seconds"]:
            frames = full["frames_processed"] - start["frames_processed"]
            seconds = full["processing_seconds"] - start["processing_seconds"]
            row["steady_frames_per_s"] = round(frames / seconds, 1)
            row["start_up_s"] = round(max(0.0, start["processing_seconds"] - start["frames_processed"] / row["steady_frames_per_s"]), 2)
            row["phoenix_t_minutes"] = round((row["start_up_s"] + PHOENIX_T_FRAMES / row["steady_frames_per_s"]) / 60, 1)
        rows[count] = row
    return rows


def _parts(report: dict | None, key: str) -> str:
    if not report:
        return "-"
    return ", ".join(f"{part} {stats[key]:.4g}" for part, stats in report["parts"].items() if part in IMAGE_PARTS)


def evaluate(work: Path, device: str, workers: list[int], batches: list[int]) -> tuple[list[tuple[str, str, str]], dict]:
    """(status, target, what was measured) per target, and the numbers."""
    ran = steps(work)
    targets: list[tuple[str, str, str]] = []
    rates = speed(work, workers)
    best = max(rates.items(), key=lambda kv: kv[1].get("steady_frames_per_s", kv[1]["frames_per_s"]), default=None)
    fps_text = "; ".join(f"{n} worker(s) {r.get('steady_frames_per_s', '-')} steady ({r['frames_per_s']} with start-up)" for n, r in rates.items())
    if device == "cpu":
        targets.append(("N/A", f"end to end >= {TARGET_FPS:,.0f} frames/s", f"not applicable on cpu (measured: {fps_text or 'none'})"))
    elif best is None:
        targets.append(("NOT RUN", f"end to end >= {TARGET_FPS:,.0f} frames/s", "no speed run finished"))
    else:
        rate = best[1].get("steady_frames_per_s", best[1]["frames_per_s"])
        targets.append(("PASS" if rate >= TARGET_FPS else "FAIL", f"end to end >= {TARGET_FPS:,.0f} frames/s",
                        f"best {rate:,.1f} frames/s at {best[0]} worker(s); {fps_text}"))  # fmt: skip

    def bitwise(label: str, names: list[str]) -> None:
        results = [(name, ran.get(f"verify-{name}", {}).get("rc")) for name in names]
        if any(rc is None for _, rc in results):
            missing = [name for name, rc in results if rc is None]
            targets.append(("NOT RUN", f"bitwise across {label}", f"not verified: {', '.join(missing)}"))
        else:
            text = ", ".join(f"{name} {'equal' if rc == 0 else 'DIFFERENT' if rc == 1 else f'error (rc {rc})'}" for name, rc in results)
            targets.append(("PASS" if all(rc == 0 for _, rc in results) else "FAIL", f"bitwise across {label}", text))

    bitwise("workers (1 vs each)", [f"workers-{n}" for n in workers[1:]])
    bitwise("batch sizes (dev clips)", [f"batch-{b}" for b in batches[1:]])
    bitwise("clip orders (dev clips listed in reverse, 2 workers)", ["order"])

    cpu = _log(work, "compare-cpu")
    if cpu is None or not cpu.get("frames"):
        targets.append(("NOT RUN", "GPU vs CPU torch", "no comparison"))
    else:
        worst = max(cpu["parts"][p]["median"] for p in IMAGE_PARTS)
        hands = min(cpu["parts"][p]["agreement"] for p in ("left_hand", "right_hand"))
        targets.append(("PASS" if worst <= GPU_CPU_MEDIAN_PX else "FAIL", f"{device} vs CPU torch: median <= {GPU_CPU_MEDIAN_PX} px per part",
                        f"{cpu['frames']} frames; median px: {_parts(cpu, 'median')}"))
        targets.append(("PASS" if hands >= HAND_AGREEMENT else "FAIL", f"{device} vs CPU torch: same hand presence on >= {HAND_AGREEMENT:.1%} of frames",
                        f"left {cpu['parts']['left_hand']['agreement']:.2%}, right {cpu['parts']['right_hand']['agreement']:.2%}"))  # fmt: skip
    mp = _log(work, "compare-mediapipe")
    if mp is None or not mp.get("frames"):
        targets.append(("NOT RUN", "vs MediaPipe (frame mode, stored)", "no comparison"))
    else:
        ok = all(mp["parts"][p]["agreement"] >= MP_AGREEMENT and mp["parts"][p]["median"] <= MP_MEDIAN_PX and mp["parts"][p]["p99"] <= MP_P99_PX
                 for p in IMAGE_PARTS)  # fmt: skip
        targets.append(("PASS" if ok else "FAIL", f"{device} vs MediaPipe (frame mode, stored): presence >= {MP_AGREEMENT:.0%},"
                        f" median <= {MP_MEDIAN_PX} px, p99 <= {MP_P99_PX} px per part (the torch estimator's fidelity bounds)",
                        f"{mp['frames']} frames of {len(mp['sources'])} sources; median px: {_parts(mp, 'median')}; p99 px: {_parts(mp, 'p99')}"))  # fmt: skip
    numbers = {"speed": rates, "steps": ran, "compare_cpu": cpu, "compare_mediapipe": mp, "compare_litert": _log(work, "compare-litert"),
               "bench": {path.stem: _json(path) for path in sorted(work.glob("bench-*.json"))},
               "preflight": _json(work / "preflight.json"), "data": _log(work, "data")}  # fmt: skip
    return targets, numbers


def _bench_lines(bench: dict) -> list[str]:
    lines = []
    for name, report in bench.items():
        for row in (report or {}).get("rows", []):
            stages = ", ".join(f"{stage} {fps:,.0f}" for stage, fps in row["stages_frames_per_s"].items() if fps)
            lines.append(f"  {name} batch {row['batch']}: {row['frames_per_s']:,.1f} frames/s, {row['syncs_per_batch']:g} syncs per batch;"
                         f" stages (frames/s): {stages}; host work {row['host_frames_per_s']}")  # fmt: skip
    return lines


def write(work: Path, out: Path, device: str, workers: list[int], batches: list[int], wall: int | None) -> bool:
    targets, numbers = evaluate(work, device, workers, batches)
    pre = numbers["preflight"] or {}
    passed = all(status in ("PASS", "N/A") for status, _, _ in targets)
    lines = [f"signpose GPU check on {device}: {pre.get('gpu') or 'no GPU'}, {pre.get('cores')} cores; Python {pre.get('python')},"
             f" torch {pre.get('torch')} (CUDA {pre.get('cuda')}), numpy {pre.get('numpy')}, OpenCV {pre.get('opencv')}"
             + (f"; {wall} s" if wall is not None else ""),
             f"data: {json.dumps((numbers['data'] or {}).get('frames'))} frames 210x260 PNG in {json.dumps((numbers['data'] or {}).get('clips'))} clips",
             f"RESULT: {'PASS' if passed else 'FAIL'}", "", "targets:"]  # fmt: skip
    lines += [f"  {status:<7} {target}: {measured}" for status, target, measured in targets]
    lines += ["", "end to end (steady: the full run less its start-up run; PHOENIX-2014-T minutes at that rate, start-up included):"]
    lines += [f"  {n} worker(s): {json.dumps(row)}" for n, row in numbers["speed"].items()] or ["  none"]
    lines += ["", "stages and host-device synchronisations (the torch bench):"] + (_bench_lines(numbers["bench"]) or ["  none"])
    for label, key in (("CPU torch", "compare_cpu"), ("LiteRT", "compare_litert"), ("MediaPipe (stored)", "compare_mediapipe")):
        report = numbers[key]
        if report and report.get("frames"):
            lines.append(f"\n{device} vs {label}, {report['frames']} frames: presence agreement {_parts(report, 'agreement')};"
                         f" median px {_parts(report, 'median')}; p99 px {_parts(report, 'p99')}; max px {_parts(report, 'max')}")  # fmt: skip
    if not pre.get("litert_runs", True):
        lines.append(f"\nLiteRT not compared: OpenCV {pre.get('opencv')} here; the litert estimator needs OpenCV 4.x")
    lines += ["", "steps (rc, seconds):"] + [f"  {name}: {s['rc']}, {s['seconds']} s {s['note']}".rstrip() for name, s in numbers["steps"].items()]
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps({"targets": targets, "passed": passed, **numbers}, indent=1, default=str) + "\n")
    return passed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--wall", type=int, default=None, help="seconds the check has run so far")
    args = parser.parse_args(argv)
    return 0 if write(args.work, args.out, args.device, args.workers, args.batches, args.wall) else 1


if __name__ == "__main__":
    raise SystemExit(main())
