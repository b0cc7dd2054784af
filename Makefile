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

# libFuzzer targets (clang and libclang-rt-14-dev); see tests/fuzz/README.md. Each target's
# regression inputs (tests/fuzz/regressions/TARGET-*) are replayed before it is fuzzed.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = rpc context sse prompt host blocks repomap findings plan
FUZZ_FLAGS = -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Iinclude -Inative
MSGPACK_PC := $(shell pkg-config --exists msgpack-c && echo msgpack-c || echo msgpack)
FUZZ_LIB_SOURCES = $(filter-out native/main.c,$(wildcard native/*/*.c))
fuzz:
	mkdir -p $(addprefix build-fuzz/,$(FUZZ_TARGETS))
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_rpc.c native/rpc/rpc.c native/util/buf.c \
	  $$(pkg-config --cflags --libs $(MSGPACK_PC) libuv) -o build-fuzz/fuzz_rpc
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_context.c native/context/*.c native/core/tokens.c \
	  native/util/buf.c native/util/text.c $$(pkg-config --cflags --libs jansson) \
	  -o build-fuzz/fuzz_context
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_sse.c native/http/sse.c native/http/ndjson.c \
	  native/provider/stream*.c native/util/buf.c $$(pkg-config --cflags --libs jansson) \
	  -o build-fuzz/fuzz_sse
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_prompt.c native/prompt/*.c native/context/*.c \
	  native/edit/blocks.c native/core/tokens.c native/util/buf.c native/util/text.c \
	  $$(pkg-config --cflags --libs jansson) -o build-fuzz/fuzz_prompt
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_host.c $(FUZZ_LIB_SOURCES) \
	  $$(pkg-config --cflags --libs $(MSGPACK_PC) libuv jansson libcurl) -ldl -lm \
	  -o build-fuzz/fuzz_host
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_blocks.c native/edit/blocks.c native/edit/apply.c \
	  native/util/buf.c native/util/text.c $$(pkg-config --cflags --libs jansson) \
	  -o build-fuzz/fuzz_blocks
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_plan.c native/service/plan_steps.c native/util/buf.c \
	  native/util/text.c native/util/path.c native/util/file.c \
	  $$(pkg-config --cflags --libs jansson) -o build-fuzz/fuzz_plan
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_repomap.c $(FUZZ_LIB_SOURCES) \
	  $$(pkg-config --cflags --libs $(MSGPACK_PC) libuv jansson libcurl) -ldl -lm \
	  -o build-fuzz/fuzz_repomap
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_findings.c $(FUZZ_LIB_SOURCES) \
	  $$(pkg-config --cflags --libs $(MSGPACK_PC) libuv jansson libcurl) -ldl -lm \
	  -o build-fuzz/fuzz_findings
	for t in $(FUZZ_TARGETS); do \
	  set -- tests/fuzz/regressions/$$t-*; \
	  [ -e "$$1" ] || { echo "fuzz: no regression inputs for $$t"; exit 1; }; \
	  build-fuzz/fuzz_$$t "$$@" >build-fuzz/regressions-$$t.log 2>&1 \
	    || { tail -n 30 build-fuzz/regressions-$$t.log; exit 1; }; \
	done
	for t in $(FUZZ_TARGETS); do \
	  max=; [ $$t = context ] && max=-max_len=8192; [ $$t = repomap ] && max=-max_len=4096; \
	  (cd build-fuzz && ./fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $$max -print_final_stats=1 \
	    $$t >$$t.log 2>&1) || { tail -n 30 build-fuzz/$$t.log; exit 1; }; \
	done
	grep -h "number_of_executed_units" $(addprefix build-fuzz/,$(addsuffix .log,$(FUZZ_TARGETS)))

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
