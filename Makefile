# remora: the two set-up commands are `make demo` and `make test` (README, Quick start).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-gpu demo bench clean

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

# On a machine with an NVIDIA GPU and CUDA: driver-API programs natively and through remora, compared.
test-gpu: build
	tests/gpu/run.sh $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

# Native vs remora on every transport, side by side (BENCHMARKS.md). BENCH_ARGS=--quick for a smoke
# run; BENCH_STRICT=1 makes a regression against bench/results/baseline.json fail the target.
bench: build
	/usr/bin/python3 bench/run.py --build $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
