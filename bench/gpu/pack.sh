#!/usr/bin/env bash
# What the offline GPU server lacks for signpose and its GPU check, packed here (pip must reach
# PyPI) for Python 3.12 x86_64 into .device/site.tar.xz (git-ignored), to carry with the checkout.
# The server has Python 3.12, torch + CUDA, numpy 2.x, opencv-python-headless, Pillow,
# matplotlib, absl-py, attrs, flatbuffers and no internet (../shared/device/README.md). It lacks:
#   pose-format (+ simple-video-utils), PyAV (av), tqdm, and ai-edge-litert (the LiteRT
#   estimator, the check's CPU comparison; its GPU-, NPU- and compiler-only parts are left out);
#   and, in fallback/ (check.sh puts it on the path only where the server has no pytest), pytest
#   with pluggy, iniconfig and Pygments: the check's MediaPipe comparison imports tests/.
# Not packed: numpy, OpenCV, torch (the server's own: a second numpy would break its torch);
# mediapipe (it needs numpy < 2: the check compares with MediaPipe's keypoints stored in
# tests/data/mediapipe_frame_mode instead); pyarrow (the check never writes Parquet). signpose
# itself travels as the checkout's src/, its six networks with it (tracked; checked below).
# The versions are those the tests run with: PyAV's decides the pixels the stored MediaPipe
# keypoints are checked against. Run from anywhere:  bash bench/gpu/pack.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES=${PACKAGES:-"pose-format==0.15.0 simple-video-utils==0.9.2 tqdm==4.70.1 av==18.1.0 ai-edge-litert==2.3.0"}
FALLBACK=${FALLBACK:-"pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0"}
LIMIT=$((64 * 1024 * 1024))  # what the device tool carries: the pack and the working tree together
pack=.device/site.tar.xz
fail() { echo "bench/gpu/pack.sh: $*" >&2; exit 1; }

models=$(git ls-files 'src/signpose/estimators/holistic/models/*.tflite' | wc -l)
[ "$models" -eq 6 ] || fail "git tracks $models of the 6 networks in src/signpose/estimators/holistic/models: they would not travel"
py=${PIP_PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
"$py" -m pip --version >/dev/null 2>&1 || fail "no pip for $py (PIP_PYTHON= names a Python with pip)"
platforms="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
target="--python-version 3.12 --implementation cp --only-binary=:all: $platforms"

rm -rf .device/whl .device/site && mkdir -p .device/whl/main .device/whl/fallback
for part in main fallback; do
  wanted=$PACKAGES; [ "$part" = main ] || wanted=$FALLBACK
  # shellcheck disable=SC2086
  "$py" -m pip download -q --no-deps $target -d ".device/whl/$part" $wanted || fail "pip download failed (is PyPI reachable?)"
done
# shellcheck disable=SC2086
"$py" -m pip install -q --no-index --no-deps --no-compile $target --target .device/site .device/whl/main/*.whl &&
  "$py" -m pip install -q --no-index --no-deps --no-compile $target --target .device/site/fallback .device/whl/fallback/*.whl ||
  fail "could not unpack the wheels"
rm -rf .device/site/bin .device/site/fallback/bin .device/site/ai_edge_litert/{tools,vendors,aot,libLiteRtWebGpuAccelerator.so}
find .device/site -name __pycache__ -prune -exec rm -rf {} +
tar -cf - -C .device/site . | xz -T0 -9 > "$pack.tmp" && mv "$pack.tmp" "$pack"
rm -rf .device/whl .device/site

size=$(stat -c %s "$pack")
# what travels beside it: tracked and untracked-not-ignored files (a deleted one is not there to count)
tree=$( (git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null || true) | awk '{s += $1} END {print s + 0}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "$pack: $(mib "$size") ($PACKAGES; fallback: $FALLBACK); with the working tree ($(mib "$tree")): $(mib $((size + tree))) of $(mib $LIMIT)"
[ $((size + tree)) -le $LIMIT ] || fail "the pack and the working tree are over $(mib $LIMIT): they cannot travel together"
cat <<'TXT'
On the GPU server (no internet), from the project root:
  device run: command "bash bench/gpu/check.sh", carry [".device/site.tar.xz"], timeout_s 540
or by hand:
  mkdir -p /tmp/signpose-site && tar -xJf .device/site.tar.xz -C /tmp/signpose-site
  export PYTHONPATH=/tmp/signpose-site:$PWD/src:$PWD && python3 -m signpose extract DATA -o OUT --estimator torch
TXT
