# The README's two commands: `make demo` and `make test`. Both install missing system packages first.
SWIFT ?= swift
# Tests get their own build folder: -enable-testing changes every target's flags, and sharing
# .build with the demo binary would rebuild everything each time one switches.
TEST_SCRATCH := .build-test
TEST_FLAGS := -c release --scratch-path $(TEST_SCRATCH) -Xswiftc -enable-testing

.PHONY: setup build demo test bench clean

setup:
	@bash launch/setup.sh

build: setup
	$(SWIFT) build -c release --product carve

demo: build
	@bash launch/demo.sh

test: setup
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	CARVE_BIN=$(abspath $(TEST_SCRATCH))/release/carve $(SWIFT) test $(TEST_FLAGS) --skip-build
	@bash launch/test-mpi.sh $(TEST_SCRATCH)/release

bench: build
	@bash bench/run.sh

clean:
	rm -rf .build $(TEST_SCRATCH)
