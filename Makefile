# The two commands: `make demo` and `make test`. Nothing but Python >= 3.11 and make is assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo test fuzz lint unit lab bench browser lock clean

help:
	@echo "make demo   - install, start the local sandbox, run the compromised-access-key playbook, print the report"
	@echo "make test   - install, lint, run every test (notebooks and the browser test included)"
	@echo "make lab    - JupyterLab on the sandbox"
	@echo "make bench  - benchmarks (ratios against a baseline measured in the same run)"
	@echo "make fuzz   - the property tests (hypothesis) with many random examples"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "iamkit needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt -e '.[dev,sandbox]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/iamkit demo

lint: install
	$(BIN)/ruff check iamkit tests bench
	$(BIN)/ruff format --check iamkit tests bench tools

# Debian's Chromium for the one browser test (Playwright's own browser download is not used).
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: the browser test will fail (install Debian's chromium)"; }

# IAMKIT_CELL_TIMEOUT: a notebook cell stuck for 10 minutes fails its test instead of hanging CI;
# the hypothesis "ci" profile (tests/conftest.py) is derandomized: the same examples on every run
test: install lint browser
	IAMKIT_CELL_TIMEOUT=600 $(BIN)/python -m pytest -n 2 --dist loadgroup -q --hypothesis-profile=ci

# Every hypothesis test (marked "property") with fresh random examples, 5,000 where a test sets no lower budget;
# a failure prints the shrunk example and a reproduction blob (@reproduce_failure).
fuzz: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -m property --hypothesis-profile=fuzz

unit: install
	$(BIN)/python -m pytest -q -m "not sandbox and not notebook and not browser"

# JupyterLab on the sandbox, in workspace/ (gitignored): working copies of notebooks/ made once (never
# overwritten, never the templates themselves, so autosave keeps an analyst's keys and outputs out of git);
# cases go to ./cases. Kernels talk over IPC sockets in a private /tmp folder (short paths; no TCP warning).
# Ctrl-C stops Lab and the sandbox.
lab: install
	@mkdir -p workspace && for nb in notebooks/*.ipynb; do \
	  test -e "workspace/$$(basename $$nb)" || { cp "$$nb" workspace/ && echo "workspace/$$(basename $$nb): new working copy"; }; done
	$(BIN)/iamkit sandbox start --detach --replace
	sockets=$$(mktemp -d /tmp/iamkit-lab-XXXXXX); trap '$(BIN)/iamkit sandbox stop; rm -rf "$$sockets"' EXIT; \
	  eval "$$($(BIN)/iamkit sandbox env)" && \
	  IAMKIT_CASES="$${IAMKIT_CASES:-$(CURDIR)/cases}" $(BIN)/jupyter lab --notebook-dir=workspace \
	  --ServerApp.ip=127.0.0.1 --no-browser --KernelManager.transport=ipc --KernelManager.ip="$$sockets/k" \
	  $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: install
	$(BIN)/python -m bench

lock:
	rm -rf /tmp/iamkit-lock && $(PYTHON) -m venv /tmp/iamkit-lock && /tmp/iamkit-lock/bin/pip install -q '.[dev,sandbox]' \
	  && /tmp/iamkit-lock/bin/pip freeze --exclude iamkit > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
