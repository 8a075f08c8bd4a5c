# p2psim: `make run` runs the rural study, `make test` runs the test suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help run test test-slow browser bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# the CPU build of torch first, pinned, so nothing pulls the CUDA wheels
	$(PY) -m pip install --quiet "torch==2.13.0" -c constraints.txt
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

run: $(STAMP) ## set up .venv and run the rural study (report in runs/)
	$(PY) -m p2psim studies/rural.py

# The report's page test runs in Debian's headless chromium. As root with apt-get it is installed here
# (P2PSIM_NO_APT=1 skips that); without it the browser tests are skipped with the reason.
browser: ## install Debian's chromium for the report's browser test (root only)
	@command -v chromium >/dev/null 2>&1 || [ -n "$$P2PSIM_NO_APT" ] || [ "$$(id -u)" != 0 ] || \
	  ! command -v apt-get >/dev/null 2>&1 || \
	  { echo "installing chromium (Debian) for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	    echo "chromium could not be installed: the browser tests will be skipped"; }

test: $(STAMP) browser ## set up .venv, lint, check the import layers, and run the default test suite
	$(VENV)/bin/ruff check .
	$(PY) tools/lint_imports.py
	$(PY) -m pytest

test-slow: $(STAMP) ## the long checks (full training, large Shapley)
	$(PY) -m pytest -m slow

bench: $(STAMP) ## performance and outcome benchmarks (writes benchmarks/results/)
	$(PY) benchmarks/run_all.py

clean: ## remove the virtual environment and run outputs
	rm -rf $(VENV) runs
