# The README's two commands: `make demo` and `make test`. Both install missing system packages first.
SWIFT ?= swift
# Tests get their own build folder: -enable-testing changes every target's flags, and sharing
# .build with the demo binary would rebuild everything each time one switches.
TEST_SCRATCH := .build-test
# Swift code for AVX2/FMA CPUs (x86-64-v3: Haswell, Zen and later) when this CPU has AVX2; the
# element-wise kernels, im2col/col2im, batch norm and Adam then use 256-bit vectors (demo-hoc
# 1-thread step 0.39 → 0.35 s). `make CPU=` builds for the x86-64 baseline (for a cluster whose
# compute nodes are older than the machine that builds), `make CPU=znver4` for one CPU model.
CPU ?= $(shell grep -q -m1 -w avx2 /proc/cpuinfo 2>/dev/null && echo haswell)
CPU_FLAGS := $(if $(CPU),-Xswiftc -target-cpu -Xswiftc $(CPU),)
TEST_FLAGS := -c release --scratch-path $(TEST_SCRATCH) -Xswiftc -enable-testing $(CPU_FLAGS)

.PHONY: setup build demo test test-kernels bench fuzz clean

setup:
	@bash launch/setup.sh

build: setup
	$(SWIFT) build -c release --product carve $(CPU_FLAGS)

demo: build
	@bash launch/demo.sh

test: setup
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	CARVE_POISON_RELEASED=1 CARVE_BIN=$(abspath $(TEST_SCRATCH))/release/carve $(SWIFT) test $(TEST_FLAGS) --skip-build
	@CARVE_POISON_RELEASED=1 bash launch/test-mpi.sh $(TEST_SCRATCH)/release

# The numeric suites under every OpenBLAS kernel family this CPU runs, and from an x86-64 baseline
# build (launch/test-kernels.sh); after `make test`, whose build it reuses.
test-kernels: setup
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	@SWIFT=$(SWIFT) bash launch/test-kernels.sh $(TEST_SCRATCH) $(TEST_SCRATCH)-baseline

bench: build
	@bash bench/run.sh

# libFuzzer + ASan targets (fuzz/: PNG, JPEG, safetensors, boxes.csv, CUB lists, configuration),
# built in .build-fuzz and run one after another for FUZZ_SECONDS each (default 120).
fuzz: setup
	@bash fuzz/build.sh
	@bash fuzz/run.sh

clean:
	rm -rf .build $(TEST_SCRATCH) $(TEST_SCRATCH)-baseline
