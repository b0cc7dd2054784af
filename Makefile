# Wraps CMake so that `make` (lazy.nvim's `build = "make"`) leaves build/libfrugal.so and
# build/frugal, and `make test` runs every test.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON ?= /usr/bin/python3

.PHONY: all build test unit e2e asan bench clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure

e2e: build
	$(PYTHON) -m pytest -q tests/e2e

test: unit e2e

asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFRUGAL_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan
