#!/usr/bin/env bash
# Prepares what a GPU machine (CUDA, cuDNN, cmake, GoogleTest and nlohmann/json, but no package manager and no
# ../shared) needs from here, in the git-ignored folder .device/, to be carried with the device tool
# (carry [".device"]): .device/deps.tar.xz, Debian's OpenBLAS (with its Fortran runtime), stb, CLI11,
# OpenSSL's libcrypto, FFTW3 and the Boost.Math headers, unpacked by tools/gpu_check.sh into .deps/root; and
# .device/shared/data/cifar10-jpeg.tar.gz (+ .sha256), the shared CIFAR-10 archive for the one-epoch check
# (tests/gpu/test_cifar_epoch_gpu.cpp). Boost is pruned to the headers the project's sources actually include
# (the preprocessor's dependency list) and the libraries travel xz-compressed, which keeps .device far below the
# device tool's 64 MiB carry limit (the unpacked libraries alone are 56 MB). Run here: it uses apt-get download.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libopenblas0-pthread libopenblas-pthread-dev libgfortran5 libquadmath0 libstb0 libstb-dev libcli11-dev
      libssl3 libssl-dev libfftw3-double3 libfftw3-dev libboost1.74-dev)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "${pkgs[@]}" >/dev/null)
rm -rf .deps && mkdir -p .deps/root
for f in "$tmp"/*.deb; do dpkg -x "$f" .deps/root; done
rm -rf .deps/root/usr/share
# Only the shared OpenBLAS library is needed: drop static archives and the reference BLAS/LAPACK copies.
find .deps/root -name '*.a' -delete
find .deps/root -name 'liblapack*' -delete -o -name 'libblas.so*' -delete
# Of OpenSSL only libcrypto is linked; of FFTW only the serial double-precision library.
rm -rf .deps/root/usr/lib/x86_64-linux-gnu/{libssl.so*,engines-3,ossl-modules}
find .deps/root -name 'libfftw3*_omp*' -delete -o -name 'libfftw3*_threads*' -delete
# Boost: keep only the headers reached from the sources that include it.
boost_users=$(grep -rl --include='*.cpp' --include='*.h' '#include <boost/' kernels nn data attacks paradigms tools tests || true)
keep=$tmp/boost-headers
: >"$keep"
for src in $boost_users; do
  # -I puts the unpacked copy ahead of any system Boost; -MG tolerates headers this machine lacks.
  g++ -std=c++20 -M -MG -MT x -I. -I.deps/root/usr/include "$src" |
    tr ' \\' '\n\n' | grep -o '\.deps/root/usr/include/boost/.*' >>"$keep" || true
done
[ -s "$keep" ] || { echo "fetch_device_deps: found no Boost headers to keep" >&2; exit 1; }
sort -u "$keep" -o "$keep"
mv .deps/root/usr/include/boost "$tmp/boost-all"
while read -r h; do
  rel=${h#.deps/root/usr/include/}
  mkdir -p ".deps/root/usr/include/$(dirname "$rel")"
  cp "$tmp/boost-all/${rel#boost/}" ".deps/root/usr/include/$rel"
done <"$keep"
echo "prepared .deps ($(du -sh .deps | cut -f1)) from: ${pkgs[*]}"
mkdir -p .device/shared/data
tar -C .deps -cJf .device/deps.tar.xz root
shared=${SP_SHARED_DIR:-../shared}
if [ -f "$shared/data/cifar10-jpeg.tar.gz" ]; then
  cp "$shared/data/cifar10-jpeg.tar.gz" "$shared/data/cifar10-jpeg.tar.gz.sha256" .device/shared/data/
else
  echo "fetch_device_deps: no $shared/data/cifar10-jpeg.tar.gz: the one-epoch CIFAR-10 check will skip" >&2
fi
echo "prepared .device ($(du -sh .device | cut -f1)): carry it with the device tool as carry [\".device\"]"
