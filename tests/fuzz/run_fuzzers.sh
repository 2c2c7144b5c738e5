#!/usr/bin/env bash
# Runs every libFuzzer target of a -DSP_FUZZ=ON build (docs/fuzzing.md) for a bounded time each, under ASan +
# UBSan, starting from the seed corpus (sp_fuzz_seeds) and the kept regression inputs, and prints one line per
# target: executions, corpus size, coverage and peak memory. A crash, sanitizer report, leak, timeout or
# out-of-memory stops that target with its input saved under BUILD/fuzz_artifacts/<target>/ and makes the
# script exit 1, saying how to keep the input as a regression test.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET (default 60)] [TARGET...]
# libFuzzer's random seed is SP_FUZZ_SEED (default 1), so that a CI run repeats the previous one's exploration
# unless the code changed; SP_FUZZ_SEED=0 draws a new seed each run (for longer local runs).
set -uo pipefail
build=$(cd "$1" && pwd)
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
src=$(cd "$(dirname "$0")/../.." && pwd)
"$build/bin/sp_fuzz_seeds" "$src" "$build/fuzz_seeds" || exit 1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/bin/sp_fuzz_*; do
    name=${bin##*/sp_fuzz_}
    [ "$name" = seeds ] || targets+=("$name")
  done
fi
status=0
printf '%-14s %10s %8s %8s %8s %8s  %s\n' target executions exec/s corpus cov rss_mb result
for name in "${targets[@]}"; do
  corpus=$build/fuzz_corpus/$name artifacts=$build/fuzz_artifacts/$name log=$build/fuzz_logs/$name.log
  mkdir -p "$corpus" "$artifacts" "$build/fuzz_logs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/bin/sp_fuzz_$name" -seed="${SP_FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$build/fuzz_seeds/$name" "$src/tests/fuzz/regressions/$name" \
    >"$log" 2>&1
  rc=$?
  stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  files=$(find "$corpus" -type f | wc -l)
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (status $rc, log $log)"
    status=1
  fi
  printf '%-14s %10s %8s %8s %8s %8s  %s\n' "$name" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "$files" "${cov:-?}" "$(stat peak_rss_mb)" "$result"
  if [ $rc -ne 0 ]; then
    grep -E 'FINDING|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -5
    echo "  input saved in $artifacts; keep it as a regression test once fixed:"
    echo "    cp $artifacts/<file> $src/tests/fuzz/regressions/$name/"
  fi
done
exit $status
