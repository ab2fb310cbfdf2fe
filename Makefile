# chainmagic: `make lab` to try it, `make test` to check everything.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lab test check unit nbval browser binder chromium notebooks bench conformance clean real-server test-llamacpp

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

install: $(STAMP)

# As root (a container, a CI box) JupyterLab wants --allow-root; elsewhere it is left out.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	$(PY) -m jupyterlab $(ROOT_FLAG) notebooks/01_quickstart.ipynb

NOTEBOOK_TOOLS := notebooks/conftest.py notebooks/execute.py
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

check: install
	$(PY) -m ruff check chainmagic tests bench $(NOTEBOOK_TOOLS)
	$(PY) -m ruff format --check chainmagic tests bench $(NOTEBOOK_TOOLS)
	$(PY) -m mypy

unit: install
	$(PY) -m pytest -q -p no:randomly tests --ignore=tests/browser --ignore=tests/test_binder.py \
		--ignore=tests/real_server

# a third-party OpenAI-compatible server (transformers serve + a tiny model made offline): its venv
# and model are built once into ~/.cache/chainmagic (≈ 1.5-5 min), later runs cost ≈ 1 min
real-server: install
	$(PY) -m pytest -q -p no:randomly tests/real_server -m "not llamacpp"

# llama.cpp's server too (embeddings): pip builds llama.cpp from source, 6-10 min once; not in `test`
test-llamacpp: install
	CHAINMAGIC_LLAMACPP=1 $(PY) -m pytest -q -p no:randomly tests/real_server -m llamacpp

# the committed tutorials, re-run and compared output by output (times masked)
nbval: install
	$(PY) -m pytest -q -p no:randomly $(NBVAL) notebooks/

# JupyterLab (and Notebook 7) in headless Chromium: every tutorial's outputs render (screenshots in build/screenshots)
browser: install chromium
	$(PY) -m pytest -q -p no:randomly tests/browser

# Binder's install rehearsed in a fresh virtualenv from binder/ alone, every tutorial run in it
binder: install
	$(PY) -m pytest -q -p no:randomly tests/test_binder.py

# Debian's Chromium for the browser test (never Playwright's own download: there is no network for it)
chromium:
	@test -x /usr/bin/chromium || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

# re-execute the tutorials and save them with their outputs and widget state
notebooks: install
	$(PY) notebooks/execute.py

test: check unit real-server nbval browser binder

bench: install
	$(PY) -m bench

# LangChain's own unit tests (downloaded at run time, cached in ~/.cache) against chainmagic.core;
# not part of `make test`
conformance: install
	$(PY) -m bench.conformance

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
