#!/usr/bin/env bash
# One-call check on a machine with a GPU: builds Release with the CUDA backend, runs every test (the GPU
# tests compare each CUDA kernel with the CPU reference), then prints the benchmark table (GEMM TFLOP/s,
# ResNet-18 conv layers forward+backward, device copy GB/s, sp_train throughput, the DP-SGD / non-private
# step ratio of WRN-16-4 at batch 256, the double-backward / backward ratio, the unrolled meta-gradient and the
# memory per unrolled step of ConvNet-3, MTT iterations unrolled vs adjoint up to IPC 1000 x 80 steps) and runs the built-in demo audit end to end on the GPU. Meant to finish
# in under 8 minutes.
# Logs go to $OUT (the device tool's result folder) when set, else build-gpu/.
# Carried dependencies: if .deps/ exists (tools/fetch_device_deps.sh), OpenBLAS, stb, CLI11, libcrypto, FFTW3
# and the Boost.Math headers come from it. The device machine has no cairo: built with -DSP_CAIRO=OFF, so no
# plots are drawn (each run prints a note).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build-gpu}
mkdir -p "$out"
log() { echo "== $*"; }
t0=$(date +%s)

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
extra=()
if [ -d .deps/root/usr ]; then
  d=$PWD/.deps/root/usr
  lib=$d/lib/x86_64-linux-gnu
  ln -sf libopenblasp-r0.3.21.so "$lib/openblas-pthread/libopenblas.so.0"
  ln -sf libopenblasp-r0.3.21.so "$lib/openblas-pthread/libopenblas.so"
  ln -sf libgfortran.so.5.0.0 "$lib/libgfortran.so.5"
  ln -sf libquadmath.so.0.0.0 "$lib/libquadmath.so.0"
  ln -sf libstb.so.0.0 "$lib/libstb.so.0"
  ln -sf libstb.so.0 "$lib/libstb.so"
  ln -sf libcrypto.so.3 "$lib/libcrypto.so"
  ln -sf libfftw3.so.3.6.10 "$lib/libfftw3.so.3"
  ln -sf libfftw3.so.3 "$lib/libfftw3.so"
  extra+=(-DCBLAS_INCLUDE_DIR="$d/include/x86_64-linux-gnu/openblas-pthread"
          -DBLAS_LIBRARY="$lib/openblas-pthread/libopenblas.so" -DSP_DEPS_DIR="$d"
          -DOPENSSL_ROOT_DIR="$d" -DOPENSSL_INCLUDE_DIR="$d/include" -DOPENSSL_CRYPTO_LIBRARY="$lib/libcrypto.so"
          -DCMAKE_CXX_FLAGS="-I$d/include")
  export LD_LIBRARY_PATH="$lib/openblas-pthread:$lib:${LD_LIBRARY_PATH:-}"
fi
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

log "configure + build (Release, CUDA)"
cmake -S . -B build-gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSP_CUDA=ON -DSP_CAIRO=OFF "${extra[@]}" >"$out/configure.log" 2>&1 \
  || { tail -30 "$out/configure.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -40; tail -20 "$out/build.log"; exit 1; }
log "built in $(( $(date +%s) - t0 )) s"

log "tests (all; GPU tests labelled gpu)"
ctest --test-dir build-gpu -j 8 --output-on-failure --timeout 300 >"$out/tests.log" 2>&1
rc=$?
grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|\(SEGFAULT\)|\(Subprocess" "$out/tests.log" | head -60
grep -c "Skipped" "$out/tests.log" | sed 's/^/skipped tests: /'

log "benchmarks"
[ -x build-gpu/bin/sp_bench_kernels ] &&
  timeout 150 build-gpu/bin/sp_bench_kernels --device cuda 2>&1 | tee "$out/bench_kernels.txt"
[ -x build-gpu/bin/sp_train ] &&
  timeout 120 build-gpu/bin/sp_train --bench --device cuda 2>&1 | tee "$out/bench_train.txt"
[ -x build-gpu/bin/sp_train ] &&
  timeout 120 build-gpu/bin/sp_train --bench-dpsgd --device cuda --bench-batch 256 2>&1 | tee "$out/bench_dpsgd.txt"
[ -x build-gpu/bin/sp_bench_second_order ] &&
  timeout 120 build-gpu/bin/sp_bench_second_order --device cuda --memory 2>&1 | tee "$out/bench_second_order.txt"
[ -x build-gpu/bin/sp_bench_distill ] &&
  timeout 120 build-gpu/bin/sp_bench_distill --device cuda 2>&1 | tee "$out/bench_distill.txt"
[ -x build-gpu/bin/sp_bench_trajectory ] &&
  timeout 240 build-gpu/bin/sp_bench_trajectory --device cuda --ipc 10,50,1000 --syn-steps 20,80 2>&1 |
  tee "$out/bench_trajectory.txt"
[ -x build-gpu/bin/sp_bench_diffusion ] &&
  timeout 180 build-gpu/bin/sp_bench_diffusion --device cuda --ch 64 --batch 128 --sample-batch 256 --ddim-steps 50 --ddpm 2>&1 |
  tee "$out/bench_diffusion.txt"
log "the built-in demo audit end to end on the GPU"
[ -x build-gpu/bin/sp_audit ] && rm -rf "$out/demo" &&
  { s0=$SECONDS; timeout 240 build-gpu/bin/sp_audit configs/demo.json --out "$out/demo" --log-every 30 \
      >"$out/demo.log" 2>&1; echo "demo exit $? after $(( SECONDS - s0 )) s"; tail -12 "$out/demo.log"; }
log "total $(( $(date +%s) - t0 )) s"
exit $rc
