"""Command line: the only place that prints and chooses exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from signpose import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

DESCRIPTION = """\
signpose: MediaPipe Holistic keypoints (body, face, hands, and the body's world
coordinates) for every frame of a sign-language dataset -- RWTH-PHOENIX-Weather 2014-T,
PHOENIX-2014, a folder of frame folders, a folder of videos, or one video -- on one core,
all cores, or a Ray cluster, with the same bytes out however the work was split."""

EPILOG = """\
examples:
  signpose extract /data/PHOENIX-2014-T-release-v3 -o runs/phoenix-t
  signpose extract clip.mp4 -o runs/one-clip --mode video
  signpose verify runs/phoenix-t runs/phoenix-t-other-machine
  signpose export runs/phoenix-t phoenix-t.pkl
  signpose render runs/phoenix-t train/<clip> -o sheet.png
  signpose report runs/phoenix-t -o report.html

exit status: 0 done (or equal, for verify); 1 some clips failed (or inputs differ);
2 usage, dataset, input or output-folder error (one line on stderr); 130 interrupted
(resumable: run the same command again)."""


def _add_extract(commands) -> None:
    from signpose.estimators import REGISTRY

    parser = commands.add_parser(
        "extract", help="extract keypoints of a dataset into a run folder",
        description="Extract keypoints of every clip of a dataset into a run folder (resumable).",
    )  # fmt: skip
    parser.add_argument("dataset", type=Path, help="dataset root (PHOENIX-2014-T, PHOENIX-2014, a folder of clip folders or of videos), one video file, or a video manifest .csv")
    parser.add_argument("-o", "--output", type=Path, required=True, help="run folder to write (created; resumed if it holds a run)")
    parser.add_argument("--workers", "--num_workers", "--num-workers", dest="workers", type=int, default=None,
                        help="worker processes (default: all cores; --estimator torch: one per GPU, else 1)")
    parser.add_argument("--estimator", choices=sorted(REGISTRY), default=None,
                        help="litert: signpose's own Holistic graph on LiteRT, the CPU (default; a run being resumed keeps"
                             " the estimator it was started with); mediapipe: MediaPipe Holistic itself (pip install"
                             " 'signpose[mediapipe]', Python 3.10-3.12); torch: the same graph batched in PyTorch (GPU)")
    parser.add_argument("--mode", choices=["image", "video", "frame"], default=None,
                        help="frame: every frame on its own, a function of its own pixels alone (litert and torch: the only"
                             " mode). --estimator mediapipe: image (its default), static image mode, each clip on a fresh"
                             " graph; video: tracking between frames (faster, smoother); frame: a fresh graph per frame")
    parser.add_argument("--refine-face", action="store_true", help="478 face points (adds irises)")
    parser.add_argument("--no-world-landmarks", dest="world_landmarks", action="store_false",
                        help="leave out POSE_WORLD_LANDMARKS: 543-point files as signpose 0.1 wrote them (default: the standard 576)")
    parser.add_argument("--model-complexity", type=int, choices=[0, 1, 2], default=1,
                        help="pose model size; only 1 ships (with signpose, and with mediapipe 0.10.21)")
    parser.add_argument("--min-detection-confidence", type=float, default=0.5,
                        help="MediaPipe's detection threshold, 0..1 (default 0.5)")
    parser.add_argument("--min-tracking-confidence", type=float, default=0.5,
                        help="MediaPipe's tracking threshold, 0..1 (default 0.5): the body's presence score must pass it")
    parser.add_argument("--device", default=None, help="torch estimator: cuda or cpu (default: cuda when available)")
    parser.add_argument("--batch-size", type=int, default=None, help="torch estimator: frames per batch")
    parser.add_argument("--max-frame-megapixels", type=float, default=50.0,
                        help="a frame declaring more pixels than this (in its header) is a failed frame, never decoded (default 50)")
    parser.add_argument("--max-frame-mb", type=float, default=200.0,
                        help="an image file larger than this is a failed frame, never read (default 200)")
    parser.add_argument("--layout", default="auto", help="dataset layout: auto (default), phoenix-2014-t, phoenix-2014, folder, video")
    parser.add_argument("--splits", nargs="+", default=None, help="only these splits (e.g. train dev)")
    parser.add_argument("--max_samples_per_split", "--max-samples-per-split", dest="max_samples_per_split", type=int,
                        default=None, help="only the first N clips of each split")
    parser.add_argument("--overwrite", action="store_true", help="discard an earlier run in the output folder")
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="local: worker processes on this machine (default); ray: actors on a Ray cluster")
    parser.add_argument("--stall-timeout", type=float, default=None, metavar="SECONDS",
                        help="a worker that finishes no frame for this long (or 10x the longest pause seen, if more) is"
                             " killed and its clip retried (default 300; env SIGNPOSE_STALL_TIMEOUT)")
    parser.add_argument("--ray-address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_export(commands) -> None:
    parser = commands.add_parser("export", help="write a run as the seed's pickle schema, or as arrays")
    parser.add_argument("run", type=Path, help="run folder, or a folder of .pose files")
    parser.add_argument("output", type=Path, help="out.pkl (pickle) or a folder (npz: one <split>.npz each)")
    parser.add_argument("--format", choices=["pickle", "npz"], default="pickle",
                        help="pickle: the seed's schema (default); npz: one <split>.npz of arrays per split")
    parser.add_argument("--splits", nargs="+", default=None, help="only these splits (default: all)")


def _add_verify(commands) -> None:
    parser = commands.add_parser("verify", help="compare two runs, .pose folders or seed pickles; exit 0 when equal")
    parser.add_argument("a", type=Path, help="run folder, folder of .pose files, or seed-schema pickle")
    parser.add_argument("b", type=Path, help="run folder, folder of .pose files, or seed-schema pickle")
    parser.add_argument("--splits", nargs="+", default=None, help="only these splits (default: all)")
    parser.add_argument("--atol", type=float, default=0.0, help="largest allowed absolute difference (default 0: bitwise)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_render(commands) -> None:
    parser = commands.add_parser("render", help="draw a clip's keypoints over its frames (.mp4, .gif, or a .png contact sheet)")
    parser.add_argument("run", type=Path, help="run folder, or a folder of .pose files")
    parser.add_argument("clip", help="clip id, or split/clip")
    parser.add_argument("-o", "--output", type=Path, required=True, help="out.mp4, out.gif, or out.png (a sheet of --frames frames)")
    parser.add_argument("--split", default=None, help="the clip's split (needed only when the clip id is in several splits)")
    parser.add_argument("--no-video", action="store_true", help="draw on a blank canvas instead of the clip's frames")
    parser.add_argument("--frames", type=int, default=12, help="frames on a .png contact sheet (default 12)")


def _add_report(commands) -> None:
    parser = commands.add_parser("report", help="write a self-contained HTML report of a run")
    parser.add_argument("run", type=Path, help="run folder")
    parser.add_argument("-o", "--output", type=Path, required=True, help="report.html to write")
    parser.add_argument("--lowest", type=int, default=8, help="show the N clips with the least hand detection (default 8)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signpose", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"signpose {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_extract(commands)
    _add_export(commands)
    _add_verify(commands)
    _add_render(commands)
    _add_report(commands)
    return parser


def _error(message: str) -> int:
    print(f"signpose: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _os_error(error: OSError) -> str:
    """One line naming the file and the problem."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error.strerror or error}"


def _estimator_spec(args: argparse.Namespace, name: str):
    """The estimator ``name`` with the options given; ``--mode`` left unsaid is the
    estimator's own default (mediapipe: image; litert and torch: frame)."""
    from signpose.errors import EstimatorError
    from signpose.estimators import EstimatorSpec, default_options

    params: dict = {
        "mode": args.mode or default_options(name).get("mode", "frame"),
        "refine_face": args.refine_face,
        "model_complexity": args.model_complexity,
        "min_detection_confidence": args.min_detection_confidence,
        "min_tracking_confidence": args.min_tracking_confidence,
        "world_landmarks": args.world_landmarks,
    }
    for option, value in (("device", args.device), ("batch_size", args.batch_size)):
        if value is None:
            continue
        if option not in default_options(name):
            raise EstimatorError(f"--{option.replace('_', '-')} is an option of --estimator torch, not of {name}")
        params[option] = value
    return EstimatorSpec.of(name, params)


def _frame_limits(args: argparse.Namespace):
    from signpose.errors import SignposeError
    from signpose.sources import FrameLimits

    if not args.max_frame_megapixels > 0 or not args.max_frame_mb > 0:
        raise SignposeError("--max-frame-megapixels and --max-frame-mb must be positive numbers")
    return FrameLimits(max_pixels=int(args.max_frame_megapixels * 1e6), max_bytes=int(args.max_frame_mb * 1e6))


def _interrupt_on(signals: Sequence[int]) -> dict[int, object]:
    """SIGTERM and SIGHUP stop a run as Ctrl-C does (KeyboardInterrupt: finished clips
    kept, run.json "interrupted", exit 130); the first one only, so cleaning up is not cut
    short by a second. Returns the handlers to put back."""
    import signal

    def interrupt(signum, frame) -> None:
        for number in signals:
            signal.signal(number, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {}
    for number in signals:
        try:
            if signal.getsignal(number) is signal.SIG_IGN:  # nohup: a hangup must not stop the run
                continue
            previous[number] = signal.signal(number, interrupt)
        except (ValueError, OSError):  # not the main thread: leave the default
            pass
    return previous


def run_extract(args: argparse.Namespace) -> int:
    import signal

    if args.workers is not None and args.workers < 1:
        return _error(f"--workers must be at least 1, not {args.workers}")
    if args.stall_timeout is not None and not args.stall_timeout > 0:
        return _error(f"--stall-timeout must be a positive number of seconds, not {args.stall_timeout}")
    previous = _interrupt_on([signal.SIGTERM, signal.SIGHUP])
    try:
        return _run_extract(args)
    except KeyboardInterrupt:  # before the run started (or after it ended): nothing to resume
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_extract(args: argparse.Namespace) -> int:
    from signpose.backends import make_backend
    from signpose.extract.workers import plan_workers
    from signpose.datasets import open_dataset
    from signpose.extract.gpus import gpu_plan
    from signpose.run.lock import run_lock
    from signpose.cli.progress import format_progress
    from signpose.estimators import DEFAULT, make_estimator
    from signpose.extract.driver import extract, recorded_estimator

    limits = _frame_limits(args)
    # The lock first: nothing in the output folder is read or written (options, dataset,
    # overwrite) while another run may be using it.
    with run_lock(args.output):
        # A run being resumed keeps its estimator unless another is asked for.
        name = args.estimator or (None if args.overwrite else recorded_estimator(args.output)) or DEFAULT
        spec = _estimator_spec(args, name)
        estimator = make_estimator(spec)  # checks the options; its hints size the workers
        dataset = open_dataset(args.dataset, args.layout, args.splits, args.max_samples_per_split)
        gpus = gpu_plan(estimator=name, backend=args.backend, workers=args.workers, device=args.device)
        workers = gpus.workers  # torch: one process per GPU (it batches frames itself), pinned to it
        if args.backend == "local":
            plan = plan_workers(workers, per_core=estimator.hints.workers_per_core, worker_memory=estimator.hints.worker_memory)
            if plan.note:
                print(f"signpose: note: {plan.note}", file=sys.stderr)
            workers = plan.workers
        backend = make_backend(args.backend, workers, args.ray_address, stall_timeout=args.stall_timeout, gpus=gpus.gpus)
        show = not args.quiet and sys.stderr.isatty()

        def on_progress(progress) -> None:
            if show:
                print("\r" + format_progress(progress) + "\x1b[K", end="", file=sys.stderr, flush=True)

        summary = extract(dataset, args.output, spec, backend, args.overwrite, on_progress, args.backend, limits, locked=True,
                          estimator=estimator)
    if show:
        print(file=sys.stderr)
    print(
        f"{summary.out}: {summary.clips_total} clips ({summary.clips_skipped} already done,"
        f" {summary.clips_processed} processed), {summary.frames_processed} frames in {summary.elapsed:.1f} s"
        f" ({summary.frames_per_second:.1f} frames/s)",
        file=sys.stderr,
    )
    if summary.clips_changed:
        changed = summary.clips_changed
        print(f"{changed} clip{'s' if changed != 1 else ''} changed since the last run: redone", file=sys.stderr)
    for result in summary.frame_failures:
        for failure in result.frame_failures:
            print(f"  warning: {result.split}/{result.clip_id}: frame {failure.frame}: {failure.error}", file=sys.stderr)
    for result in summary.failed:
        print(f"  FAILED {result.split}/{result.clip_id}: {result.error}", file=sys.stderr)
    if summary.status == "interrupted":
        command = " ".join(sys.argv[1:]) if sys.argv[1:2] == ["extract"] else f"extract {args.dataset} -o {args.output}"
        print(f"interrupted: finished clips are kept. Resume with: signpose {command}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if summary.failed:
        internal = len(summary.internal_errors)
        bugs = (
            f"; {internal} of them by an internal error, not bad input: please report it with the traceback"
            f" in {summary.out / 'logs'}" if internal else ""
        )
        print(f"{len(summary.failed)} clip(s) failed (listed above; recorded in {summary.out / 'index.jsonl'}){bugs}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from signpose.tools.export_pickle import export_pickle
    from signpose.tools.export_npz import export_npz

    write = export_npz if args.format == "npz" else export_pickle
    summary = write(args.run, args.output, args.splits)
    print(f"{args.output}: {summary.frames} frames of {summary.clips} clips ({', '.join(summary.splits)})", file=sys.stderr)
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    from signpose.tools.verify import compare_sources

    report = compare_sources(args.a, args.b, args.splits, args.atol)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    return EXIT_OK if report.equal else EXIT_FAILED


def run_render(args: argparse.Namespace) -> int:
    from signpose.tools.render import render_clip

    summary = render_clip(args.run, args.split, args.clip, args.output, args.no_video, args.frames)
    print(
        f"{summary.out}: {summary.frames} frames of {summary.split}/{summary.clip_id} ({summary.kind}, {summary.width}x{summary.height})",
        file=sys.stderr,
    )
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from signpose.tools.report import write_report

    summary = write_report(args.run, args.output, args.lowest)
    print(
        f"{summary.out}: {summary.clips} clips, {summary.failed_clips} failed, {summary.clips_with_failed_frames} with failed"
        f" frames, {summary.thumbnails} thumbnails ({summary.bytes / 1e6:.1f} MB)",
        file=sys.stderr,
    )
    return EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "extract": run_extract, "export": run_export, "verify": run_verify, "render": run_render, "report": run_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    from signpose.errors import SignposeError

    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except SignposeError as error:
        return _error(str(error))
    except OSError as error:  # a path the user gave that cannot be read or written
        return _error(_os_error(error))
