# chainmagic: `make lab` to try it, `make test` to check everything.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lab test check unit notebooks bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(PY) -m jupyterlab notebooks/01_quickstart.ipynb

check: install
	$(PY) -m ruff check chainmagic tests bench
	$(PY) -m ruff format --check chainmagic tests bench
	$(PY) -m mypy

unit: install
	$(PY) -m pytest -q -p no:randomly tests

test: check unit

bench: install
	$(PY) -m bench

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
