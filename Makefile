# mtasts: the two commands of the README.
#   make run    install missing Debian packages, build, run the program
#   make check  install, build with -Werror, run every test
# Other targets: build, demo, bench, unit, asan, integration, fuzz, clean.
#   make valgrind  the whole suite (unit, fuzz replay, and the programs in
#                  the integration tests) under valgrind; scripts/valgrind-suite

JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
ASAN     ?= build-asan
FUZZ     ?= build-fuzz
CMAKE    ?= cmake
CTEST    ?= ctest
CTESTFLAGS ?= --output-on-failure

.PHONY: all deps build run demo bench check unit asan integration fuzz clean
.PHONY: valgrind

all: build

deps:
	@./scripts/install-deps

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DMTS_WERROR=ON

build: deps $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j$(JOBS)

# `make run` starts the policy daemon in the foreground on its defaults
# (127.0.0.1:8461) with the embedded SQLite cache in $(BUILD)/run/.
run: build
	./scripts/run-daemon $(BUILD)

# `make demo` brings the closed test world up in its own network
# namespace, runs `mtasts query` against some of its domains, and tears
# it down.
demo: build
	./scripts/run-demo $(BUILD)/mtasts

# Benchmarks against postfix-mta-sts-resolver (never part of `make check`).
bench: build
	./bench/run

# The unit tests and fuzz replay, under ASan+UBSan, built with clang.
$(ASAN)/CMakeCache.txt:
	CC=clang $(CMAKE) -S . -B $(ASAN) -DMTS_WERROR=ON -DMTS_SANITIZE=ON \
	    -DMTS_UNIT_ONLY=ON -DCMAKE_BUILD_TYPE=Debug

asan: deps $(ASAN)/CMakeCache.txt
	$(CMAKE) --build $(ASAN) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(CTEST) --test-dir $(ASAN) $(CTESTFLAGS) -j$(JOBS)

unit: build
	$(CTEST) --test-dir $(BUILD) $(CTESTFLAGS) -j$(JOBS) -L 'unit|fuzz'

integration: build
	$(CTEST) --test-dir $(BUILD) $(CTESTFLAGS) -L integration

check: build asan
	./scripts/check-banned
	$(CTEST) --test-dir $(BUILD) $(CTESTFLAGS) -j$(JOBS)

# Real libFuzzer binaries; run one with e.g.
#   build-fuzz/tests/fuzz_sts_policy tests/fuzz/corpus/sts_policy -max_total_time=600
$(FUZZ)/CMakeCache.txt:
	CC=clang $(CMAKE) -S . -B $(FUZZ) -DMTS_FUZZ=ON -DMTS_UNIT_ONLY=ON \
	    -DCMAKE_BUILD_TYPE=Debug

fuzz: deps $(FUZZ)/CMakeCache.txt
	$(CMAKE) --build $(FUZZ) -j$(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)

# The whole suite under valgrind (issue 5): a gcc Debug build in
# build-valgrind, every unit test and fuzz replay under memcheck, then the
# integration tests with mtasts, mtastsd and mtasts-tlsrptd wrapped in
# valgrind; fails on any memory error or definite/indirect leak. Slow
# (see docs/reliability.md); needs root for the integration part.
valgrind: deps
	nice ./scripts/valgrind-suite
