#!/usr/bin/env bash
# Prepares .deps/ (git-ignored) for a GPU machine that has CUDA, cuDNN, cmake, GoogleTest and
# nlohmann/json but no package manager: unpacks Debian's OpenBLAS (with its Fortran runtime), stb and CLI11
# into .deps/root. Run here (it uses apt-get download), then carry .deps to the GPU machine;
# tools/gpu_check.sh picks it up.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libopenblas0-pthread libopenblas-pthread-dev libgfortran5 libquadmath0 libstb0 libstb-dev libcli11-dev)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "${pkgs[@]}" >/dev/null)
rm -rf .deps && mkdir -p .deps/root
for f in "$tmp"/*.deb; do dpkg -x "$f" .deps/root; done
rm -rf .deps/root/usr/share
# Only the shared OpenBLAS library is needed: drop static archives and the reference BLAS/LAPACK copies.
find .deps/root -name '*.a' -delete
find .deps/root -name 'liblapack*' -delete -o -name 'libblas.so*' -delete
echo "prepared .deps ($(du -sh .deps | cut -f1)) from: ${pkgs[*]}"
