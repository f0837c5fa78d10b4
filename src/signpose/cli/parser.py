"""The command line's arguments: the ``signpose`` command and its five subcommands, their
options and help (what ``signpose --help`` shows)."""

from __future__ import annotations

import argparse
from pathlib import Path

from signpose import __version__

DESCRIPTION = """\
signpose: MediaPipe Holistic keypoints (body, face, hands, and the body's world
coordinates) for every frame of a sign-language dataset -- RWTH-PHOENIX-Weather 2014-T,
PHOENIX-2014, a folder of frame folders, a folder of videos, or one video -- on one core,
all cores, or a Ray cluster, with the same bytes out however the work was split."""

EPILOG = """\
examples:
  signpose extract /data/PHOENIX-2014-T-release-v3 -o runs/phoenix-t
  signpose extract clip.mp4 -o runs/one-clip
  signpose extract clip.mp4 -o runs/one-clip-tracked --estimator mediapipe --mode video
  signpose verify runs/phoenix-t runs/phoenix-t-other-machine
  signpose export runs/phoenix-t phoenix-t.pkl
  signpose export runs/phoenix-t parquet/ --format parquet
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
                        help="leave out POSE_WORLD_LANDMARKS: 543-point files, as signpose wrote them before world landmarks (default: the standard 576)")
    parser.add_argument("--model-complexity", type=int, choices=[0, 1, 2], default=1,
                        help="pose model size; only 1 ships (with signpose, and with mediapipe 0.10.21)")
    parser.add_argument("--min-detection-confidence", type=float, default=0.5,
                        help="MediaPipe's detection threshold, 0..1 (default 0.5)")
    parser.add_argument("--min-tracking-confidence", type=float, default=0.5,
                        help="MediaPipe's tracking threshold, 0..1 (default 0.5): the body's presence score must pass it")
    parser.add_argument("--device", default=None, help="torch estimator: cuda or cpu (default: cuda when available)")
    parser.add_argument("--batch-size", type=int, default=None, help="torch estimator: frames per batch")
    parser.add_argument("--workers-per-gpu", type=int, default=None,
                        help="torch estimator on cuda, local backend: worker processes per visible GPU (default 1)")
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
    parser = commands.add_parser(
        "export", help="write a run as the keypoints pickle of data/extract_phoenix_keypoints*.py, as arrays, or as Parquet for training")
    parser.add_argument("run", type=Path, help="run folder, a folder of .pose files, or a Parquet export")
    parser.add_argument("output", type=Path, help="out.pkl (pickle) or a folder (npz, parquet: one <split>.npz / <split>.parquet each)")
    parser.add_argument("--format", choices=["pickle", "npz", "parquet"], default="pickle",
                        help="pickle: the keypoints pickle, as data/extract_phoenix_keypoints*.py wrote it (default); npz: one"
                             " <split>.npz of arrays per split; parquet: one <split>.parquet per split, one row per clip with its"
                             " labels (pip install 'signpose[parquet]')")
    parser.add_argument("--splits", nargs="+", default=None, help="only these splits (default: all)")


def _add_verify(commands) -> None:
    parser = commands.add_parser("verify", help="compare two runs, .pose folders, Parquet exports or keypoints pickles; exit 0 when equal")
    parser.add_argument("a", type=Path, help="run folder, folder of .pose files, Parquet export, or keypoints pickle")
    parser.add_argument("b", type=Path, help="run folder, folder of .pose files, Parquet export, or keypoints pickle")
    parser.add_argument("--splits", nargs="+", default=None, help="only these splits (default: all)")
    parser.add_argument("--atol", type=float, default=0.0, help="largest allowed absolute difference (default 0: bitwise)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_render(commands) -> None:
    parser = commands.add_parser("render", help="draw a clip's keypoints over its frames (.mp4, .gif, or a .png contact sheet)")
    parser.add_argument("run", type=Path, help="run folder, a folder of .pose files, or a Parquet export")
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
