#!/usr/bin/env bash
# Runs every libFuzzer target (or those named) for a bounded time, one after another, single
# process, and prints executions, time and crashes per target; exits 1 if any target crashed.
#
#   make fuzz                                  # builds (fuzz/build.sh), then this, 120 s a target
#   FUZZ_SECONDS=600 bash fuzz/run.sh png jpeg # only these targets, 10 minutes each
#   FUZZ_RUNS=1000000 bash fuzz/run.sh config  # a number of executions instead of a time
#
# Each target starts from its committed seeds (fuzz/corpus/TARGET) plus what earlier runs found
# (.build-fuzz/corpus/TARGET, git-ignored; new inputs go there, never into fuzz/corpus). A crash
# leaves its input in .build-fuzz/artifacts/TARGET/ and the fuzzer's report in
# .build-fuzz/logs/TARGET.log; reproduce it with `SWIFT_BACKTRACE=enable=no .build-fuzz/fuzzers/TARGET FILE`. A crash
# becomes a fix plus a regression test holding the input (Tests/*/FuzzRegressionTests.swift).
set -uo pipefail
cd "$(dirname "$0")/.."

SCRATCH=.build-fuzz
SECONDS_EACH=${FUZZ_SECONDS:-120}
RUNS=${FUZZ_RUNS:--1}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(png jpeg safetensors boxes-csv cub-lists config)

# Largest input per target: images and checkpoints a few KB, text lists and configurations less.
max_len() {
    case "$1" in
        png | jpeg | safetensors) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

printf '%-12s %12s %8s %10s %8s  %s\n' target executions seconds exec/s crashes note
failed=0
for target in "${TARGETS[@]}"; do
    binary="$SCRATCH/fuzzers/$target"
    if [ ! -x "$binary" ]; then
        echo "fuzz/run.sh: $binary is missing; run bash fuzz/build.sh first (or make fuzz)" >&2
        exit 2
    fi
    corpus="$SCRATCH/corpus/$target" artifacts="$SCRATCH/artifacts/$target" log="$SCRATCH/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$SCRATCH/logs"
    dict=()
    [ -f "fuzz/dict/$target.dict" ] && dict=("-dict=fuzz/dict/$target.dict")
    start=$(date +%s.%N)
    # Single process (the machine is shared): no -jobs/-workers. -rss_limit_mb: a decoder may
    # take up to Image.defaultMaxPixels (8192²) as the library allows, which is not a bug.
    # SWIFT_BACKTRACE: Swift's own crash backtracer hangs under ASan; libFuzzer prints the stack.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        "$binary" "$corpus" "fuzz/corpus/$target" "${dict[@]}" \
        -max_total_time="$SECONDS_EACH" -runs="$RUNS" -max_len="$(max_len "$target")" \
        -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1
    status=$?
    elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    executions=${executions:-0}
    crashes=0 note=""
    if [ "$status" -ne 0 ]; then
        crashes=1 failed=1
        found=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
        reason=$(grep -m1 -E "^==[0-9]+==ERROR|^SUMMARY|fuzz property failed|Fatal error|deadly signal|ERROR: libFuzzer" "$log" | cut -c1-100)
        note="${reason:-exit $status}; input ${found:-?}; log $log"
    fi
    rate=$(awk -v n="$executions" -v t="$elapsed" 'BEGIN { printf "%.0f", n / (t + 0.001) }')
    printf '%-12s %12s %8.0f %10s %8s  %s\n' "$target" "$executions" "$elapsed" "$rate" "$crashes" "$note"
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz/run.sh: a target crashed; its input and log are named above" >&2
    exit 1
fi
