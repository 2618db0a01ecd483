# The two front-door commands. Both install what is missing, configure and build.
#   make demo   the seed experiment: MLP autoencoder trained on MNIST "1", tested on "1" vs "9"
#   make test   the GoogleTest suite through CTest
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Where `make test` and `make demo` look for data sets first (the genuine MNIST files in CI).
export ONECLASS_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: all deps configure build build-cli demo test test-sanitize bench bench-detectors bench-sklearn bench-mnist results results-zoo results-folder install clean

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

# The speed benchmarks (Google Benchmark): tables on the terminal, and each program's report as JSON
# in runs/speed/ (environment included). BENCH_FLAGS passes flags on, e.g. --benchmark_filter=Stack.
BENCH_FLAGS ?=
bench: build
	@mkdir -p runs/speed
	for b in bench_seed_experiment bench_train_step bench_roofline; do \
	  $(BUILD_DIR)/bin/$$b --benchmark_out=runs/speed/$$b.json --benchmark_out_format=json $(BENCH_FLAGS) || exit 1; \
	done

# Training and scoring images/s of every detector at 28x28 and 256x256x3 (about 15 min here), and
# the classical detectors against scikit-learn on MNIST (about 3 min); docs/performance.md.
bench-detectors: build
	@mkdir -p runs/speed
	$(BUILD_DIR)/bin/bench_detectors --benchmark_out=runs/speed/bench_detectors.json --benchmark_out_format=json $(BENCH_FLAGS)
	./bench/compare_speed.py runs/speed/bench_detectors.json

bench-sklearn: build-cli
	@mkdir -p runs/speed
	/usr/bin/python3 bench/sklearn_compare.py --oneclass $(BUILD_DIR)/bin/oneclass --out runs/speed/sklearn.json

# The one-class benchmark of the seed autoencoder on MNIST (10 classes x 5 seeds), timed.
bench-mnist: build-cli
	$(BUILD_DIR)/bin/oneclass bench --datasets mnist --models mlp-ae --out runs/bench-mnist

# The tables of docs/results.md, one target each. Each resumes when re-run, and copies the
# results.json the docs quote into docs/results/. Every stored row names the source revision that
# made it: run them from a clean checkout of the commit you mean to publish.
STALE ?=
RESULTS_BENCH = $(BUILD_DIR)/bin/oneclass bench --datasets mnist,fashion-mnist $(STALE)
results: build-cli
	$(RESULTS_BENCH) --models mlp-ae,knn --out runs/bench-full
	$(RESULTS_BENCH) --models mlp-ae,knn --val-fraction 0 --out runs/bench-full-vf0
	@mkdir -p docs/results
	cp runs/bench-full/results.json docs/results/mlp-ae-knn.json
	cp runs/bench-full-vf0/results.json docs/results/mlp-ae-knn-val-fraction-0.json

# Every detector on seed 0 (deep-sad with 10 and 100 labelled anomalies), one thread per process:
# about 2 hours of one core here.
ZOO_MODELS = mlp-ae,knn,pca,kde,ocsvm,iforest,conv-ae,arnet,vae,memae,deep-svdd,deep-svdd:objective=soft-boundary,geom,ensemble,deep-sad
results-zoo: build-cli
	$(RESULTS_BENCH) --models $(ZOO_MODELS) --labeled-anomalies 10,100 --seeds 0 --threads 1 --out runs/bench-zoo
	@mkdir -p docs/results
	cp runs/bench-zoo/results.json docs/results/zoo-seed0.json

# The demo inspection set's table (docs/results.md): every detector that reads folder data on each
# category of `oneclass make-demo-data`; metrics kept in docs/results/demo-folder/. FOLDER_MODELS
# picks some (empty: the script's list of every folder detector).
FOLDER_MODELS ?=
results-folder: build-cli
	./scripts/folder-results.sh $(BUILD_DIR) $(FOLDER_MODELS)

# Installs the libraries, headers, programs and the CMake package (find_package(oneclass)).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR) build-asan
