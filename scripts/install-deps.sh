#!/usr/bin/env bash
# Installs the Debian packages oneclass needs (and the optional ones it uses when present).
# Safe to re-run: it only asks apt for what is missing. Uses sudo when not root.
set -euo pipefail

required=(
  build-essential cmake pkg-config git   # git: the source revision every result records
  libtorch-dev libopenblas-dev        # LibTorch calls the system BLAS: OpenBLAS, not the reference BLAS
  zlib1g-dev nlohmann-json3-dev libcli11-dev libstb-dev
  libsqlite3-dev libsqlitecpp-dev     # the benchmark's results database, and its C++ interface
  libfmt-dev                          # text formatting (used header-only)
  libgtest-dev libgmock-dev
)
optional=(
  gnuplot-nox                         # figures (loss, ROC, histogram)
  libcurl4-openssl-dev libssl-dev     # data set download (HTTP, MD5)
  python3 python3-sklearn python3-numpy  # test oracle for the metrics; local HTTP server in tests
  dataset-fashion-mnist               # Fashion-MNIST (installs to /usr/share/datasets/fashion-mnist)
  libopenmpi-dev openmpi-bin          # `mpirun ... oneclass bench` over several processes or machines
  libsvm-dev                          # the one-class SVM detector (ocsvm)
  libbenchmark-dev                    # the speed benchmarks in bench/ (Google Benchmark)
  libopencv-dev                       # folder data sets: camera images (PNG, JPEG, BMP, TIFF), resizing
  gimp-data python3-skimage           # real surface photographs for `oneclass make-demo-data` (procedural without)
  python3-scipy                       # test oracle for the pixel metrics (ndimage.label)
  libcpp-httplib-dev                  # `oneclass serve`, the scoring service
  python3-dev python3-pybind11 python3-pytest  # the Python package (import oneclass) and its tests
  chromium nodejs                     # the service page's test in a headless browser (with playwright-core)
)

missing_from() {  # prints the packages of "$@" that are not installed
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t missing_required < <(missing_from "${required[@]}")
mapfile -t missing_optional < <(missing_from "${optional[@]}")
# playwright-core (npm) drives Chromium in the page's test; without it that test is skipped.
install_browser_driver() {
  local browser_tests
  browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
  [ -d "$browser_tests/node_modules/playwright-core" ] && return 0
  command -v npm >/dev/null || { echo "deps: npm missing: the browser test will be skipped" >&2; return 0; }
  echo "deps: installing playwright-core (npm) into tests/browser"
  npm install --prefix "$browser_tests" --no-audit --no-fund --silent >/dev/null 2>&1 ||
    echo "deps: warning: npm could not install playwright-core; the browser test will be skipped" >&2
}

if [ ${#missing_required[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "deps: all packages present"
  install_browser_driver
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    if [ ${#missing_required[@]} -gt 0 ]; then
      echo "deps: need root or sudo to install: ${missing_required[*]}" >&2
      exit 1
    fi
    echo "deps: optional packages missing (features off): ${missing_optional[*]}" >&2
    exit 0
  fi
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing_required[@]} -gt 0 ]; then
  echo "deps: installing ${missing_required[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_required[@]}" >/dev/null
fi
# Optional packages one by one: one that cannot be installed turns its feature off, nothing more.
for p in "${missing_optional[@]}"; do
  echo "deps: installing $p"
  $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null ||
    echo "deps: warning: could not install $p; the feature that needs it stays off" >&2
done
install_browser_driver
echo "deps: done"
