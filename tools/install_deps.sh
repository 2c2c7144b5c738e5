#!/usr/bin/env bash
# Installs the Debian packages synpriv builds against, skipping those already present (so it is quick
# and works offline once done). The CUDA toolkit and cuDNN are not Debian packages: install them from
# NVIDIA to get the CUDA backend; without them the build is CPU-only.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config libopenblas-dev liblapack-dev libdnnl-dev nlohmann-json3-dev libstb-dev
      libcli11-dev libgtest-dev python3-numpy libssl-dev libfftw3-dev libboost-math-dev libcairo2-dev
      fonts-dejavu-core python3-dev pybind11-dev python3-pytest python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all packages present"
fi
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "install_deps: nvcc found: the CUDA backend will be built"
else
  echo "install_deps: nvcc not found: CPU-only build (install the CUDA toolkit and cuDNN for the CUDA backend)"
fi
