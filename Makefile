# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Python 3.10 to 3.14 (pyproject's requires-python); .venv takes the first of python3.11,
# python3.12, python3.13, python3.14, python3.10 that runs (a pyenv shim exists for every
# version pyenv knows, whether or not it can run here). Or say which, and where:
#   make demo test PYTHON=/path/to/python3.13 VENV=.venv313
SUPPORTED_PYTHONS := 3.11 3.12 3.13 3.14 3.10
# $(call check_python,PYTHON,VERSIONS): shell test that PYTHON starts and its X.Y is one of VERSIONS
check_python = $(1) -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] not in '$(2)'.split())" >/dev/null 2>&1
# $(call first_python,CANDIDATES,VERSIONS): the path of the first candidate that passes check_python
first_python = $(shell for c in $(1); do $(call check_python,$$c,$(2)) && command -v $$c && break; done)
PYTHON ?= $(call first_python,python3.11 python3.12 python3.13 python3.14 python3.10,$(SUPPORTED_PYTHONS))
VENV ?= .venv
PY := $(VENV)/bin/python
SIGNPOSE := $(VENV)/bin/signpose
DEMO := demo-out
DEMO_DATA := build/demo-data
DEMO_CLIP := dev/house_1
# Python 3.10-3.12 also get MediaPipe itself (the mediapipe extra: --estimator mediapipe, and
# the live reference of the fidelity tests) and PyTorch (the torch estimator's tests);
# from 3.13 there is no mediapipe 0.10.21, and the tests use the references stored in tests/data.
OLD_PYTHON = $(PY) -c "import sys; sys.exit(sys.version_info >= (3, 13))"

.PHONY: setup demo test bench bench-gpu gpu-check-cpu browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@python="$(PYTHON)"; \
	if [ -z "$$python" ] || ! $(call check_python,"$$python",$(SUPPORTED_PYTHONS)); then \
		echo "make setup: needs Python 3.10 to 3.14 (tried $${python:-python3.11, python3.12, python3.13, python3.14, python3.10}: none runs with a supported version;" \
		     "a pyenv shim whose version is not installed or selected does not count). Install one, or run: make setup PYTHON=/path/to/python3.11" >&2; \
		exit 1; \
	fi; \
	echo "$$python -m venv $(VENV)   # $$("$$python" -V)"; \
	"$$python" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@extras=parquet,ray,test; if $(OLD_PYTHON); then extras=mediapipe,$$extras; fi; \
	echo "$(PY) -m pip install --quiet -e '.[$$extras]'"; $(PY) -m pip install --quiet -e ".[$$extras]"
	touch $@

# The main job on real signing: six short clips with hands, cut from the ASL videos in
# tests/data/signing into PNG frame folders (rebuilt each time, same bytes); extract with 1
# and with 2 workers, prove the runs identical, export, draw one clip, write the report.
demo: $(VENV)/.installed
	@$(PY) scripts/make_demo_data.py $(DEMO_DATA)
	$(SIGNPOSE) extract $(DEMO_DATA) -o $(DEMO)/run-1worker --workers 1 --overwrite
	$(SIGNPOSE) extract $(DEMO_DATA) -o $(DEMO)/run-2workers --workers 2 --overwrite
	$(SIGNPOSE) verify $(DEMO)/run-1worker $(DEMO)/run-2workers
	$(SIGNPOSE) export $(DEMO)/run-2workers $(DEMO)/keypoints.pkl
	$(SIGNPOSE) render $(DEMO)/run-2workers $(DEMO_CLIP) -o $(DEMO)/$(notdir $(DEMO_CLIP)).png
	$(SIGNPOSE) report $(DEMO)/run-2workers -o $(DEMO)/report.html
	@$(PY) scripts/demo_summary.py $(DEMO_DATA) $(DEMO) $(DEMO)/$(notdir $(DEMO_CLIP)).png

# Headless Chromium for the HTML report test (Debian's package; skipped where apt is not ours).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: chromium not installed; the report browser test will skip"

# PyTorch for the torch estimator's tests (the gpu extra), on Python 3.10-3.12: torch 2.13.0,
# a CPU build on this project's machines (Python 3.11); elsewhere pip fetches that version
# from PyPI. From Python 3.13 nothing is installed and the torch tests skip.
TORCH := torch==2.13.0
$(VENV)/.torch: $(VENV)/.installed
	@if $(OLD_PYTHON); then \
		echo "$(PY) -m pip install --quiet '$(TORCH)'"; $(PY) -m pip install --quiet '$(TORCH)' && $(PY) -m pip install --quiet -e '.[gpu]'; \
	else echo "note: Python 3.13+: no PyTorch installed, the torch estimator's tests will skip"; fi
	touch $@

test: $(VENV)/.installed $(VENV)/.torch browser
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

# The torch estimator's benchmark (GPU mode): frames/s end to end and per stage on 210x260 PNG
# frames, on cuda when there is one: bench's PHOENIX data if `make bench` built it, else a test
# video. make bench-gpu BENCH_GPU_ARGS="--device cpu --frames 64 --batch 16 64"
BENCH_GPU_DATA ?= $(or $(firstword $(sort $(wildcard bench/out/data/[0-9]*x*/PHOENIX-2014-T-release-v3))),tests/data/signing/slp_site_asl_house.mp4)
bench-gpu: $(VENV)/.torch
	@mkdir -p bench/out
	$(PY) -m signpose.estimators.torch_holistic.bench $(BENCH_GPU_DATA) --json bench/out/gpu.json $(BENCH_GPU_ARGS)

# The GPU check (bench/gpu/check.sh) as a dry run on the CPU, small: every step the GPU run
# takes, speed "not applicable"; CI runs it. On the GPU server, with the pack that
# bench/gpu/pack.sh builds: bash bench/gpu/check.sh (bench/README.md, "GPU check").
gpu-check-cpu: $(VENV)/.torch
	DEVICE=cpu PYTHON=$(PY) OUT=build/gpu-check-cpu bash bench/gpu/check.sh

clean:
	rm -rf build $(DEMO) .pytest_cache
