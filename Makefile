# The two commands a newcomer needs: `make run` (the local twin) and `make test`.
# Both create .venv from pyproject.toml on first use, so a fresh clone needs nothing by hand.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
STACK  ?= local

.PHONY: run test lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m edgekit up --stack $(STACK)

lint: $(STAMP)
	$(PY) -m ruff check .

test: lint
	./scripts/ensure-chromium
	$(PY) -m pytest

$(VENV)/.bench-stamp: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.bench-stamp
	$(PY) -m bench

bench-quick: $(VENV)/.bench-stamp
	$(PY) -m bench --quick

clean:
	rm -rf build .edgekit
