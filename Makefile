# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SIGNPOSE := $(VENV)/bin/signpose
SAMPLE := build/sample/PHOENIX-2014-T-release-v3
DEMO := demo-out

.PHONY: setup demo test bench browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ray,test]'
	touch $@

$(SAMPLE): | $(VENV)/.installed
	$(PY) scripts/fetch_phoenix_sample.py build/sample

# The main job on a real sample: extract with 1 and 2 workers, prove them identical, export.
demo: $(VENV)/.installed $(SAMPLE)
	$(SIGNPOSE) extract $(SAMPLE) -o $(DEMO)/run-1worker --workers 1 --overwrite
	$(SIGNPOSE) extract $(SAMPLE) -o $(DEMO)/run-2workers --workers 2 --overwrite
	$(SIGNPOSE) verify $(DEMO)/run-1worker $(DEMO)/run-2workers
	$(SIGNPOSE) export $(DEMO)/run-2workers $(DEMO)/keypoints.pkl
	@echo "demo: keypoints in $(DEMO)/run-2workers (.pose per clip), $(DEMO)/keypoints.pkl (seed schema)"

# Headless Chromium for the HTML report test (Debian's package; skipped where apt is not ours).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: chromium not installed; the report browser test will skip"

test: $(VENV)/.installed browser
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/run.py

clean:
	rm -rf build $(DEMO) .pytest_cache
