# The README's two commands: `make demo` (the main job) and `make test` (the test suite).
# Each creates its own virtualenv in .venv and installs what it needs: the npm tools (solc, anvil) go into
# ./node_modules; `make test` also installs Debian's docker.io and debootstrap for the docker-runtime tests.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv tools docker-tools bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

tools: node_modules/.installed

# `npm install`, not `npm ci`: npm's lock file omits the other platforms' optional anvil binaries and `npm ci`
# then refuses it; package.json pins exact versions, so the result is the same.
node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

# dockerd, containerd, runc and debootstrap (Debian packages) for the docker-runtime tests, which start a
# private dockerd of their own; needs root, does nothing when they are installed.
docker-tools:
	bash scripts/install-docker.sh

demo: venv
	$(PY) -m hourglass_cli.demo

test: venv tools docker-tools
	$(VENV)/bin/hourglass contracts build --check
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: venv
	$(PY) benchmarks/crypto.py
	$(PY) benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache
