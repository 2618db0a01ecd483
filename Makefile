# The two front-door commands. Both install what is missing, configure and build.
#   make demo   the seed experiment: MLP autoencoder trained on MNIST "1", tested on "1" vs "9"
#   make test   the GoogleTest suite through CTest
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Where `make test` and `make demo` look for data sets first (the genuine MNIST files in CI).
export ONECLASS_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: all deps configure build build-cli demo test test-sanitize bench bench-mnist results clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The demo needs only the command-line program, not the tests and benchmarks.
build-cli: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target oneclass_launcher

demo: build-cli
	$(BUILD_DIR)/bin/oneclass run --dataset mnist --normal 1 --anomaly 9 --out runs/demo --overwrite
	@echo "Open runs/demo/result.png (and loss.png, roc.png, scores.png); numbers are in runs/demo/metrics.json"

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer (a separate build folder).
test-sanitize:
	@$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_FLAGS="-DONECLASS_SANITIZE=ON -DONECLASS_BUILD_BENCH=OFF"

bench: build
	$(BUILD_DIR)/bin/bench_seed_experiment 3
	$(BUILD_DIR)/bin/bench_train_step 300
	$(BUILD_DIR)/bin/roofline 10 200

# The one-class benchmark of the seed autoencoder on MNIST (10 classes x 5 seeds), timed; and the
# full table of docs/results.md (MNIST and Fashion-MNIST, mlp-ae and knn). Both resume when re-run.
bench-mnist: build-cli
	$(BUILD_DIR)/bin/oneclass bench --datasets mnist --models mlp-ae --out runs/bench-mnist

results: build-cli
	$(BUILD_DIR)/bin/oneclass bench --datasets mnist,fashion-mnist --models mlp-ae,knn --out runs/bench-full

clean:
	rm -rf $(BUILD_DIR) build-asan
