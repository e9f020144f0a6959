#!/usr/bin/env bash
# `make bench`: Carve vs PyTorch, the same training steps side by side on this machine, one table.
#
#   bash bench/run.sh                       # the full table (about 30 minutes on 2 cores)
#   BENCH_ONLY=demo-hoc bash bench/run.sh   # only rows whose preset matches (grep -E)
#
# Rows: paper-hoc-fruit and demo-hoc at global batch 16 with W=1 × 1 thread, W=1 × 2 threads and
# W=2 × 1 thread (Carve under launch/mpirun.sh, PyTorch DDP over gloo); paper-fg-cub at batch 16
# with W=1 × 1 and 2 threads. Each row runs Carve, then PyTorch, back to back, with the same
# thread settings (OPENBLAS_NUM_THREADS, CARVE_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS).
# Each measurement is the median of BENCH_STEPS (default 10) steps after BENCH_WARMUP (2).
# The JSON lines go to $BENCH_OUT/results.jsonl (default: a new folder under /tmp) and the table
# (Markdown) to stdout and $BENCH_OUT/table.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
carve=${CARVE_BIN:-$root/.build/release/carve}
[[ -x $carve ]] || { echo "bench/run.sh: no carve binary at $carve (run 'make build' or set CARVE_BIN)" >&2; exit 1; }
python=$(bash "$here/pytorch/setup.sh")
steps=${BENCH_STEPS:-10} warmup=${BENCH_WARMUP:-2} only=${BENCH_ONLY:-.}
out=${BENCH_OUT:-$(mktemp -d /tmp/carve-bench.XXXXXX)}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"

rows=(
    "paper-hoc-fruit 16 1 1" "paper-hoc-fruit 16 1 2" "paper-hoc-fruit 16 2 1"
    "demo-hoc 16 1 1" "demo-hoc 16 1 2" "demo-hoc 16 2 1"
    "paper-fg-cub 16 1 1" "paper-fg-cub 16 1 2"
)
echo "bench/run.sh: $steps timed steps after $warmup warm-up per measurement; results in $out" >&2
for row in "${rows[@]}"; do
    read -r preset batch world threads <<<"$row"
    grep -qE -- "$only" <<<"$preset" || continue
    # OMP_NUM_THREADS only for PyTorch: coreutils' nproc honours it, and launch/mpirun.sh would
    # then count one core and add --oversubscribe.
    export OPENBLAS_NUM_THREADS=$threads CARVE_THREADS=$threads
    common=(--preset "$preset" --batch-size "$batch" --steps "$steps" --warmup "$warmup")
    echo "bench/run.sh: $preset, batch $batch, W=$world × $threads thread(s), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    if ((world == 1)); then
        "$carve" bench step "${common[@]}" --json >>"$results"
    else
        bash "$root/launch/mpirun.sh" -n "$world" -x CARVE_THREADS "$carve" bench step "${common[@]}" --json >>"$results"
    fi
    # PyTorch's gloo start-up has been seen to abort (SIGABRT) once in a while: one retry, said on stderr.
    for attempt in 1 2; do
        if OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads "$python" "$here/pytorch/step.py" "${common[@]}" \
            --threads "$threads" --world-size "$world" >"$out/pytorch.json"; then
            cat "$out/pytorch.json" >>"$results"
            break
        fi
        ((attempt == 1)) || { echo "bench/run.sh: the PyTorch step failed twice for $preset W=$world × $threads" >&2; exit 1; }
        echo "bench/run.sh: the PyTorch step failed for $preset W=$world × $threads; trying once more" >&2
    done
done
python3 "$here/format.py" "$results" | tee "$out/table.md"
