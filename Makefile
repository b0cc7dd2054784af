# Wraps CMake so that `make` (lazy.nvim's `build = "make"`) leaves build/libfrugal.so and
# build/frugal, and `make test` runs every test.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON ?= /usr/bin/python3

.PHONY: all build test unit e2e asan fuzz bench clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure

e2e: build
	$(PYTHON) -m pytest -q tests/server tests/e2e

test: unit e2e

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
	mkdir -p build-fuzz/rpc build-fuzz/context build-fuzz/sse build-fuzz/prompt build-fuzz/blocks \
	  build-fuzz/repomap
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
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_blocks.c native/edit/blocks.c native/edit/apply.c \
	  native/util/buf.c native/util/text.c $$(pkg-config --cflags --libs jansson) \
	  -o build-fuzz/fuzz_blocks
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_repomap.c native/repomap/*.c native/context/*.c \
	  native/util/buf.c native/util/text.c native/util/file.c native/ledger/ledger.c \
	  native/route/prices.c $$(pkg-config --cflags --libs jansson libuv) \
	  -o build-fuzz/fuzz_repomap
	build-fuzz/fuzz_repomap tests/fuzz/regressions/repomap-* >build-fuzz/regressions-repomap.log \
	  2>&1 || { tail -n 30 build-fuzz/regressions-repomap.log; exit 1; }
	build-fuzz/fuzz_blocks tests/fuzz/regressions/blocks-* >build-fuzz/regressions-blocks.log \
	  2>&1 || { tail -n 30 build-fuzz/regressions-blocks.log; exit 1; }
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
	cp tests/fuzz/regressions/blocks-* build-fuzz/blocks/
	cd build-fuzz && ./fuzz_blocks -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 blocks \
	  >blocks.log 2>&1 || { tail -n 30 blocks.log; exit 1; }
	cp tests/fuzz/regressions/repomap-* build-fuzz/repomap/
	cd build-fuzz && ./fuzz_repomap -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -print_final_stats=1 repomap >repomap.log 2>&1 || { tail -n 30 repomap.log; exit 1; }
	grep -h "number_of_executed_units" build-fuzz/*.log

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
