# Wraps CMake so that `make` (lazy.nvim's `build = "make"`) leaves build/libfrugal.so and
# build/frugal, and `make test` runs every test.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON ?= /usr/bin/python3

.PHONY: all build test unit e2e asan fuzz bench clean catalogue

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure

e2e: build
	$(PYTHON) -m pytest -q tests/server tests/e2e

test: unit e2e

# lua/frugal/catalogue.lua from the host's own tables (tests/e2e/test_catalogue.py checks it).
catalogue: build
	$(PYTHON) tools/catalogue.py $(BUILD)/frugal

asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFRUGAL_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure

# libFuzzer targets (clang and libclang-rt-14-dev); see tests/fuzz/README.md.
FUZZ_SECONDS ?= 30
FUZZ_FLAGS = -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Iinclude -Inative
MSGPACK_PC := $(shell pkg-config --exists msgpack-c && echo msgpack-c || echo msgpack)
fuzz:
	mkdir -p build-fuzz/rpc build-fuzz/context build-fuzz/sse build-fuzz/prompt
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_rpc.c native/rpc/rpc.c native/util/buf.c \
	  $$(pkg-config --cflags --libs $(MSGPACK_PC) libuv) -o build-fuzz/fuzz_rpc
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_context.c native/context/*.c native/util/buf.c \
	  native/util/text.c $$(pkg-config --cflags --libs jansson) -o build-fuzz/fuzz_context
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_sse.c native/http/sse.c native/http/ndjson.c \
	  native/provider/stream*.c native/util/buf.c $$(pkg-config --cflags --libs jansson) \
	  -o build-fuzz/fuzz_sse
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_prompt.c native/prompt/*.c native/context/*.c \
	  native/util/buf.c native/util/text.c $$(pkg-config --cflags --libs jansson) \
	  -o build-fuzz/fuzz_prompt
	build-fuzz/fuzz_sse tests/fuzz/regressions/sse-* >build-fuzz/regressions-sse.log 2>&1 \
	  || { tail -n 30 build-fuzz/regressions-sse.log; exit 1; }
	build-fuzz/fuzz_context tests/fuzz/regressions/context-* >build-fuzz/regressions.log 2>&1 \
	  || { tail -n 30 build-fuzz/regressions.log; exit 1; }
	cd build-fuzz && ./fuzz_rpc -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 rpc \
	  >rpc.log 2>&1 || { tail -n 30 rpc.log; exit 1; }
	cd build-fuzz && ./fuzz_context -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -print_final_stats=1 context >context.log 2>&1 || { tail -n 30 context.log; exit 1; }
	cd build-fuzz && ./fuzz_sse -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 sse \
	  >sse.log 2>&1 || { tail -n 30 sse.log; exit 1; }
	cd build-fuzz && ./fuzz_prompt -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 prompt \
	  >prompt.log 2>&1 || { tail -n 30 prompt.log; exit 1; }
	grep -h "number_of_executed_units" build-fuzz/*.log

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
