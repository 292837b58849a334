# gilfree's one task runner: README, CI and people all use these targets. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CPP_BUILD ?= build/cpp
JOBS ?= $(shell nproc)
CPP_SOURCES := $(shell find cpp include -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.inc' \))
# What clang-format keeps in shape: gilfree's C++ and the kernel modules built on it.
FORMAT_SOURCES = $(CPP_SOURCES) $(filter %.cpp %.hpp,$(KERNEL_PACKAGE_SOURCES)) $(wildcard examples/*/*.[ch]pp) \
	$(wildcard src/gilfree/templates/*/src/*/*.cpp)
BUILD_INPUTS := pyproject.toml CMakeLists.txt $(wildcard cmake/*) $(CPP_SOURCES)
RUNTIME_STAMP := $(VENV)/.gilfree-runtime
TEST_STAMP := $(VENV)/.gilfree-test
BENCH_STAMP := $(VENV)/.gilfree-bench
RUST_PEER_STAMP := $(VENV)/.gilfree-rust-peer
RUST_PEER_DIR := bench/peers/rust_peer
RUST_PEER_SOURCES := $(wildcard $(RUST_PEER_DIR)/src/*.rs) $(addprefix $(RUST_PEER_DIR)/,Cargo.toml Cargo.lock build.rs pyproject.toml)
ORIGINAL_APP_STAMP := $(VENV)/.gilfree-original-app
ORIGINAL_APP_DIR := bench/peers/original_app
ORIGINAL_APP_SOURCES := $(wildcard $(ORIGINAL_APP_DIR)/src/*.rs) $(addprefix $(ORIGINAL_APP_DIR)/,Cargo.toml Cargo.lock pyproject.toml)
BENCH_ARGS ?=
PY_PATHS := src tests bench examples/fuzzy_search
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

# The ray extra (Ray Serve and Ray Data, some 200 MB installed): with it, `make test` runs the Ray
# tests too (tests/on_ray, marker `ray`; they skip without it). CI installs it.
RAY_STAMP := $(VENV)/.gilfree-ray
$(RAY_STAMP): $(TEST_STAMP)
	$(PIP) install --no-build-isolation -e '.[test,ray]'
	@touch $@

# kernelpkg (tests/kernel_package): another package's kernels, built as a user builds them, against
# the gilfree installed here through its CMake package, once with the default compiler (gcc) into
# the venv and once with clang into a folder of its own that its second test run puts first on
# the path. Rebuilt whenever gilfree is.
KERNEL_PACKAGE := tests/kernel_package
KERNEL_PACKAGE_SOURCES := $(shell find $(KERNEL_PACKAGE) -type f -not -path '*/tests/*' \( -name '*.cpp' -o -name '*.hpp' -o -name '*.py' -o -name '*.toml' -o -name 'CMakeLists.txt' \))
KERNEL_PACKAGE_STAMP := $(VENV)/.gilfree-kernel-package
KERNEL_PACKAGE_CLANG := build/kernel-package-clang
KERNEL_PACKAGE_CLANG_STAMP := $(KERNEL_PACKAGE_CLANG)/.stamp
$(KERNEL_PACKAGE_STAMP): $(TEST_STAMP) $(KERNEL_PACKAGE_SOURCES)
	$(PIP) install --no-build-isolation --no-deps -Cbuild-dir=$(abspath build/kernel-package) $(KERNEL_PACKAGE)
	@touch $@

$(KERNEL_PACKAGE_CLANG_STAMP): $(TEST_STAMP) $(KERNEL_PACKAGE_SOURCES) | clang
	rm -rf $(KERNEL_PACKAGE_CLANG)/site
	$(PIP) install --no-build-isolation --no-deps --target $(KERNEL_PACKAGE_CLANG)/site \
		-Cbuild-dir=$(abspath $(KERNEL_PACKAGE_CLANG))/build -Ccmake.define.CMAKE_CXX_COMPILER=clang++ $(KERNEL_PACKAGE)
	@touch $@

# A wheel of the gilfree under test, built from the editable install's CMake tree (so it costs a
# re-link at most): tests/test_scaffold.py makes a project from it with `gilfree new --gilfree`.
WHEEL_DIR := build/wheel
WHEEL_STAMP := $(WHEEL_DIR)/.stamp
$(WHEEL_STAMP): $(RUNTIME_STAMP) $(shell find src/gilfree -type f -not -name '*.pyc')
	rm -rf $(WHEEL_DIR)
	$(PIP) wheel --no-build-isolation --no-deps -Cbuild-dir=build/py-{wheel_tag} -w $(WHEEL_DIR) .
	@touch $@
# The same wheel as a manylinux one (auditwheel checks the glibc and libstdc++ symbols it needs and
# tags it for the oldest glibc that has them): what `pip install` takes without a compiler.
DIST_STAMP := dist/.stamp
$(DIST_STAMP): $(WHEEL_STAMP) $(TEST_STAMP)
	rm -rf dist
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/auditwheel repair -w dist $(WHEEL_DIR)/gilfree-*.whl
	@touch $@

# examples/fuzzy_search: a second workload built as a user builds it, into a folder of its own that
# its tests (and its benchmark) put first on the path.
FUZZY := examples/fuzzy_search
FUZZY_SITE := build/fuzzy-search/site
FUZZY_STAMP := build/fuzzy-search/.stamp
$(FUZZY_STAMP): $(TEST_STAMP) $(addprefix $(FUZZY)/,fuzzy.cpp fuzzy.hpp CMakeLists.txt pyproject.toml)
	rm -rf $(FUZZY_SITE)
	$(PIP) install --no-build-isolation --no-deps --target $(FUZZY_SITE) \
		-Cbuild-dir=$(abspath build/fuzzy-search/build) $(FUZZY)
	@touch $@

$(BENCH_STAMP): $(RUNTIME_STAMP)
	$(PIP) install --no-build-isolation -e '.[test,bench]'
	@touch $@

# Only the benchmarks need Rust (cargo, crates from crates.io): make test and CI never build this.
$(RUST_PEER_STAMP): $(BENCH_STAMP) $(RUST_PEER_SOURCES)
	@command -v cargo >/dev/null || { echo "the Rust peer needs cargo: install Rust (rustup)" >&2; exit 2; }
	cd $(RUST_PEER_DIR) && VIRTUAL_ENV=$(abspath $(VENV)) CARGO_TARGET_DIR=$(abspath build/rust_peer) \
		$(abspath $(BIN))/maturin develop --release --quiet
	@touch $@

# The original FastAPI + Rust example's extension (original_ext), for bench-service alone.
$(ORIGINAL_APP_STAMP): $(BENCH_STAMP) $(ORIGINAL_APP_SOURCES)
	@command -v cargo >/dev/null || { echo "the original app needs cargo: install Rust (rustup)" >&2; exit 2; }
	cd $(ORIGINAL_APP_DIR) && VIRTUAL_ENV=$(abspath $(VENV)) CARGO_TARGET_DIR=$(abspath build/original_app) \
		$(abspath $(BIN))/maturin develop --release --quiet
	@touch $@

.PHONY: install
install: $(RUNTIME_STAMP) ## Create .venv and build and install gilfree into it (editable)

.PHONY: ray
ray: $(RAY_STAMP) ## Install the ray extra into .venv: make test then runs the Ray tests too

.PHONY: wheel
wheel: $(DIST_STAMP) ## Build gilfree's manylinux wheel into dist/ (installs with no compiler; `gilfree new --gilfree WHEEL` takes it)

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

# The extension built with ASan and UBSan, in a venv of its own, running the Python tests. Python
# itself is not instrumented, so the sanitizer runtimes are preloaded; leaks are not checked
# (CPython keeps its objects to the end by design).
ASAN_VENV := .venv-asan
ASAN_STAMP := $(ASAN_VENV)/.gilfree-asan
ASAN_PRELOAD = $(shell $(CXX) -print-file-name=libasan.so):$(shell $(CXX) -print-file-name=libubsan.so)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(ASAN_STAMP): $(BUILD_INPUTS) $(KERNEL_PACKAGE_SOURCES)
	[ -x $(ASAN_VENV)/bin/python ] || $(PYTHON) -m venv $(ASAN_VENV)
	$(ASAN_VENV)/bin/python -m pip --disable-pip-version-check -q install 'scikit-build-core>=0.10' 'nanobind>=2.4'
	$(ASAN_VENV)/bin/python -m pip --disable-pip-version-check -q install --no-build-isolation \
		-Cbuild-dir=build/asan-{wheel_tag} -Ccmake.build-type=RelWithDebInfo \
		-Ccmake.define.GILFREE_SANITIZE=address,undefined -e '.[test]'
	$(ASAN_VENV)/bin/python -m pip --disable-pip-version-check -q install --no-build-isolation --no-deps \
		-Cbuild-dir=$(abspath build/asan-kernel-package) -Ccmake.build-type=RelWithDebInfo \
		-Ccmake.define.CMAKE_CXX_FLAGS="$(ASAN_FLAGS)" \
		-Ccmake.define.CMAKE_MODULE_LINKER_FLAGS="$(ASAN_FLAGS)" $(KERNEL_PACKAGE)
	@touch $@

.PHONY: test-asan
test-asan: $(ASAN_STAMP) ## Run the Python tests on an ASan + UBSan build of the extension
	GILFREE_EXPECT_BUILD_TYPE=RelWithDebInfo LD_PRELOAD=$(ASAN_PRELOAD) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(ASAN_VENV)/bin/python -m pytest -q -p no:cacheprovider

.PHONY: clang
clang: ## Install clang and libFuzzer if missing (apt-get, as root): the fuzzer and kernelpkg's clang build
	@command -v clang++ >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev)) >/dev/null; fi; \
	command -v clang++ >/dev/null || { echo "clang is needed: apt-get install clang libclang-rt-14-dev" >&2; exit 2; }

# Debian's chromium and its driver, for the fuzzy-search page's browser test. Where they cannot be
# installed the test is skipped, saying so, unless GILFREE_REQUIRE_BROWSER=1 (as in CI).
.PHONY: chromium
chromium: ## Install chromium and chromedriver if missing (apt-get, as root): the browser test
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)) >/dev/null; fi; \
	command -v chromedriver >/dev/null || echo "chromium and chromedriver are not installed (apt-get install chromium chromium-driver): the browser test will be skipped" >&2

FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: clang ## Fuzz the wire parser and request (libFuzzer, ASan, UBSan) for FUZZ_SECONDS (default 60)
	cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DGILFREE_BUILD_TESTS=OFF -DGILFREE_BUILD_FUZZ=ON >/dev/null
	cmake --build build/fuzz --target fuzz_numbers_json -j $(JOBS)
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_numbers_json -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 build/fuzz/corpus cpp/fuzz/seeds

.PHONY: test-py
test-py: $(TEST_STAMP) $(KERNEL_PACKAGE_STAMP) $(KERNEL_PACKAGE_CLANG_STAMP) $(DIST_STAMP) $(FUZZY_STAMP) chromium ## Run the Python tests (unit, property, HTTP, end to end, kernelpkg with gcc and clang, gilfree new, the wheel in a fresh venv, the fuzzy-search example in Chromium)
	GILFREE_TEST_WHEEL="$$(ls $(abspath dist)/gilfree-*.whl)" $(BIN)/python -m pytest
	FUZZY_SEARCH_SITE=$(abspath $(FUZZY_SITE)) $(BIN)/python -m pytest -q -p no:cacheprovider $(FUZZY)/tests
	KERNELPKG_EXPECT_COMPILER=clang PYTHONPATH=$(abspath $(KERNEL_PACKAGE_CLANG)/site) \
		$(BIN)/python -m pytest -q -p no:cacheprovider $(KERNEL_PACKAGE)/tests

.PHONY: test-ray
test-ray: $(RAY_STAMP) $(KERNEL_PACKAGE_STAMP) ## Only the Ray tests (installs the ray extra): gilfree serve --ray and Ray Data on a local cluster
	$(BIN)/python -m pytest -m ray

# The other CPythons gilfree supports (the main venv's is PYTHON's, 3.11 here): each gets a venv
# of its own, gilfree built from these sources into it (one build per version before 3.12, the
# stable ABI's abi3 build from it) with the test extras and the kernel package built against it,
# and runs the Python tests. CI runs it.
OTHER_PYTHONS ?= 3.10 3.12 3.13
python_of = $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/$(1).*/bin/python$(1)) $(shell command -v python$(1) 2>/dev/null))
PY_SOURCES := $(shell find src/gilfree -type f -not -name '*.pyc')
.venv-py%/bin/python:
	@test -n "$(call python_of,$*)" || { echo "no python$* here (pyenv install $*)" >&2; exit 1; }
	$(call python_of,$*) -m venv .venv-py$*
	.venv-py$*/bin/python -m pip --disable-pip-version-check -q install --upgrade pip 'scikit-build-core>=0.10' 'nanobind>=2.4'
.venv-py%/.gilfree-test: .venv-py%/bin/python $(BUILD_INPUTS) $(PY_SOURCES)
	.venv-py$*/bin/python -m pip --disable-pip-version-check -q install --no-build-isolation \
		-Cbuild-dir=build/py$*-{wheel_tag} '.[test]'
	.venv-py$*/bin/python -m pip --disable-pip-version-check -q install --no-build-isolation \
		--no-deps -Cbuild-dir=$(abspath build/kernel-package-py$*) $(KERNEL_PACKAGE)
	@touch $@
.PRECIOUS: .venv-py%/bin/python .venv-py%/.gilfree-test

.PHONY: test-pythons
test-pythons: ## Build and run the Python tests on each other supported CPython (OTHER_PYTHONS: 3.10 3.12 3.13)
	@failed=""; for v in $(OTHER_PYTHONS); do \
		echo "== Python $$v"; start=$$SECONDS; \
		{ $(MAKE) --no-print-directory .venv-py$$v/.gilfree-test && \
			.venv-py$$v/bin/python -m pytest -q -p no:cacheprovider; } || failed="$$failed $$v"; \
		echo "== Python $$v: $$((SECONDS - start)) s, build and tests"; \
	done; test -z "$$failed" || { echo "the Python tests failed on:$$failed" >&2; exit 1; }

.PHONY: lint
lint: $(TEST_STAMP) ## ruff, mypy --strict, clang-format check
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)
	$(BIN)/mypy --strict src/gilfree
	$(BIN)/clang-format --dry-run --Werror $(FORMAT_SOURCES)

.PHONY: format
format: $(TEST_STAMP) ## Format Python and C++ sources in place
	$(BIN)/ruff format $(PY_PATHS)
	$(BIN)/ruff check --fix $(PY_PATHS)
	$(BIN)/clang-format -i $(FORMAT_SOURCES)

.PHONY: wrk
wrk: ## Install wrk (the HTTP load generator) if missing (apt-get, as root)
	@command -v wrk >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)) >/dev/null; fi; \
	command -v wrk >/dev/null || { echo "wrk is not installed: on Debian/Ubuntu run 'sudo apt-get install -y wrk'" >&2; exit 2; }

.PHONY: bench
bench: ## Every benchmark, then BENCHMARKS.md and its plots (~16 min here; BENCH_ARGS=--quick for short)
	$(MAKE) bench-kernels
	$(MAKE) bench-runtime
	$(MAKE) bench-wire
	$(MAKE) bench-fuzzy
	$(MAKE) bench-service
	$(MAKE) bench-scale
	$(MAKE) bench-report

.PHONY: bench-peers
bench-peers: $(RUST_PEER_STAMP) $(ORIGINAL_APP_STAMP) ## Build the benchmark peers (the Rust/PyO3 ones need cargo)

.PHONY: bench-kernels
bench-kernels: $(RUST_PEER_STAMP) ## Kernel speed per step vs Python, NumPy, Numba, Rust/PyO3
	$(BIN)/python -m bench.kernel_bench $(BENCH_ARGS)

.PHONY: bench-runtime
bench-runtime: $(BENCH_STAMP) $(KERNEL_PACKAGE_STAMP) wrk ## /healthz under load, small-behind-huge, cancellation, await cost, estimates
	$(BIN)/python -m bench.runtime_bench $(BENCH_ARGS)

.PHONY: bench-wire
bench-wire: $(BENCH_STAMP) ## JSON and octet-stream round trips vs the original FastAPI style
	$(BIN)/python -m bench.wire_bench $(BENCH_ARGS)

.PHONY: bench-fuzzy
bench-fuzzy: $(BENCH_STAMP) $(FUZZY_STAMP) ## Fuzzy search vs rapidfuzz and pure Python; search as you type, served
	PYTHONPATH=$(abspath $(FUZZY_SITE)):$(abspath $(FUZZY)) $(BIN)/python -m bench.fuzzy_bench $(BENCH_ARGS)

.PHONY: bench-service
bench-service: $(BENCH_STAMP) $(ORIGINAL_APP_STAMP) wrk ## gilfree serve vs the original FastAPI + Rust app, on its own paths
	$(BIN)/python -m bench.service_bench $(BENCH_ARGS)

.PHONY: bench-scale
bench-scale: $(BENCH_STAMP) $(RAY_STAMP) wrk ## gilfree serve vs Ray Serve: added latency, 1 and 2 replicas, memory (installs the ray extra)
	$(BIN)/python -m bench.scale_bench $(BENCH_ARGS)

.PHONY: bench-report
bench-report: $(BENCH_STAMP) ## Render BENCHMARKS.md and its plots (bench/results) from bench/out/*.json
	$(BIN)/python -m bench.report

.PHONY: bench-cpp
bench-cpp: ## C++ microbenchmarks of the kernels and the executor (Google Benchmark)
	@[ -f /usr/include/benchmark/benchmark.h ] || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get install -y -qq libbenchmark-dev >/dev/null; } || { echo "install libbenchmark-dev" >&2; exit 2; }
	cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DGILFREE_BUILD_TESTS=OFF \
		-DGILFREE_BUILD_BENCH=ON >/dev/null
	cmake --build build/bench --target gilfree_bench -j $(JOBS)
	@mkdir -p bench/out
	build/bench/gilfree_bench --benchmark_out=bench/out/kernels_cpp.json --benchmark_out_format=json

.PHONY: stubs
stubs: $(RUNTIME_STAMP) ## Regenerate src/gilfree/_core.pyi and _kernels.pyi from the built modules
	$(BIN)/python -m nanobind.stubgen -q -m gilfree._core -o src/gilfree/_core.pyi
	$(BIN)/python -m nanobind.stubgen -q -m gilfree._kernels -o src/gilfree/_kernels.pyi

.PHONY: clean
clean: ## Remove build outputs and the virtual environment
	rm -rf build $(VENV) $(ASAN_VENV) .venv-py* .pytest_cache .mypy_cache .ruff_cache .hypothesis
