#!/usr/bin/env bash
# The torch estimator's GPU check, one run that answers everything (bench/README.md, "GPU
# check"): on the offline GPU server (one H200, 16 cores, Python 3.12 with torch + CUDA,
# numpy 2, OpenCV), from the project root, with the pack built here by bench/gpu/pack.sh:
#   device run: command "bash bench/gpu/check.sh", carry [".device/site.tar.xz"], timeout_s 540
# Anywhere, on the CPU, small (CI runs this; under 2 minutes on 2 cores; speed is not applicable there):
#   DEVICE=cpu bash bench/gpu/check.sh            (make gpu-check-cpu)
# It writes $OUT (default ./gpu-check): summary.txt (PASS / FAIL / N/A per target, then the
# numbers), results.json (all of them) and logs.tar.gz; exit 0 when every target that
# applies passed, 1 when one failed, 2 when something it needs is missing (one line, at once).
#   - end-to-end frames/s on PHOENIX-shaped 210x260 PNG clips at 1, 2 and 3 workers
#     (--estimator torch --device $DEVICE --workers N; steady rate: the full run less a
#     one-clip-per-split run), and the bench's stage times and syncs per batch;
#   - the same bytes for 1, 2, 3 workers, and (on the dev clips) for two batch sizes and for the
#     clips listed in the reverse order;
#   - per part distances of its keypoints to the torch estimator on the CPU, to LiteRT
#     (where OpenCV is 4.x) and to MediaPipe's stored frame-mode keypoints.
# Sizes: CLIPS, FRAMES_PER_CLIP, REF_CLIPS (dev clips the CPU estimators run), WORKERS,
# BATCHES (the first is the runs' own), NET_BATCHES and BENCH_BATCHES (the bench's), BENCH_FRAMES,
# START_RUNS (1: the start-up runs; cpu 0), MEDIAPIPE_ARGS (bench.gpu.compare mediapipe's), BUDGET
# (seconds for all steps; a step that would pass it is not run, and the summary says so), PYTHON, PACK.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
device=${DEVICE:-cuda}
out=${OUT:-gpu-check}
mkdir -p "$out" || exit 2
die() { echo "bench/gpu/check.sh: $*" | tee "$out/summary.txt" >&2; exit 2; }
case $device in
  cpu) clips=${CLIPS:-1} per_clip=${FRAMES_PER_CLIP:-4} ref_clips=${REF_CLIPS:-2} bench_frames=${BENCH_FRAMES:-8}
       bench_batches=${BENCH_BATCHES:-8} batches=${BATCHES:-"64 4"} net_batches=${NET_BATCHES:-default}
       mp_args=${MEDIAPIPE_ARGS:-"--sources slp_site_asl_different.mp4 --skip 16 --frames 4"} start_runs=${START_RUNS:-0} budget=${BUDGET:-300} ;;
  cuda*) clips=${CLIPS:-160} per_clip=${FRAMES_PER_CLIP:-100} ref_clips=${REF_CLIPS:-8} bench_frames=${BENCH_FRAMES:-4096}
       bench_batches=${BENCH_BATCHES:-"64 256"} batches=${BATCHES:-"64 16"} net_batches=${NET_BATCHES:-"64 256"}
       mp_args=${MEDIAPIPE_ARGS:-} start_runs=${START_RUNS:-1} budget=${BUDGET:-440} ;;
  *) die "DEVICE must be cuda or cpu, not '$device'" ;;
esac
workers=${WORKERS:-"1 2 3"}

# What the server lacks travels in the pack (required on a GPU; on the CPU the local venv does).
pack=${PACK:-.device/site.tar.xz}
export PYTHONPATH=$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ "$device" != cpu ] || [ -n "${PACK:-}" ]; then
  [ -f "$pack" ] || die "$pack is missing: build it with 'bash bench/gpu/pack.sh' (where pip reaches PyPI) and carry it"
  site=${TMPDIR:-/tmp}/signpose-site
  rm -rf "$site" && mkdir -p "$site" && tar -xJf "$pack" -C "$site" || die "$pack: cannot unpack it into $site"
  export PYTHONPATH=$site:$PYTHONPATH
fi
if [ -z "${PYTHON:-}" ] && [ "$device" = cpu ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi
py=${PYTHON:-python3}
command -v "$py" >/dev/null 2>&1 || die "no '$py' here (PYTHON= names the Python that has torch)"
if [ -n "${site:-}" ]; then
  version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$version" = 3.12 ] || die "the pack is for Python 3.12; $py is Python $version"
  "$py" -c "import pytest" 2>/dev/null || export PYTHONPATH=$PYTHONPATH:$site/fallback  # the server's own pytest first
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/signpose-gpu-check.XXXXXX") || die "cannot make a work folder"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/logs" "$work/runs"
# numpy, OpenCV and torch together, CUDA, pose-format, PyAV, LiteRT, signpose and its weights: before any work
"$py" -m bench.gpu.preflight --device "$device" > "$work/preflight.json" 2> "$work/preflight.err" ||
  die "$(tail -n 1 "$work/preflight.err" | sed 's#^bench/gpu/check.sh: ##')"
echo "bench/gpu/check.sh: $(cat "$work/preflight.json")" >&2

deadline=$((SECONDS + budget))
step() {  # step NAME CAP COMMAND...: at most CAP seconds (less if the budget is nearly spent); rc and time go to steps.tsv
  local name=$1 cap=$2 left=$((deadline - SECONDS)) t0=$SECONDS rc note=""; shift 2
  if [ "$left" -lt 5 ]; then printf '%s\t-\t0\tnot run: out of time\n' "$name" >> "$work/steps.tsv"; return 1; fi
  [ "$cap" -gt "$left" ] && cap=$left
  timeout -k 5 "$cap" "$@" > "$work/logs/$name.out" 2> "$work/logs/$name.err"; rc=$?
  [ "$rc" = 124 ] && note="timed out after $cap s"
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$note" >> "$work/steps.tsv"
  echo "  $name: rc $rc, $((SECONDS - t0)) s $note" >&2
  return "$rc"
}
extract() { local name=$1 data=$2 cap=$3; shift 3
  step "extract-$name" "$cap" "$py" -m signpose extract "$work/data/$data" -o "$work/runs/$name" --quiet "$@"; }
verify() { local name=$1 a=$2 b=$3; shift 3; step "verify-$name" 60 "$py" -m signpose verify "$work/runs/$a" "$work/runs/$b" --json "$@"; }
torch_on() { echo --estimator torch --device "$device"; }
first_batch=${batches%% *} ref=w${workers%% *}  # the first batch size and worker count: what the others are checked against

step data 120 "$py" -m bench.gpu.data "$work/data" --clips "$clips" --ref-clips "$ref_clips" --frames-per-clip "$per_clip" ||
  die "could not build the data ($(tail -n 1 "$work/logs/data.err"))"
for nb in $net_batches; do  # stage times and syncs per batch; also converts and caches the networks before the timed runs
  step "bench-nb$nb" 90 "$py" -m signpose.estimators.torch_holistic.bench "$work/data/ordered" --device "$device" \
    --frames "$bench_frames" --batch $bench_batches $([ "$nb" = default ] || echo --net-batch "$nb") --json "$work/bench-nb$nb.json"
done
speed() {  # speed N: the run with N workers, after a one-clip-per-split run for its start-up (START_RUNS=1)
  [ "$start_runs" = 1 ] && extract "w$1-start" ordered 90 $(torch_on) --batch-size "$first_batch" --workers "$1" --max_samples_per_split 1
  extract "w$1" ordered 150 $(torch_on) --batch-size "$first_batch" --workers "$1"
}
speed "${workers%% *}"  # the reference run first; then what is checked against it, the cheap ones first (dev only)
for b in ${batches#"$first_batch"}; do extract "b$b" ordered 90 --splits dev $(torch_on) --batch-size "$b" --workers 1; done
extract reversed reversed 90 --splits dev $(torch_on) --batch-size "$first_batch" --workers 2
extract cpu-torch ordered 150 --splits dev --estimator torch --device cpu --workers 1
step compare-cpu 60 "$py" -m bench.gpu.compare runs "$work/runs/$ref" "$work/runs/cpu-torch" --splits dev
for b in ${batches#"$first_batch"}; do verify "batch-$b" "$ref" "b$b" --splits dev; done
verify order "$ref" reversed --splits dev
for n in ${workers#"${workers%% *}"}; do speed "$n"; verify "workers-$n" "$ref" "w$n"; done
step compare-mediapipe 120 "$py" -m bench.gpu.compare mediapipe --device "$device" $mp_args
if grep -q '"litert_runs": true' "$work/preflight.json"; then
  extract litert ordered 90 --splits dev --estimator litert
  step compare-litert 60 "$py" -m bench.gpu.compare runs "$work/runs/$ref" "$work/runs/litert" --splits dev
fi

"$py" -m bench.gpu.summary "$work" --device "$device" --out "$out" --workers $workers --batches $batches --wall "$SECONDS"
rc=$?
cp "$work/preflight.json" "$work/steps.tsv" "$work/logs/" 2>/dev/null
tar -czf "$out/logs.tar.gz" -C "$work" logs $(cd "$work" && ls bench-*.json 2>/dev/null) \
  $(cd "$work" && ls runs/*/run.json 2>/dev/null)
cat "$out/summary.txt"
exit $rc
