# The two commands a newcomer needs: `make run` (the local twin) and `make test`.
# Both create .venv from pyproject.toml on first use, so a fresh clone needs nothing by hand.
# uv installs the pinned dependencies in seconds where pip takes a minute; it is itself a
# pinned PyPI package, installed into the venv by pip.
UV_VERSION := 0.13.8
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
STACK  ?= local
# Pyodide (npm) for the Python Workers, installed from the lock file by `npm ci`; the
# module says exactly what to install when Node >= 20 or npm is missing.
NODE_DIR   := edgekit_iac/twin/cloudflare/pyodide
NODE_STAMP := $(NODE_DIR)/node_modules/.edgekit-lock-sha256

.PHONY: run test lint fuzz bench bench-quick cache-tests clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[dev,twin]"
	touch $(STAMP)

$(NODE_STAMP): $(NODE_DIR)/package-lock.json $(STAMP)
	$(PY) -m edgekit_iac.twin.cloudflare.node_setup
	touch $@

# Options pass through ARGS, e.g. `make run ARGS="--port-base 0"`.
run: $(STAMP) $(NODE_STAMP)
	$(PY) -m edgekit_iac up --stack $(STACK) $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

test: lint $(NODE_STAMP)
	./scripts/ensure-chromium
	$(PY) -m pytest

# The resizer's fuzz test in full: FUZZ_EXAMPLES mutated images from a new random start each
# run (FUZZ_SEED=N repeats one); `make test` runs a fixed 500. Findings go to build/fuzz/.
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	$(PY) -m tests.functions.fuzz_resizer --examples $(FUZZ_EXAMPLES) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

$(VENV)/.bench-stamp: $(STAMP)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.bench-stamp $(NODE_STAMP)
	$(PY) -m bench

bench-quick: $(VENV)/.bench-stamp $(NODE_STAMP)
	$(PY) -m bench --quick

# The public HTTP cache test suite (npm http-cache-tests, pinned by package-lock.json) against
# the cache wrapper in the twin; counts into bench/RESULTS.md. Needs node and npm.
CACHE_TESTS := bench/cache-tests
$(CACHE_TESTS)/node_modules/.package-lock.json: $(CACHE_TESTS)/package-lock.json
	cd $(CACHE_TESTS) && npm ci --no-audit --no-fund --loglevel=error

cache-tests: $(STAMP) $(NODE_STAMP) $(CACHE_TESTS)/node_modules/.package-lock.json
	$(PY) -m bench.cache_tests --before $(CACHE_TESTS)/results-before.json

clean:
	rm -rf build .edgekit $(NODE_DIR)/node_modules
