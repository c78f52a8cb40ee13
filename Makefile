# Zenith -- plain GNU make. `make help` lists the targets.
.DEFAULT_GOAL := all
SHELL := /bin/sh

CC ?= cc
CXX ?= g++
CFLAGS ?= -O2 -g
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
PKG_CONFIG ?= pkg-config

VERSION := $(shell sed -n 's/^\#define ZENITH_VERSION_STRING "\(.*\)"/\1/p' zenith.h)

WARN := -Wall -Wextra -Wpedantic -Werror
# The headers are held to the strict set; tests, examples and benchmarks to WARN.
STRICT := $(WARN) -Wshadow -Wsign-conversion -Wundef
CSTRICT := $(STRICT) -Wstrict-prototypes -Wmissing-prototypes

# Evaluated when a recipe runs, i.e. after tools/deps.sh had its chance to install them.
URING_LIBS = $(shell $(PKG_CONFIG) --libs liburing 2>/dev/null || echo -luring)
CRIT_CFLAGS = $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
CRIT_LIBS = $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)
NUMA_LIBS = $(shell $(PKG_CONFIG) --libs numa 2>/dev/null || echo -lnuma)
LIBS = $(URING_LIBS) $(NUMA_LIBS) -pthread -lm
HAVE_DPDK = $(shell $(PKG_CONFIG) --exists libdpdk 2>/dev/null && echo 1)
HAVE_MIMALLOC = $(shell test -f /usr/include/mimalloc.h && echo 1)
HAVE_UV = $(shell $(PKG_CONFIG) --exists libuv 2>/dev/null && echo 1)
BENCH_FLAGS = $(if $(HAVE_MIMALLOC),-DZENITH_BENCH_MIMALLOC) \
              $(if $(HAVE_DPDK),-DZENITH_BENCH_DPDK $(shell $(PKG_CONFIG) --cflags libdpdk))
BENCH_LIBS = $(if $(HAVE_MIMALLOC),-lmimalloc) $(if $(HAVE_DPDK),$(shell $(PKG_CONFIG) --libs libdpdk))

HEADERS := zenith.h zenith_numa.h
SUITES := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
# Suites with threads: these also run under ThreadSanitizer.
TSAN_SUITES := $(filter %_threads,$(SUITES))
# The reactor's suites run twice, once per backend (ZENITH_BACKEND=io_uring, =epoll): one body,
# two runs. The others once (test_backend picks its backends itself).
REACTOR_SUITES := test_server test_server_threads test_reactor test_reentrancy test_reactor_threads test_echo_load test_proxy \
                  test_udp test_multicast test_udp_threads
OTHER_SUITES := $(filter-out $(REACTOR_SUITES),$(SUITES))
# plain@io_uring <reactor suites> plain@epoll <reactor suites> plain <the rest>, for one build
run_args = $(1)@io_uring $(addprefix $(BUILD)/$(1)/,$(filter $(REACTOR_SUITES),$(2))) \
           $(1)@epoll $(addprefix $(BUILD)/$(1)/,$(filter $(REACTOR_SUITES),$(2))) \
           $(1) $(addprefix $(BUILD)/$(1)/,$(filter-out $(REACTOR_SUITES),$(2)))
# Suites that also run under valgrind memcheck (the engine's promise is "nothing leaked under
# valgrind"; the pool, NUMA, config and error suites too). The io_uring suites cannot: valgrind
# 3.19 does not follow io_uring.
VALGRIND_SUITES := test_engine test_engine_threads test_plugin test_wasm test_pool test_numa test_numa_threads test_config test_errors
# ... and the reactor suites that finish in reasonable time under memcheck, on the epoll backend
# (valgrind follows epoll, not io_uring): test_server's 10,000-connection and RLIMIT_NOFILE tests
# do not (valgrind keeps descriptors of its own near the limit)
VALGRIND_EPOLL_SUITES := test_reactor test_reentrancy test_echo_load test_udp
EXAMPLES := $(patsubst examples/%.c,%,$(wildcard examples/*.c))
SOURCES := $(HEADERS) zenith_wasm.h tools/wasm_spec.c zenith.c $(wildcard plugins/*.c plugins/*.h) $(wildcard tests/*.c tests/*.h tests/compile/*.c tests/compile/*.h tests/fuzz/*.c bench/*.c examples/*.c)

ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN := -fsanitize=thread

.PHONY: all help test test-plain test-asan test-tsan test-numa-qemu fuzz test-bindings tests-build check check-headers check-link check-examples \
        check-shared check-readme check-install bench bench-build bench-reactor demo shared install uninstall \
        fuzz-wasm fuzz-wasm-diff format format-check clean deps-build deps-test deps-check deps-bench examples

help:
	@echo "make demo            the main job: the zero-copy echo server under the load generator for 3 s"
	@echo "make test            every C suite (plain, ASan+UBSan, TSan, valgrind where they apply), then the bindings"
	@echo "make all             build tests, examples and benchmarks"
	@echo "make check           headers alone as C99/C11/C++11/C++17 with gcc and clang, link tests, shared lib, README code"
	@echo "make test-bindings   the Python, Rust, Go and Node.js bindings' suites"
	@echo "make test-numa-qemu  the NUMA suites in a QEMU guest with two NUMA nodes"
	@echo "make fuzz            libFuzzer on the Arrow validation for FUZZ_SECONDS (60)"
	@echo "make bench           the benchmarks (about eight minutes); docs/PERFORMANCE.md has the figures"
	@echo "make bench-reactor   the reactor's alone: timers vs libuv, posts, ping-pong vs sockperf, proxy vs HAProxy/nginx"
	@echo "make test-plain | test-asan | test-tsan | shared | install | format | format-check | clean"

# ---- dependencies: installed when root (or password-less sudo), else named on one line -------
deps-build:
	@tools/deps.sh pkg-config liburing numa
deps-test:
	@tools/deps.sh pkg-config liburing numa criterion numactl valgrind ip clang lld wast2json
deps-check:
	@tools/deps.sh pkg-config liburing numa criterion clang clang-format
deps-bench:
	@tools/deps.sh pkg-config liburing numa
	@tools/deps.sh --optional mimalloc libdpdk libuv valgrind strace haproxy sockperf nginx-stream clang lld

# ---- build ------------------------------------------------------------------------------------
all: deps-test
	@$(MAKE) --no-print-directory tests-build examples bench-build

$(BUILD)/plain $(BUILD)/asan $(BUILD)/tsan $(BUILD)/shim $(BUILD)/check $(BUILD)/examples:
	@mkdir -p $@

TEST_DEPS := $(HEADERS) tests/criterion_compat.h tests/helpers.h tests/net_helpers.h tests/arrow_helpers.h

$(BUILD)/plain/%: tests/%.c $(TEST_DEPS) | $(BUILD)/plain
	$(CC) -std=c11 $(CFLAGS) $(WARN) -I. -Itests -DZENITH_BUILD_DIR='"$(BUILD)"' $(CRIT_CFLAGS) $< -o $@ $(CRIT_LIBS) $(LIBS)

$(BUILD)/asan/%: tests/%.c $(TEST_DEPS) | $(BUILD)/asan
	$(CC) -std=c11 -O1 -g $(WARN) $(ASAN) -I. -Itests -DZENITH_BUILD_DIR='"$(BUILD)"' $(CRIT_CFLAGS) $< -o $@ $(CRIT_LIBS) $(LIBS)

# Criterion cannot start under TSan (its BoxFort arena collides with TSan's shadow mappings,
# Criterion issue #274), so the TSan build runs the same tests on tests/criterion_compat.h.
$(BUILD)/tsan/%: tests/%.c $(TEST_DEPS) | $(BUILD)/tsan
	$(CC) -std=c11 -O1 -g $(WARN) $(TSAN) -DZENITH_TEST_SHIM -I. -Itests -DZENITH_BUILD_DIR='"$(BUILD)"' $< -o $@ $(LIBS)

# valgrind runs the shim build (Criterion's own runner does not start under valgrind cleanly)
$(BUILD)/shim/%: tests/%.c $(TEST_DEPS) | $(BUILD)/shim
	$(CC) -std=c11 -O1 -g $(WARN) -DZENITH_TEST_SHIM -I. -Itests -DZENITH_BUILD_DIR='"$(BUILD)"' $< -o $@ $(LIBS)

# test_proxy runs the built example: build it first (order-only: a new proxy does not relink the suite)
$(BUILD)/plain/test_proxy $(BUILD)/asan/test_proxy: | $(BUILD)/examples/proxy
# test_backend runs the echo example, unchanged, under a seccomp filter that refuses io_uring
$(BUILD)/plain/test_backend $(BUILD)/asan/test_backend: | $(BUILD)/examples/echo_server
# test_multicast runs the feed example between two network namespaces
$(BUILD)/plain/test_multicast $(BUILD)/asan/test_multicast: | $(BUILD)/examples/feed
$(BUILD)/plain/test_wasm $(BUILD)/asan/test_wasm $(BUILD)/shim/test_wasm: zenith_wasm.h
# test_plugin* run the example plugins (clang --target=wasm32 + wasm-ld, no libc; Debian: clang,
# lld), built first (order-only); they define ZENITH_PLUGINS in their source (LIBS has -lm)
PLUGINS_WASM := $(BUILD)/plugins/price_filter.wasm $(BUILD)/plugins/vwap.wasm \
                $(BUILD)/plugins/price_filter_loop.wasm $(BUILD)/plugins/vwap_loop.wasm
$(PLUGINS_WASM) &: plugins/build.sh plugins/zenith_plugin.h plugins/price_filter.c plugins/vwap.c
	@tools/deps.sh clang lld
	plugins/build.sh $(BUILD)/plugins
$(foreach d,plain asan tsan shim,$(BUILD)/$(d)/test_plugin $(BUILD)/$(d)/test_plugin_threads): zenith_wasm.h | $(PLUGINS_WASM)

tests-build: $(addprefix $(BUILD)/plain/,$(SUITES)) $(addprefix $(BUILD)/asan/,$(SUITES)) \
             $(addprefix $(BUILD)/tsan/,$(TSAN_SUITES)) $(addprefix $(BUILD)/shim/,$(VALGRIND_SUITES)) \
             $(addprefix $(BUILD)/shim/,$(VALGRIND_EPOLL_SUITES)) $(BUILD)/examples/numa_info

examples: $(addprefix $(BUILD)/examples/,$(EXAMPLES))

$(BUILD)/examples/%: examples/%.c $(HEADERS) zenith_wasm.h | $(BUILD)/examples
	$(CC) -std=c11 $(CFLAGS) $(WARN) -I. $< -o $@ $(LIBS)

# ---- tests ------------------------------------------------------------------------------------
# `make test` runs every suite plain, under ASan+UBSan, and the threaded ones under TSan, then
# prints one summary line: "zenith: N passed, N failed, N skipped".
test: deps-test
	@$(MAKE) --no-print-directory tests-build
	@tools/run-tests.sh $(call run_args,plain,$(SUITES)) $(call run_args,asan,$(SUITES)) \
	                    $(call run_args,tsan,$(TSAN_SUITES)) \
	                    valgrind $(addprefix $(BUILD)/shim/,$(VALGRIND_SUITES)) \
	                    valgrind@epoll $(addprefix $(BUILD)/shim/,$(VALGRIND_EPOLL_SUITES))
	@CC="$(CC)" tools/wasm_spec.sh $(BUILD)/wasm-spec
	@$(MAKE) --no-print-directory test-bindings

test-plain: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/plain/,$(SUITES)) $(BUILD)/examples/numa_info
	@tools/run-tests.sh $(call run_args,plain,$(SUITES))

test-asan: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/asan/,$(SUITES)) $(BUILD)/examples/numa_info
	@tools/run-tests.sh $(call run_args,asan,$(SUITES))

test-tsan: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/tsan/,$(TSAN_SUITES))
	@tools/run-tests.sh $(call run_args,tsan,$(TSAN_SUITES))

# The NUMA suites on two emulated nodes: a QEMU guest (tools/numa-qemu; installs qemu-system-x86,
# fetches busybox and a Debian kernel into build-qemu/), so the numa_two_nodes tests run too.
# A skipped test fails this target: two nodes are the point.
NUMA_QEMU_SUITES := test_numa test_numa_threads test_server
# per suite, the tests to run there (all if empty): the server's NUMA test only
NUMA_QEMU_FILTER_test_server := --filter 'server/pinned_reactor_pool_on_its_cpus_node'
test-numa-qemu: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/plain/,$(NUMA_QEMU_SUITES)) $(BUILD)/examples/numa_info
	@set -e; $(foreach t,$(NUMA_QEMU_SUITES), \
	  tools/numa-qemu/run.sh --timeout 300 --with /usr/bin/numactl --with $(BUILD)/examples/numa_info \
	    $(BUILD)/plain/$(t) --ascii --verbose $(NUMA_QEMU_FILTER_$(t)) > $(BUILD)/$(t).qemu.log 2>&1 \
	    || { cat $(BUILD)/$(t).qemu.log; exit 1; }; \
	  grep -E '^\[(PASS|SKIP|FAIL|====)\]' $(BUILD)/$(t).qemu.log | grep -v 'Test is disabled' || true; \
	  if grep '^\[SKIP\]' $(BUILD)/$(t).qemu.log | grep -qv 'Test is disabled'; then echo "test-numa-qemu: $(t) skipped tests on two nodes"; exit 1; fi;)
	@echo "test-numa-qemu: NUMA suites passed on two emulated nodes, nothing skipped"

# libFuzzer on the engine's Arrow validation, for a bounded time (clang; ASan + UBSan).
FUZZ_SECONDS ?= 60
fuzz: deps-check
	@tools/deps.sh libfuzzer
	@mkdir -p $(BUILD)/fuzz/corpus
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN) -I. \
	  tests/fuzz/fuzz_arrow.c -o $(BUILD)/fuzz/fuzz_arrow $(LIBS)
	@$(BUILD)/fuzz/fuzz_arrow -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus \
	  > $(BUILD)/fuzz/log 2>&1 || { tail -40 $(BUILD)/fuzz/log; echo "fuzz: a finding, input saved in $(BUILD)/fuzz/"; exit 1; }
	@grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(BUILD)/fuzz/log
	@echo "fuzz: $(FUZZ_SECONDS) s of fuzz_arrow without a finding"
	@$(MAKE) --no-print-directory fuzz-wasm

# The WebAssembly interpreter under libFuzzer: decode+validate (wasm_load), and load +
# instantiate + call every export with fuel (wasm_run); the regression inputs first.
WASM_FUZZ := wasm_load wasm_run
fuzz-wasm: deps-check
	@tools/deps.sh libfuzzer
	@mkdir -p $(addprefix $(BUILD)/fuzz/,$(addsuffix _corpus,$(WASM_FUZZ)))
	@tests/fuzz/wasm_seeds.sh $(BUILD)/fuzz/wasm_seeds
	@set -e; for t in $(WASM_FUZZ); do \
	  clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN) -I. \
	    tests/fuzz/$$t.c -o $(BUILD)/fuzz/$$t -lm; \
	  $(BUILD)/fuzz/$$t tests/fuzz/wasm_regress/*.wasm > $(BUILD)/fuzz/$$t.regress.log 2>&1 \
	    || { tail -40 $(BUILD)/fuzz/$$t.regress.log; echo "fuzz: $$t fails on a tests/fuzz/wasm_regress input"; exit 1; }; \
	  $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=60 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	    $(BUILD)/fuzz/$${t}_corpus $(BUILD)/fuzz/wasm_seeds > $(BUILD)/fuzz/$$t.log 2>&1 \
	    || { tail -40 $(BUILD)/fuzz/$$t.log; echo "fuzz: a finding in $$t, input saved in $(BUILD)/fuzz/"; exit 1; }; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(BUILD)/fuzz/$$t.log; \
	  echo "fuzz: $(FUZZ_SECONDS) s of $$t without a finding"; \
	done

# Random valid modules (binaryen's wasm-opt -ttf) run in wasm_run and in V8: results compared.
WASM_DIFF_MODULES ?= 200
fuzz-wasm-diff:
	@tests/fuzz/wasm_diff.sh -n $(WASM_DIFF_MODULES) -o $(BUILD)/fuzz/wasm_diff

# ---- bindings ----------------------------------------------------------------------------------
# Each binding's own suite: bindings/LANG/run_tests.sh BUILD (unit tests, then its packaging
# check), one summary line each. Run as root, every toolchain is installed first, so nothing is
# skipped; otherwise a missing toolchain skips that binding with one line naming the package.
BINDINGS := python rust go node
COMMA := ,
$(BUILD)/py_consumer.so: bindings/python/tests/consumer.c $(BUILD)/libzenith.so
	$(CC) -std=c11 $(CFLAGS) $(WARN) -shared -fPIC -I. $< -o $@ -L$(BUILD) -lzenith -Wl,-rpath,$(CURDIR)/$(BUILD)

test-bindings: deps-build
	@if [ "$$(id -u)" = 0 ]; then tools/deps.sh python3 cargo go node npm; \
	 else tools/deps.sh --optional python3 cargo go node npm; fi
	@$(MAKE) --no-print-directory $(BUILD)/libzenith.so $(BUILD)/libzenith.a $(BUILD)/loadgen $(BUILD)/py_consumer.so $(PLUGINS_WASM)
	@set -e; for b in $(BINDINGS); do sh bindings/$$b/run_tests.sh $(CURDIR)/$(BUILD); done

# ---- check: the headers compile everywhere they promise to -----------------------------------
check: deps-check
	@$(MAKE) --no-print-directory check-headers check-link check-shared check-readme check-examples check-install format-check
	@echo "check: all passed"

# Each header alone, with and without its implementation, as C99/C11 (gcc, clang) and C++11/17.
check-headers: | $(BUILD)/check
	@set -e; for h in $(HEADERS); do \
	  for impl in "" "#define ZENITH_IMPLEMENTATION"; do \
	    printf '%s\n#include "%s"\nint main(void) { return 0; }\n' "$$impl" "$$h" > $(BUILD)/check/alone.c; \
	    for cc in gcc clang; do for std in c99 c11; do \
	      $$cc -std=$$std $(CSTRICT) -I. -fsyntax-only $(BUILD)/check/alone.c; done; done; \
	    for cxx in g++ clang++; do for std in c++11 c++17; do \
	      $$cxx -std=$$std $(STRICT) -I. -x c++ -fsyntax-only $(BUILD)/check/alone.c; done; done; \
	  done; done
	@printf '#define ZENITH_NO_INLINE\n#include "zenith.h"\n#if defined(LIB_URING_H) || defined(_GNU_SOURCE)\n#error "ZENITH_NO_INLINE must leave liburing and _GNU_SOURCE out"\n#endif\nint main(void) { return zenith_version() > 0 ? 0 : 1; }\n' > $(BUILD)/check/no_inline.c
	@gcc -std=c99 $(CSTRICT) -I. -fsyntax-only $(BUILD)/check/no_inline.c
	@set -e; for impl in "" "#define ZENITH_WASM_IMPLEMENTATION"; do \
	  printf '%s\n#include "zenith_wasm.h"\nint main(void) { return 0; }\n' "$$impl" > $(BUILD)/check/alone_wasm.c; \
	  for cc in gcc clang; do for std in c99 c11; do $$cc -std=$$std $(CSTRICT) -I. -fsyntax-only $(BUILD)/check/alone_wasm.c; done; done; \
	done; printf '#include "zenith_wasm.h"\nint main(void) { return 0; }\n' > $(BUILD)/check/alone_wasm.cc; \
	for cxx in g++ clang++; do for std in c++11 c++17; do $$cxx -std=$$std $(STRICT) -I. -fsyntax-only $(BUILD)/check/alone_wasm.cc; done; done
	@echo "check-headers: zenith.h, zenith_numa.h alone, with and without implementation: gcc/clang C99/C11, g++/clang++ C++11/C++17; ZENITH_NO_INLINE pulls in no liburing"

# Two TUs (one with the implementation) link without duplicate symbols; two ZENITH_STATIC TUs
# link; declarations-then-implementation in one TU; each header on its own. Each program runs.
check-link: | $(BUILD)/check
	@set -e; o=$(BUILD)/check; \
	for cc in gcc clang; do for std in c99 c11; do \
	  f="-std=$$std $(CSTRICT) -O1 -I. -Itests/compile"; \
	  $$cc $$f tests/compile/impl.c tests/compile/main.c -o $$o/link $(LIBS) && $$o/link; \
	  $$cc $$f tests/compile/static_a.c tests/compile/static_b.c -o $$o/static $(LIBS) && $$o/static; \
	  $$cc $$f tests/compile/twice.c -o $$o/twice $(LIBS) && $$o/twice; \
	  $$cc $$f tests/compile/alone_zenith.c -o $$o/alone_z $(LIBS) && $$o/alone_z; \
	  $$cc $$f tests/compile/alone_numa.c -o $$o/alone_n $(NUMA_LIBS) -pthread && $$o/alone_n; \
	  $$cc $$f tests/compile/numa_first.c -o $$o/numa_first $(LIBS) && $$o/numa_first; \
	done; done; \
	for cxx in g++ clang++; do for std in c++11 c++17; do \
	  f="-std=$$std $(STRICT) -O1 -I. -Itests/compile -fno-exceptions -fno-rtti"; \
	  $$cxx $$f -x c++ tests/compile/impl.c -x c++ tests/compile/main.c -o $$o/link $(LIBS) && $$o/link; \
	  $$cxx $$f -x c++ tests/compile/static_a.c -x c++ tests/compile/static_b.c -o $$o/static $(LIBS) && $$o/static; \
	done; done; \
	gcc -std=c11 $(CSTRICT) -O1 -I. -Itests/compile -c tests/compile/impl.c -o $$o/impl.o; \
	g++ -std=c++17 $(STRICT) -O1 -I. -Itests/compile -x c++ -c tests/compile/main.c -o $$o/main.o; \
	g++ $$o/impl.o $$o/main.o -o $$o/mixed $(LIBS) && $$o/mixed
	@echo "check-link: impl+user TUs, two ZENITH_STATIC TUs, include twice, each header alone, C++ user of a C implementation: all link and run"

# ---- shared and static library (for FFI users) ----------------------------------------------
shared: deps-build
	@$(MAKE) --no-print-directory $(BUILD)/libzenith.so $(BUILD)/libzenith.a

$(BUILD)/libzenith.so: zenith.c $(HEADERS) zenith_wasm.h
	@mkdir -p $(BUILD)
	$(CC) -std=c11 $(CFLAGS) $(CSTRICT) -I. -fPIC -fvisibility=hidden -DZENITH_SHARED -DZENITH_PLUGINS -shared \
	  -Wl,-soname,libzenith.so.0 zenith.c -o $@ $(LIBS)
	ln -sf libzenith.so $(BUILD)/libzenith.so.0

$(BUILD)/libzenith.a: zenith.c $(HEADERS) zenith_wasm.h
	@mkdir -p $(BUILD)
	$(CC) -std=c11 $(CFLAGS) $(CSTRICT) -I. -fPIC -DZENITH_PLUGINS -c zenith.c -o $(BUILD)/zenith.o
	ar rcs $@ $(BUILD)/zenith.o

# Only zenith_* may be exported, from the .so and from the .a.
check-shared: $(BUILD)/libzenith.so $(BUILD)/libzenith.a
	@bad=$$( (nm -D --defined-only $(BUILD)/libzenith.so; nm -g --defined-only $(BUILD)/libzenith.a) \
	  | awk 'NF >= 3 { print $$3 }' | grep -v '^zenith_' | sort -u); \
	if [ -n "$$bad" ]; then echo "check-shared: exported non-API symbols:" $$bad; exit 1; fi
	@echo "check-shared: libzenith.so and libzenith.a export only zenith_* ($$(nm -D --defined-only $(BUILD)/libzenith.so | grep -c ' zenith_') symbols)"

# Every ```c block of README.md that has a main() compiles exactly as written, warning-free, and runs.
check-readme: | $(BUILD)/check
	@set -e; rm -f $(BUILD)/check/readme_*.c; \
	awk -v dir=$(BUILD)/check '/^```c$$/ { n++; f = dir "/readme_" n ".c"; inblk = 1; next } \
	     /^```/ { inblk = 0; next } inblk { print > f }' README.md; \
	count=0; for f in $(BUILD)/check/readme_*.c; do \
	  grep -q 'int main' $$f || continue; count=$$((count + 1)); \
	  cc -std=c11 $(WARN) -I. $$f -o $${f%.c} $(LIBS) && $${f%.c} > /dev/null; done; \
	[ $$count -gt 0 ] || { echo "check-readme: no program found in README.md"; exit 1; }; \
	echo "check-readme: $$count README program(s) compile and run"

# Every example builds with the exact command in its top comment ("Build: cc ..."), run from
# the repository root with the output redirected into build/check.
check-examples: | $(BUILD)/check
	@set -e; for f in examples/*.c; do \
	  cmd=$$(sed -n 's/^ *Build: *//p' $$f | head -1); \
	  [ -n "$$cmd" ] || { echo "check-examples: $$f has no Build: line"; exit 1; }; \
	  out=$$(echo "$$cmd" | sed -n 's/.* -o *\([^ ]*\).*/\1/p'); \
	  (cd $(BUILD)/check && mkdir -p ex && cd ex && ln -sfn $(CURDIR)/examples examples && \
	   ln -sfn $(CURDIR)/zenith.h zenith.h && ln -sfn $(CURDIR)/zenith_numa.h zenith_numa.h && ln -sfn $(CURDIR)/zenith_wasm.h zenith_wasm.h && \
	   eval "$$cmd -Wall -Wextra -Werror" && test -x "$$out"); \
	done
	@echo "check-examples: $$(ls examples/*.c | wc -l) examples build with the command in their top comment"

# Install into a staging DESTDIR and build against it through pkg-config: a program linked with
# libzenith (zenith-shared), and the README's quick start compiled header-only (zenith). Then a
# real install under a non-default PREFIX: a program linked with `pkg-config --libs
# zenith-shared` alone must find libzenith.so.0 when it runs (the .pc carries the rpath).
check-install: | $(BUILD)/check
	@rm -rf $(BUILD)/stage $(BUILD)/prefix
	@$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(BUILD)/stage PREFIX=/usr > /dev/null
	@set -e; st=$(CURDIR)/$(BUILD)/stage; pc="PKG_CONFIG_PATH=$$st/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$$st"; \
	flags=$$(env $$pc $(PKG_CONFIG) --cflags --libs zenith-shared); \
	cc -std=c11 $(WARN) tests/compile/main.c tests/compile/via_library.c -Itests/compile -o $(BUILD)/check/installed $$flags -Wl,-rpath,$$st/usr/lib; \
	$(BUILD)/check/installed; \
	awk '/^```c$$/ { n++; if (n == 1) inblk = 1; next } /^```/ { inblk = 0 } inblk' README.md > $(BUILD)/check/quick.c; \
	cc -std=c11 $(WARN) $(BUILD)/check/quick.c -o $(BUILD)/check/quick $$(env $$pc $(PKG_CONFIG) --cflags --libs zenith); \
	$(BUILD)/check/quick > /dev/null
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD)/prefix > /dev/null
	@set -e; pfx=$(CURDIR)/$(BUILD)/prefix; \
	cc -std=c11 $(WARN) tests/compile/main.c tests/compile/via_library.c -Itests/compile -o $(BUILD)/check/installed2 \
	  $$(PKG_CONFIG_PATH=$$pfx/lib/pkgconfig $(PKG_CONFIG) --cflags --libs zenith-shared); \
	env -u LD_LIBRARY_PATH $(BUILD)/check/installed2
	@echo "check-install: headers, libzenith.so/.a, zenith.pc (header-only) and zenith-shared.pc install and link; a non-default PREFIX runs without LD_LIBRARY_PATH"

install: shared
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(HEADERS) zenith_wasm.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/libzenith.so $(DESTDIR)$(PREFIX)/lib/libzenith.so.$(VERSION)
	ln -sf libzenith.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libzenith.so.0
	ln -sf libzenith.so.0 $(DESTDIR)$(PREFIX)/lib/libzenith.so
	install -m 644 $(BUILD)/libzenith.a $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/zenith.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zenith.pc
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	  -e 's|@RPATH@|$(if $(filter /usr /usr/local,$(PREFIX)),, -Wl$(COMMA)-rpath$(COMMA)$${libdir})|' \
	  tools/zenith-shared.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zenith-shared.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/zenith.h $(DESTDIR)$(PREFIX)/include/zenith_numa.h $(DESTDIR)$(PREFIX)/include/zenith_wasm.h \
	  $(DESTDIR)$(PREFIX)/lib/libzenith.so* $(DESTDIR)$(PREFIX)/lib/libzenith.a \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/zenith.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/zenith-shared.pc

# ---- benchmarks and the demo -------------------------------------------------------------------
$(BUILD)/pool_bench: bench/pool_bench.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $(BENCH_FLAGS) $< -o $@ $(BENCH_LIBS) $(LIBS)

$(BUILD)/numa_bench: bench/numa_bench.c zenith_numa.h
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(NUMA_LIBS) -pthread

$(BUILD)/engine_bench: bench/engine_bench.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(LIBS)

$(BUILD)/plugin_bench: bench/plugin_bench.c $(HEADERS) zenith_wasm.h | $(PLUGINS_WASM)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(LIBS)

$(BUILD)/ring_nop: bench/ring_nop.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(LIBS)

$(BUILD)/loadgen $(BUILD)/epoll_echo: $(BUILD)/%: bench/%.c
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) $< -o $@ -pthread

$(BUILD)/pingpong_epoll: bench/pingpong_epoll.c
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) $< -o $@ -pthread

$(BUILD)/pingpong_zenith $(BUILD)/post_bench: $(BUILD)/%: bench/%.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(LIBS)

$(BUILD)/timer_bench: bench/timer_bench.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(shell $(PKG_CONFIG) --cflags --libs libuv) $(LIBS)

$(BUILD)/udp_sink $(BUILD)/udp_blast: $(BUILD)/%: bench/%.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -I. $< -o $@ $(LIBS)

$(BUILD)/uv_udp: bench/uv_udp.c
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) $< -o $@ $(shell $(PKG_CONFIG) --cflags --libs libuv) -pthread

$(BUILD)/uv_echo: bench/uv_echo.c
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CFLAGS) -Wall -Wextra -Werror $< -o $@ $(shell $(PKG_CONFIG) --cflags --libs libuv) -pthread

ECHO_SERVERS = "$(BUILD)/examples/echo_server --backend io_uring" "$(BUILD)/examples/echo_server --backend epoll" $(BUILD)/epoll_echo $(if $(HAVE_UV),$(BUILD)/uv_echo)

bench-build: $(BUILD)/pool_bench $(BUILD)/ring_nop $(BUILD)/numa_bench $(BUILD)/engine_bench $(BUILD)/plugin_bench $(BUILD)/loadgen $(BUILD)/epoll_echo \
             $(BUILD)/pingpong_epoll $(BUILD)/pingpong_zenith $(BUILD)/post_bench $(BUILD)/udp_sink $(BUILD)/udp_blast \
             $(if $(HAVE_UV),$(BUILD)/uv_echo $(BUILD)/timer_bench $(BUILD)/uv_udp)

# The full benchmarks (about fifteen minutes) and the callgrind instruction counts.
bench: deps-bench
	@$(MAKE) --no-print-directory bench-build $(BUILD)/examples/echo_server
	$(BUILD)/pool_bench
	$(BUILD)/ring_nop
	$(BUILD)/numa_bench
	$(BUILD)/engine_bench
	$(BUILD)/plugin_bench $(BUILD)/plugins
	@$(MAKE) --no-print-directory $(BUILD)/libzenith.so
	sh bench/ffi_overhead.sh $(BUILD)
	sh bench/echo_compare.sh $(ECHO_SERVERS)
	sh bench/udp_compare.sh $(BUILD)
	sh bench/wasm_compare.sh $(BUILD)/bench/wasm
	@$(MAKE) --no-print-directory bench-reactor
	@if command -v valgrind > /dev/null; then sh bench/callgrind.sh && sh bench/callgrind_ring.sh; \
	else echo "bench: valgrind not installed, no instruction counts"; fi
	BUILD=$(BUILD) CC=$(CC) sh bench/callgrind_echo.sh

# The reactor's benchmarks alone (issue 9): timers vs libuv, posting, busy-poll ping-pong vs
# sockperf and an epoll pair, the proxy vs HAProxy and nginx's stream module.
bench-reactor: deps-bench
	@$(MAKE) --no-print-directory $(BUILD)/post_bench $(BUILD)/pingpong_epoll $(BUILD)/pingpong_zenith \
	  $(BUILD)/loadgen $(BUILD)/epoll_echo $(BUILD)/examples/proxy $(if $(HAVE_UV),$(BUILD)/timer_bench)
	@if [ -x $(BUILD)/timer_bench ]; then $(BUILD)/timer_bench; else echo "bench: timer_bench skipped (libuv not installed: Debian libuv1-dev)"; fi
	$(BUILD)/post_bench
	BUILD=$(BUILD) sh bench/latency_compare.sh
	LOADGEN=$(BUILD)/loadgen UPSTREAM=$(BUILD)/epoll_echo sh bench/proxy_compare.sh $(BUILD)/examples/proxy

# The main job: the zero-copy echo server under the load generator for a few seconds.
demo: deps-build
	@$(MAKE) --no-print-directory $(BUILD)/examples/echo_server $(BUILD)/loadgen
	@sh bench/demo.sh $(BUILD)

# ---- housekeeping ----------------------------------------------------------------------------
format:
	clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run --Werror $(SOURCES)
	@echo "format-check: $(words $(SOURCES)) files clean"

clean:
	rm -rf $(BUILD)
