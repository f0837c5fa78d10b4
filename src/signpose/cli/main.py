"""The ``signpose`` command: runs a subcommand (arguments: ``parser``) and is, with the
original scripts' command lines (``scripts``), the only place that prints and chooses exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from signpose.cli.parser import build_parser

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

def _error(message: str) -> int:
    print(f"signpose: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _os_error(error: OSError) -> str:
    """One line naming the file and the problem."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error.strerror or error}"


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
    from functools import partial

    from signpose.cli.progress import format_progress
    from signpose.extract.driver import run_extraction
    from signpose.extract.plan import Request, make_plan

    request = Request(
        dataset=args.dataset, estimator=args.estimator, layout=args.layout, backend=args.backend,
        splits=tuple(args.splits) if args.splits else None, max_samples_per_split=args.max_samples_per_split,
        workers=args.workers, ray_address=args.ray_address, stall_timeout=args.stall_timeout,
        workers_per_gpu=args.workers_per_gpu,
        options={"mode": args.mode, "refine_face": args.refine_face, "model_complexity": args.model_complexity,
                 "min_detection_confidence": args.min_detection_confidence,
                 "min_tracking_confidence": args.min_tracking_confidence, "world_landmarks": args.world_landmarks,
                 "device": args.device, "batch_size": args.batch_size},
    )  # fmt: skip
    show = not args.quiet and sys.stderr.isatty()

    def on_progress(progress) -> None:
        if show:
            print("\r" + format_progress(progress) + "\x1b[K", end="", file=sys.stderr, flush=True)

    def note(text: str) -> None:
        print(f"signpose: note: {text}", file=sys.stderr)

    summary = run_extraction(args.output, partial(make_plan, request, note=note), overwrite=args.overwrite,
                             on_progress=on_progress, limits=_frame_limits(args))  # fmt: skip
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
    from signpose.tools.export import export

    summary = export(args.run, args.output, format=args.format, splits=args.splits)
    for clip in summary.left_out:
        print(f"  left out {clip.split}/{clip.clip_id} ({clip.kind}): {clip.reason}", file=sys.stderr)
    where = "listed above, and in each file's metadata" if args.format == "parquet" else "listed above"
    left = f"; {len(summary.left_out)} clip(s) left out ({where})" if summary.left_out else ""
    print(f"{args.output}: {summary.frames} frames of {summary.clips} clips ({', '.join(summary.splits)}){left}", file=sys.stderr)
    if summary.unreadable:  # an ok clip whose .pose is missing or damaged: the export is not the run
        print(f"{len(summary.unreadable)} clip(s) left out because their .pose file cannot be read or changed since the run",
              file=sys.stderr)
        return EXIT_FAILED
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
