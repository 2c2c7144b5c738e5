#!/usr/bin/env bash
# End to end on a real single-node SLURM: starts munged, slurmctld and slurmd in a temporary directory
# (tests/slurm/slurm_env.sh), submits a tiny experiment with `sp_audit CONFIG --out DIR --slurm`, waits for
# the training array and the dependent report job, then runs the same configuration locally into another
# directory and compares: every shadow's scores.npy and logits.npy byte for byte, its test_accuracy, and the
# report's summary.csv but for its paths and timings (CPU training is deterministic, so the two runs must
# agree exactly).
#   tests/slurm/slurm_e2e.sh BUILD_DIR
# Exit status 0: passed; 77: skipped (SLURM or munge not installed or not startable here; the reason is
# printed); anything else: failed. Registered with ctest (label slurm, SKIP_RETURN_CODE 77). Every daemon it
# started is stopped on exit.
set -uo pipefail

BUILD=$(cd "${1:?usage: slurm_e2e.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/slurm_env.sh"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; slurm_log_tails; exit 1; }

for b in sp_train sp_audit; do
  [ -x "$BUILD/bin/$b" ] || skip "$BUILD/bin/$b is not built"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sp_slurm_e2e.XXXXXX")
cleanup() {
  slurm_down
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

slurm_up "$WORK/cluster" || skip "$SLURM_UP_WHY"
echo "== single-node SLURM up: $(sinfo -h -N -o '%N %c CPUs %m MB %T')"

# The tiny experiment: shapes10 with 120 training images, a width-4 ResNet-18, 6 shadow models (the fewest
# with IN and OUT models in every leave-one-out fold of every attack), 1 epoch. No GPU, in both runs: the
# comparison needs CPU determinism.
export CUDA_VISIBLE_DEVICES=""
cat >"$WORK/tiny.json" <<'JSON'
{
  "seed": 11,
  "num_shadows": 6,
  "dataset": {"name": "shapes10", "seed": 2, "train": 120, "test": 40},
  "model": {"name": "resnet18", "width": 4},
  "recipe": {"epochs": 1, "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.002}},
  "audit": {"num_audit": 24},
  "device": {"eval_batch": 216}
}
JSON

echo "== submitting"
"$BUILD/bin/sp_audit" "$WORK/tiny.json" --out "$WORK/slurm_exp" --slurm --time 10 --array-limit 2 ||
  fail "sp_audit --slurm failed"
# jobs.json: {"train_array_job": "12", "report_job": "13", ...}; the quoted numbers are the job ids.
JOBS=$(grep -o '"[0-9][0-9]*"' "$WORK/slurm_exp/slurm/jobs.json" | tr -d '"' | paste -sd, -)
[ -n "$JOBS" ] || fail "no job ids in $WORK/slurm_exp/slurm/jobs.json"
echo "   jobs $JOBS"

deadline=$((SECONDS + ${SP_SLURM_TIMEOUT:-600}))
while [ -n "$(squeue -h -j "$JOBS" -o '%i %T' 2>/dev/null)" ]; do
  [ $SECONDS -lt $deadline ] || { squeue; fail "jobs $JOBS still queued or running after ${SP_SLURM_TIMEOUT:-600} s"; }
  sleep 2
done
echo "== jobs finished; their logs:"
for f in "$WORK/slurm_exp/slurm/logs"/*; do echo "--- $(basename "$f")"; tail -n 4 "$f"; done
[ -s "$(ls "$WORK"/slurm_exp/slurm/logs/report_*.out 2>/dev/null | head -n 1)" ] || fail "the report job left no log"

echo "== the same configuration locally"
"$BUILD/bin/sp_audit" "$WORK/tiny.json" --out "$WORK/local_exp" >"$WORK/local.log" 2>&1 ||
  { tail -n 20 "$WORK/local.log"; fail "local sp_audit failed"; }

status=0
for k in 0 1 2 3 4 5; do
  for f in scores.npy logits.npy; do
    cmp -s "$WORK/slurm_exp/shadow/$k/$f" "$WORK/local_exp/shadow/$k/$f" ||
      { echo "DIFF: shadow/$k/$f"; status=1; }
  done
  a=$(grep '"test_accuracy"' "$WORK/slurm_exp/shadow/$k/metrics.json")
  b=$(grep '"test_accuracy"' "$WORK/local_exp/shadow/$k/metrics.json")
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "DIFF: shadow/$k test_accuracy: '$a' vs '$b'"; status=1; }
done
for f in summary.csv report.md report.html; do
  [ -f "$WORK/slurm_exp/$f" ] || { echo "MISSING: slurm_exp/$f"; status=1; }
done
# Equal but for the experiment's path and the measured times (seconds_per_model, device_hours), found by name.
col() { head -n 1 "$WORK/local_exp/summary.csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
c_exp=$(col experiment) c_sec=$(col seconds_per_model) c_dev=$(col device_hours)
[ "$c_exp" = 1 ] && [ -n "$c_sec" ] && [ -n "$c_dev" ] ||
  { echo "summary.csv columns changed: $(head -n 1 "$WORK/local_exp/summary.csv")"; status=1; }
comparable() { cut -d, --complement -f"$c_exp,$c_sec,$c_dev" "$1"; }
diff <(comparable "$WORK/slurm_exp/summary.csv") <(comparable "$WORK/local_exp/summary.csv") ||
  { echo "DIFF: summary.csv"; status=1; }
[ $status -eq 0 ] || fail "the SLURM run and the local run differ"
echo "summary.csv:"
cat "$WORK/slurm_exp/summary.csv"
echo "PASS: 6 shadows trained by a SLURM job array and reported by its dependent job equal a local run"
