#!/usr/bin/env bash
# One-call check on a machine with a GPU (issue 19 item 1), in order of what matters most when time runs out:
#   1. build Release with the CUDA backend;
#   2. the norm, loss, reduce, DP-SGD and model GPU tests under compute-sanitizer (memcheck, racecheck,
#      synccheck), each tool once;
#   3. every GPU test with -j 1 (concurrent tests on one GPU skew cuDNN's algorithm search); failures are rerun
#      with SP_CUDA_DEBUG_SYNC=1, so a fault names the launch that caused it (kernels/env_flag.h);
#   4. the benchmarks: sp_train --bench at batch 512 and 128 in fp32 and TF32, then at 512 with batch norm
#      unfused (SP_FUSED_NORM=0), channels last and CUDA graphs; DP-SGD, GEMM/conv kernels, second order,
#      distillation, trajectory matching, diffusion;
#   5. the built-in demo audit end to end on the GPU;
#   6. the CPU tests (CI runs them too; here they check the device machine's build).
# It ends with a table of every step: passed, failed, or skipped (and why). The whole run stays within
# $SP_GPU_CHECK_BUDGET seconds (default 540): a step that would start past it is skipped, and each step's
# timeout is cut to what is left. Exit status: 0 when nothing failed.
# Logs go to $OUT (the device tool's result folder) when set, else build-gpu/.
# Carried files (tools/fetch_device_deps.sh prepares them; carry [".device"]): .device/deps.tar.xz is
# unpacked into .deps (OpenBLAS, stb, CLI11, libcrypto, FFTW3 and the Boost.Math headers), and
# .device/shared becomes $SP_SHARED_DIR (the CIFAR-10 archive for the one-epoch check). The device machine has
# no cairo: built with -DSP_CAIRO=OFF, so no plots are drawn (each run prints a note).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build-gpu}
mkdir -p "$out"
budget=${SP_GPU_CHECK_BUDGET:-540}
t0=$(date +%s)
log() { echo "== $*"; }
left() { echo $((budget - ($(date +%s) - t0))); }
results=()
failed=0
# record NAME STATUS SECONDS NOTE
record() {
  results+=("$(printf '%-34s %-8s %6ss  %s' "$1" "$2" "$3" "$4")")
  [ "$2" = failed ] && failed=1
  return 0
}
# step NAME CAP LOGFILE COMMAND...: runs COMMAND with a timeout of min(CAP, time left), records the outcome.
step() {
  local name=$1 cap=$2 logf=$3
  shift 3
  local l
  l=$(left)
  if [ "$l" -lt 20 ]; then
    record "$name" skipped 0 "out of time (budget ${budget} s)"
    return 1
  fi
  [ "$cap" -gt "$l" ] && cap=$l
  local s=$SECONDS rc
  timeout "$cap" "$@" >"$logf" 2>&1
  rc=$?
  local d=$((SECONDS - s))
  if [ $rc -eq 0 ]; then
    record "$name" passed "$d" "log $(basename "$logf")"
  elif [ $rc -eq 124 ]; then
    record "$name" failed "$d" "timed out after ${cap} s; log $(basename "$logf")"
  else
    record "$name" failed "$d" "exit $rc; log $(basename "$logf")"
  fi
  return $rc
}
print_table() {
  log "summary ($(($(date +%s) - t0)) s)"
  printf '%s\n' "${results[@]}"
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true

if [ -f .device/deps.tar.xz ] && [ ! -d .deps/root ]; then
  mkdir -p .deps && tar -C .deps -xJf .device/deps.tar.xz
fi
if [ -d .device/shared ]; then
  export SP_SHARED_DIR=$PWD/.device/shared
fi
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

log "1. configure + build (Release, CUDA)"
s_build=$SECONDS
{ cmake -S . -B build-gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSP_CUDA=ON -DSP_CAIRO=OFF "${extra[@]}" &&
  cmake --build build-gpu -j "$(nproc)"; } >"$out/build.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  record "build" failed $((SECONDS - s_build)) "exit $rc; log build.log"
  grep -E "error" "$out/build.log" | head -40
  tail -20 "$out/build.log"
  print_table
  exit 1
fi
record "build" passed $((SECONDS - s_build)) "log build.log"
tests=build-gpu/bin/sp_gpu_tests

log "2. compute-sanitizer on the norm, loss, reduce, DP-SGD and model tests"
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
filter='OpsNormGpu.*:OpsNormActGpu.*:OpsLossGpu.*:OpsReduceGpu.*:DpsgdGpu.*:ModelsGpu.*'
for tool in memcheck racecheck synccheck; do
  if [ -z "$sanitizer" ]; then
    record "sanitizer $tool" skipped 0 "compute-sanitizer not found"
  else
    step "sanitizer $tool" 90 "$out/sanitizer_$tool.log" "$sanitizer" --tool "$tool" --error-exitcode 99 \
      --print-limit 20 "$tests" --gtest_filter="$filter" &&
      true || tail -25 "$out/sanitizer_$tool.log"
  fi
done

log "3. GPU tests, one at a time"
if step "GPU tests (-j 1)" 300 "$out/gpu_tests.log" ctest --test-dir build-gpu -L gpu -j 1 --output-on-failure --timeout 240; then
  :
else
  grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|\(SEGFAULT\)|\(Subprocess" "$out/gpu_tests.log" | head -40
  SP_CUDA_DEBUG_SYNC=1 step "GPU failures, SP_CUDA_DEBUG_SYNC" 120 "$out/gpu_tests_debug_sync.log" \
    ctest --test-dir build-gpu -L gpu -j 1 --rerun-failed --output-on-failure --timeout 120
  grep -E "CUDA error|\[.*:[0-9]+\]" "$out/gpu_tests_debug_sync.log" | head -20
fi
grep -E "tests passed|tests failed" "$out/gpu_tests.log" | tail -1
echo "skipped GPU tests: $(grep -c "Skipped" "$out/gpu_tests.log")"

log "4. benchmarks"
bin=build-gpu/bin
step "sp_train --bench fp32" 100 "$out/bench_train_fp32.txt" $bin/sp_train --bench --device cuda --bench-batch 512,128 --tf32 off
step "sp_train --bench TF32" 100 "$out/bench_train_tf32.txt" $bin/sp_train --bench --device cuda --bench-batch 512,128 --tf32 on
# What each speed lever gives at batch 512, TF32 on: batch norm without its fused epilogue, channels last,
# the step as a CUDA graph.
SP_FUSED_NORM=0 step "sp_train --bench TF32, unfused BN" 60 "$out/bench_train_tf32_unfused.txt" \
  $bin/sp_train --bench --device cuda --bench-batch 512 --tf32 on
step "sp_train --bench TF32, NHWC" 60 "$out/bench_train_tf32_nhwc.txt" \
  $bin/sp_train --bench --device cuda --bench-batch 512 --tf32 on --bench-layout nhwc
step "sp_train --bench TF32, graphs" 60 "$out/bench_train_tf32_graphs.txt" \
  $bin/sp_train --bench --device cuda --bench-batch 512 --tf32 on --cuda-graphs on
step "DP-SGD bench" 100 "$out/bench_dpsgd.txt" $bin/sp_train --bench-dpsgd --device cuda --bench-batch 256
step "kernel bench" 120 "$out/bench_kernels.txt" $bin/sp_bench_kernels --device cuda
step "second-order bench" 100 "$out/bench_second_order.txt" $bin/sp_bench_second_order --device cuda --memory
step "distillation bench" 100 "$out/bench_distill.txt" $bin/sp_bench_distill --device cuda
step "trajectory bench" 200 "$out/bench_trajectory.txt" $bin/sp_bench_trajectory --device cuda --ipc 10,50,1000 --syn-steps 20,80
step "diffusion bench" 150 "$out/bench_diffusion.txt" $bin/sp_bench_diffusion --device cuda --ch 64 --batch 128 \
  --sample-batch 256 --ddim-steps 50 --ddpm
for f in "$out"/bench_*.txt; do
  [ -s "$f" ] && { echo "--- $(basename "$f")"; cat "$f"; }
done

log "5. the built-in demo audit end to end on the GPU"
rm -rf "$out/demo"
step "demo audit" 240 "$out/demo.log" $bin/sp_audit configs/demo.json --out "$out/demo" --log-every 30 &&
  tail -12 "$out/demo.log"

log "6. CPU tests"
step "CPU tests" 300 "$out/cpu_tests.log" ctest --test-dir build-gpu -LE "gpu|slurm" -j "$(nproc)" --timeout 240 ||
  grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|\(SEGFAULT\)" "$out/cpu_tests.log" | head -30

print_table
exit $failed
