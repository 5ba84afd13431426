# remora: the two set-up commands are `make demo` and `make test` (README, Quick start).
#
#   make test    unit + end-to-end tests (build/), then the sanitized subset (build-asan/, test-asan)
#                and every fuzz target for a short while (build-fuzz/, test-fuzz)
#   make fuzz    every fuzz target for FUZZ_SECONDS (default 60) each (tests/fuzz/README.md)
#   make soak    SOAK_GUESTS (8) restarting guests against one server for SOAK_SECONDS (1200), checked
#                (tests/soak/soak.py); SOAK_SEED picks the workload
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 1200
SOAK_GUESTS ?= 8
SOAK_SEED ?= 20240601
# How long `make test` runs each fuzz target.
TEST_FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang-14
FUZZ_CXX ?= clang++-14

# The sanitized builds run the main build's generator (cmake/RemoraGenerate.cmake).
GEN_FLAGS = -DREMORA_GEN_EXECUTABLE=$(abspath $(BUILD))/bin/remora-gen

# The sanitized subset: unit tests, then end to end over shm and tcp (the server, the guest library
# and the test programs are all built with ASan+UBSan there).
ASAN_E2E ?= ^e2e\.(buffers|kernel_args|events|callbacks|errors)\.(shm|tcp)$$|^e2e\.(dummy_vendor|server_faults)\.tcp$$|^e2e\.(buffers|buffer_rect|transfers)\.shm_shared$$
ASAN_UNIT_TESTS = remora_common_tests remora_transport_tests remora_guest_rt_tests remora_server_rt_tests \
  remora_daemon_tests remora_cli_tests remora_hostile_tests
ASAN_TARGETS = remora remora-session remora-opencl remora-opencl-dummy $(ASAN_UNIT_TESTS) e2e_test_programs
# Every sanitizer report (leaks included) lands in $(ASAN_BUILD)/sanitizer-reports/, whichever process
# it came from (a session process's exit status does not reach the test): any file there fails.
ASAN_REPORTS = $(abspath $(ASAN_BUILD))/sanitizer-reports
ASAN_ENV = ASAN_OPTIONS=log_path=$(ASAN_REPORTS)/asan:detect_leaks=1 \
  LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp):print_suppressions=0 \
  UBSAN_OPTIONS=log_path=$(ASAN_REPORTS)/ubsan:print_stacktrace=1:halt_on_error=1

.PHONY: all deps configure build test test-asan test-fuzz fuzz soak test-gpu bench-gpu demo bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600
	$(MAKE) test-asan
	$(MAKE) test-fuzz

$(ASAN_BUILD)/build.ninja: CMakeLists.txt | build
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DREMORA_SANITIZE=ON $(GEN_FLAGS) $(CMAKE_FLAGS)

test-asan: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target $(ASAN_TARGETS)
	rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	set -e; for t in $(ASAN_UNIT_TESTS); do echo "== $$t (ASan+UBSan)"; $(ASAN_ENV) $(ASAN_BUILD)/bin/$$t --gtest_brief=1; done
	cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 600 -R '$(ASAN_E2E)'
	@if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then echo "FAIL: sanitizer reports:"; cat $(ASAN_REPORTS)/*; exit 1; fi
	@echo "test-asan: no sanitizer findings"

$(FUZZ_BUILD)/build.ninja: CMakeLists.txt | build
	CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) cmake -S . -B $(FUZZ_BUILD) -G Ninja -DREMORA_FUZZ=ON $(GEN_FLAGS) $(CMAKE_FLAGS)

test-fuzz: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) ctest --output-on-failure -j $(JOBS) -L fuzz

fuzz: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -j $(JOBS) -L fuzz

soak: build
	/usr/bin/python3 tests/soak/soak.py --remora $(BUILD)/bin/remora --guest $(BUILD)/bin/soak/soak_guest \
	  --seconds $(SOAK_SECONDS) --guests $(SOAK_GUESTS) --seed $(SOAK_SEED)

# On a machine with an NVIDIA GPU and CUDA: driver-API programs natively and through remora, compared.
test-gpu: build
	tests/gpu/run.sh $(BUILD)

# On a machine with an NVIDIA GPU: the CUDA benchmarks natively and through remora (shm, tcp) in one
# run, with ratios; BUILD/gpu-bench/results.json (BENCHMARKS.md, CUDA). BENCH_ARGS=--quick for a smoke run.
bench-gpu: build
	bench/gpu_run.sh $(BUILD) $(BENCH_ARGS)

demo: build
	@scripts/demo.sh $(BUILD)

# Native vs remora on every transport, side by side (BENCHMARKS.md). BENCH_ARGS=--quick for a smoke
# run; BENCH_STRICT=1 makes a regression against bench/results/baseline.json fail the target.
bench: build
	/usr/bin/python3 bench/run.py --build $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
