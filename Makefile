# The two commands a newcomer needs: `make run` (the local twin) and `make test`.
# Both create .venv from pyproject.toml on first use, so a fresh clone needs nothing by hand.
# uv installs the pinned dependencies in seconds where pip takes a minute; it is itself a
# pinned PyPI package, installed into the venv by pip.
UV_VERSION := 0.13.8
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
STACK  ?= local

.PHONY: run test lint bench bench-quick cache-tests clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m edgekit_iac up --stack $(STACK)

lint: $(STAMP)
	$(PY) -m ruff check .

test: lint
	./scripts/ensure-chromium
	$(PY) -m pytest

$(VENV)/.bench-stamp: $(STAMP)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.bench-stamp
	$(PY) -m bench

bench-quick: $(VENV)/.bench-stamp
	$(PY) -m bench --quick

# The public HTTP cache test suite (npm http-cache-tests, pinned by package-lock.json) against
# the cache wrapper in the twin; counts into bench/RESULTS.md. Needs node and npm.
CACHE_TESTS := bench/cache-tests
$(CACHE_TESTS)/node_modules/.package-lock.json: $(CACHE_TESTS)/package-lock.json
	cd $(CACHE_TESTS) && npm ci --no-audit --no-fund --loglevel=error

cache-tests: $(STAMP) $(CACHE_TESTS)/node_modules/.package-lock.json
	$(PY) -m bench.cache_tests --before $(CACHE_TESTS)/results-before.json

clean:
	rm -rf build .edgekit
