#!/usr/bin/env bash
# The GPU checks of the torch estimator, as one run on the GPU server (one H200, 16 cores,
# Python 3.12 with torch, offline). From the project root, with the packed dependencies
# (bash ../shared/device/pack.sh builds .device/site.tar.xz):
#   device run: command "bash scripts/gpu_check.sh", carry [".device/site.tar.xz"], timeout_s 540
# Results go to $OUT (else ./gpu-check); summary.txt says what passed and the numbers:
#   1. frames/s end to end and per stage (the GPU bench) at net batch 64 and 256;
#   2. the same bytes for two batch sizes and two workers on the GPU (verify, bitwise);
#   3. how far the GPU's keypoints are from the torch estimator on the CPU and from MediaPipe
#      (--mode frame), as verify --atol reports them;
#   4. (SWEEP=1) MediaPipe's worker sweep on 16 cores: bench/run.py --workers 16,24,32.
# To try it without a GPU: DEVICE=cpu FRAMES=16 NET_BATCHES=16 CLIPS=2 SWEEP=0 bash scripts/gpu_check.sh
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
work=$(mktemp -d)
if [ -f .device/site.tar.xz ]; then
  mkdir -p /tmp/site && tar -xJf .device/site.tar.xz -C /tmp/site
  export PYTHONPATH=/tmp/site:$PWD/src:$PWD
else
  export PYTHONPATH=$PWD/src:$PWD
fi
py=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
device=${DEVICE:-cuda} frames=${FRAMES:-4096} clips=${CLIPS:-16}
summary=$out/summary.txt
say() { echo "$*" | tee -a "$summary"; }
: > "$summary"
say "gpu_check $(date -u +%FT%TZ) device=$device $(nvidia-smi -L 2>/dev/null | head -1)"
say "$($py -c 'import torch, numpy, cv2; print("torch", torch.__version__, "cuda", torch.version.cuda, "numpy", numpy.__version__, "cv2", cv2.__version__)' 2>&1)"
video=tests/data/signing/slp_site_asl_different.mp4  # 64 frames, hands in most

# 1. the GPU bench: two net batches (the bits depend on it; speed decides the default)
for nb in ${NET_BATCHES:-64 256}; do
  $py -m signpose.estimators.torch_holistic.bench "$video" --device "$device" --frames "$frames" \
    --batch 64 256 512 --net-batch "$nb" --json "$out/gpu-nb$nb.json" > "$out/gpu-nb$nb.md" 2>&1
  say "bench net batch $nb (rc $?): $(grep -m1 'end to end' "$out/gpu-nb$nb.md")"
  say "  $(grep -m1 'host work' "$out/gpu-nb$nb.md")"
done

# 2. and 3. a PHOENIX-shaped dataset from the shipped videos, extracted four ways
$py - "$work/data" "$clips" <<'PY'
import sys
from pathlib import Path
from bench.dataset import build_phoenix_t, synthetic_rows
videos = sorted(Path("tests/data/signing").glob("slp_*.mp4"))
build_phoenix_t(Path(sys.argv[1]) / "PHOENIX-2014-T", videos, synthetic_rows(int(sys.argv[2])), frames_per_clip=40,
                start_offsets=(0, 17, 33))
PY
data=$work/data
extract() { local name=$1; shift; local t0=$SECONDS
  $py -m signpose extract "$data" -o "$work/$name" --quiet "$@" > "$out/extract-$name.log" 2>&1
  say "extract $name $* (rc $?, $((SECONDS - t0)) s)"; }
extract gpu64 --estimator torch --device "$device" --batch-size 64
extract gpu16 --estimator torch --device "$device" --batch-size 16
extract gpu2w --estimator torch --device "$device" --batch-size 64 --workers 2
extract cpu --estimator torch --device cpu --workers 1
extract mediapipe --estimator mediapipe --mode frame
check() { local name=$1 a=$2 b=$3; shift 3
  $py -m signpose verify "$work/$a" "$work/$b" --json "$@" > "$out/verify-$name.json" 2>&1
  say "verify $name: $a vs $b $* (rc $?): $($py - "$out/verify-$name.json" <<'PY' 2>&1 | tail -1
import json, sys
report, parts = json.load(open(sys.argv[1])), {}
for split in report["splits"]:
    for p in split["parts"]:
        q = parts.setdefault(p["part"], [0.0, 0, 0])
        q[0], q[1], q[2] = max(q[0], p["max_abs_diff"] or 0.0), q[1] + p["only_a"], q[2] + p["only_b"]
print("equal" if report["equal"] else "NOT equal", "; ".join(f"{k} max {v[0]:.2g}, only in a {v[1]}, only in b {v[2]}" for k, v in parts.items()))
PY
)"; }
check batches gpu64 gpu16
check workers gpu64 gpu2w
check gpu-cpu gpu64 cpu --atol 1e-3
check gpu-mediapipe gpu64 mediapipe --atol 0.05

# 4. MediaPipe's worker sweep on 16 cores
if [ "${SWEEP:-1}" = 1 ]; then
  timeout 240 $py bench/run.py --workers 16,24,32 --modes image --repeats 1 --overhead-frames 0 \
    --out "$work/bench" > "$out/sweep.log" 2>&1
  say "sweep (rc $?): $(ls "$work"/bench/*.md 2>/dev/null | head -1)"
  cp "$work"/bench/*.md "$out/" 2>/dev/null
fi
rm -rf "$work"
