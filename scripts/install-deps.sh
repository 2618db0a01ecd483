#!/usr/bin/env bash
# Installs the Debian packages oneclass needs (and the optional ones it uses when present).
# Safe to re-run: it only asks apt for what is missing. Uses sudo when not root.
set -euo pipefail

required=(
  build-essential cmake pkg-config
  libtorch-dev libopenblas-dev        # LibTorch calls the system BLAS: OpenBLAS, not the reference BLAS
  zlib1g-dev nlohmann-json3-dev libcli11-dev libstb-dev
  libgtest-dev libgmock-dev
)
optional=(
  gnuplot-nox                         # figures (loss, ROC, histogram)
  libcurl4-openssl-dev libssl-dev     # data set download (HTTP, MD5)
  python3 python3-sklearn python3-numpy  # test oracle for the metrics; local HTTP server in tests
  dataset-fashion-mnist               # Fashion-MNIST (installs to /usr/share/datasets/fashion-mnist)
)

missing=()
for p in "${required[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
