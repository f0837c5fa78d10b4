"""The command lines of data/extract_phoenix_keypoints.py, data/extract_phoenix_keypoints_distributed.py
and verify_distributed_results.py, kept working verbatim as thin layers over the CLI.

Those scripts kept every keypoint in memory and wrote one pickle at the end. Here the work
goes to a run folder next to the pickle (``single.pkl`` -> ``single.run/``), so an
interrupted run resumes, and the keypoints pickle is exported from it in their exact schema.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from signpose.cli.main import EXIT_OK, main


def _extract_parser(description: str, default_workers: int | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset_path", required=True, help="PHOENIX-2014-T release root (or any signpose dataset)")
    parser.add_argument("--output_path", required=True, type=Path, help="keypoints pickle to write")
    parser.add_argument("--max_samples_per_split", type=int, default=None)
    parser.add_argument("--splits", nargs="+", default=None)
    parser.add_argument("--num_workers", type=int, default=default_workers)
    parser.add_argument("--mode", choices=["image", "video"], default=None,
                        help="MediaPipe's own image or video mode (--estimator mediapipe); default: signpose's"
                             " estimator, every frame on its own (a run being resumed keeps its estimator)")
    parser.add_argument("--backend", choices=["local", "ray"], default="local")
    parser.add_argument("--ray_address", default=None)
    parser.add_argument("--run_dir", type=Path, default=None, help="run folder (default: OUTPUT_PATH with .run instead of .pkl)")
    parser.add_argument("--overwrite", action="store_true")
    return parser


def extract_and_export(argv: Sequence[str] | None, description: str, default_workers: int | None) -> int:
    args = _extract_parser(description, default_workers).parse_args(argv)
    run_dir = args.run_dir or args.output_path.with_suffix(".run")
    command = ["extract", args.dataset_path, "-o", str(run_dir), "--backend", args.backend]
    if args.mode is not None:
        command += ["--estimator", "mediapipe", "--mode", args.mode]
    if args.num_workers is not None:
        command += ["--workers", str(args.num_workers)]
    if args.max_samples_per_split is not None:
        command += ["--max_samples_per_split", str(args.max_samples_per_split)]
    if args.splits:
        command += ["--splits", *args.splits]
    if args.ray_address:
        command += ["--ray-address", args.ray_address]
    if args.overwrite:
        command.append("--overwrite")
    status = main(command)
    if status not in (EXIT_OK, 1):  # failed clips are listed; the pickle still holds the others
        return status
    export_status = main(["export", str(run_dir), str(args.output_path)] + (["--splits", *args.splits] if args.splits else []))
    return export_status or status


def verify_pickles(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare a single-process and a distributed extraction.")
    parser.add_argument("--single", required=True, help="pickle or run folder")
    parser.add_argument("--distributed", required=True, help="pickle or run folder")
    parser.add_argument("--splits", nargs="+", default=None)
    parser.add_argument("--atol", type=float, default=0.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    command = ["verify", args.single, args.distributed, "--atol", str(args.atol)]
    command += ["--splits", *args.splits] if args.splits else []
    return main(command + (["--json"] if args.json else []))
