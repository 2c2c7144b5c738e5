#!/usr/bin/env bash
# The CPU backend against PyTorch on the same CIFAR ResNet-18, at the same thread count, in one command:
# `sp_train --bench --device cpu` and tools/bench_pytorch_resnet.py (PyTorch, NCHW and channels-last) for
# each width, batch size and thread count, then one table with the ratio to PyTorch's better layout.
# PyTorch is optional (benchmark only): without it, synpriv's numbers alone. Results go to stdout; paste the
# table into docs/benchmarks.md with the machine it ran on.
#
#   tools/bench_cpu_vs_pytorch.sh [--build DIR] [--widths 8,16,64] [--batches 32,128] [--threads 1,2]
#                                 [--steps N] [--python PYTHON] [--layouts auto|nchw|nhwc[,...]] [--clock wall|cpu]
# --layouts runs synpriv in each listed activation layout (sp_train --bench-layout; default: auto, the model's
# own rule), one column and one ratio each, so layouts compare within one run. --clock cpu rates images per
# second of process CPU time instead of wall time: for one thread on a machine others load (the wall clock
# then counts their time too); meaningless for more threads.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build widths=8,16,64 batches=32,128 threads=1,2 steps=5 python=${SP_BENCH_PYTHON:-python3} layouts=auto clock=wall
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --widths) widths=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --layouts) layouts=$2; shift 2 ;;
    --clock) clock=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_cpu_vs_pytorch.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done
sp_train=$build/bin/sp_train
[ -x "$sp_train" ] || { echo "bench_cpu_vs_pytorch.sh: $sp_train not found: build first (or pass --build DIR)" >&2; exit 1; }
have_torch=1
if ! "$python" -c "import torch" 2>/dev/null; then
  have_torch=0
  echo "note: PyTorch is not importable by $python (pip install torch, or --python PATH): synpriv only" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows
: >"$rows"
IFS=, read -ra W <<<"$widths"
IFS=, read -ra T <<<"$threads"
IFS=, read -ra L <<<"$layouts"
for t in "${T[@]}"; do
  for w in "${W[@]}"; do
    for sl in "${L[@]}"; do
      echo "width $w, $t thread(s): synpriv ($sl)..." >&2
      SP_CPU_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
        "$sp_train" --bench --device cpu --bench-width "$w" --bench-batch "$batches" --bench-steps "$steps" \
        --bench-layout "$sl" >"$tmp/sp"
      grep '^cpu kernels:' "$tmp/sp" | sed 's/, batch split over .*)/)/; s/, [0-9]* threads*$//' >>"$tmp/kernels"
      # img/s, or (--clock cpu) images per CPU second from "cpu ms/batch".
      awk -v w="$w" -v t="$t" -v l="sp_$sl" -v cpu=$([ "$clock" = cpu ] && echo 1 || echo 0) '
        $1 == "train" {print w, t, "train", $2, l, cpu ? 1e3 * $2 / $6 : $4}
        $1 == "query" {print w, t, "query", $4, l, cpu ? 1e3 * $4 / $8 : $6}' "$tmp/sp" >>"$rows"
    done
    if [ $have_torch = 1 ]; then
      for pl in nchw cl; do
        echo "width $w, $t thread(s): PyTorch ($pl)..." >&2
        flag=; [ $pl = cl ] && flag=--channels-last
        OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t "$python" tools/bench_pytorch_resnet.py --width "$w" \
          --batches "$batches" --threads "$t" --steps "$steps" $flag >"$tmp/pt"
        awk -v w="$w" -v t="$t" -v l="$pl" -v cpu=$([ "$clock" = cpu ] && echo 1 || echo 0) \
          '{print w, t, $1, $2, l, cpu ? $4 : $3}' "$tmp/pt" >>"$rows"
      done
    fi
  done
done
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(sort -u "$tmp/kernels" | head -1); rates per $clock second"
[ $have_torch = 1 ] && echo "PyTorch $("$python" -c 'import torch; print(torch.__version__)')"
echo
awk -v torch=$have_torch -v layouts="$layouts" '
  BEGIN { nl = split(layouts, L, ",") }
  { key = $1 " " $2 " " $3 " " $4; v[key, $5] = $6; if (!(key in seen)) { seen[key] = 1; order[n++] = key } }
  END {
    head = "| width | threads | phase | batch |"; rule = "| ---: | ---: | --- | ---: |"
    for (j = 1; j <= nl; ++j) { head = head " synpriv " L[j] " img/s |"; rule = rule " ---: |" }
    if (torch) {
      head = head " PyTorch img/s | PyTorch channels-last img/s |"; rule = rule " ---: | ---: |"
      for (j = 1; j <= nl; ++j) { head = head " synpriv " L[j] " / best PyTorch |"; rule = rule " ---: |" }
    }
    print head; print rule
    for (i = 0; i < n; ++i) {
      k = order[i]; split(k, f, " ")
      line = sprintf("| %s | %s | %s | %s |", f[1], f[2], f[3], f[4])
      for (j = 1; j <= nl; ++j) line = line sprintf(" %.0f |", v[k, "sp_" L[j]])
      if (torch) {
        best = v[k, "nchw"] > v[k, "cl"] ? v[k, "nchw"] : v[k, "cl"]
        line = line sprintf(" %.0f | %.0f |", v[k, "nchw"], v[k, "cl"])
        for (j = 1; j <= nl; ++j) line = line sprintf(" %.2fx |", best > 0 ? v[k, "sp_" L[j]] / best : 0)
      }
      print line
    }
  }' "$rows"
