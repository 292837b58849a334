# gilfree's one task runner: README, CI and people all use these targets. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CPP_BUILD ?= build/cpp
JOBS ?= $(shell nproc)
CPP_SOURCES := $(shell find cpp -type f \( -name '*.cpp' -o -name '*.hpp' \))
BUILD_INPUTS := pyproject.toml CMakeLists.txt $(CPP_SOURCES)
RUNTIME_STAMP := $(VENV)/.gilfree-runtime
TEST_STAMP := $(VENV)/.gilfree-test
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Editable install without build isolation: the CMake build tree in build/ is reused, so a C++
# change rebuilds only what changed.
$(RUNTIME_STAMP): $(BIN)/python $(BUILD_INPUTS)
	$(PIP) install 'scikit-build-core>=0.10' 'nanobind>=2.4'
	$(PIP) install --no-build-isolation -e .
	@touch $@

$(TEST_STAMP): $(RUNTIME_STAMP)
	$(PIP) install --no-build-isolation -e '.[test]'
	@touch $@

.PHONY: install
install: $(RUNTIME_STAMP) ## Create .venv and build and install gilfree into it (editable)

.PHONY: serve
serve: $(RUNTIME_STAMP) ## Run the service on 127.0.0.1:8000 (GILFREE_* variables apply)
	$(BIN)/gilfree serve

.PHONY: info
info: $(RUNTIME_STAMP) ## Print version, compiler, SIMD sets and thread count
	$(BIN)/gilfree info

.PHONY: test
test: test-cpp test-py ## Run every test: C++ (ctest) and Python (pytest)

.PHONY: test-cpp
test-cpp: ## Build the C++ core and run its GoogleTest suite through ctest
	cmake -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DGILFREE_BUILD_TESTS=ON >/dev/null
	cmake --build $(CPP_BUILD) -j $(JOBS)
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j $(JOBS)

.PHONY: test-tsan
test-tsan: ## Run the C++ tests under ThreadSanitizer
	cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGILFREE_BUILD_TESTS=ON \
		-DGILFREE_SANITIZE=thread >/dev/null
	cmake --build build/tsan -j $(JOBS)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		ctest --test-dir build/tsan --output-on-failure -j $(JOBS)

.PHONY: test-py
test-py: $(TEST_STAMP) ## Run the Python tests (unit, property, HTTP, end to end)
	$(BIN)/python -m pytest

.PHONY: lint
lint: $(TEST_STAMP) ## ruff, mypy --strict, clang-format check
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict src/gilfree
	$(BIN)/clang-format --dry-run --Werror $(CPP_SOURCES)

.PHONY: format
format: $(TEST_STAMP) ## Format Python and C++ sources in place
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests
	$(BIN)/clang-format -i $(CPP_SOURCES)

.PHONY: stubs
stubs: $(RUNTIME_STAMP) ## Regenerate src/gilfree/_core.pyi from the built module
	$(BIN)/python -m nanobind.stubgen -q -m gilfree._core -o src/gilfree/_core.pyi

.PHONY: clean
clean: ## Remove build outputs and the virtual environment
	rm -rf build $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
