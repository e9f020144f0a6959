#!/usr/bin/env bash
# The kernel matrix (make test-kernels): the numeric test suites under every OpenBLAS kernel
# family this CPU can execute, then once more from a build for the x86-64 baseline (make CPU=).
# A tolerance that holds on one CPU only fails here, on one machine: Debian's OpenBLAS is built
# with DYNAMIC_ARCH, and OPENBLAS_CORETYPE picks the kernels (summation orders) of another CPU
# family — Prescott (SSE3), Sandybridge (AVX), Haswell and Zen (AVX2/FMA), SkylakeX (AVX-512).
# Each family is checked to be the one OpenBLAS really uses (carve bench step reports it).
# Every family that is skipped is printed with its reason. Exits non-zero on any failure.
# Usage: launch/test-kernels.sh TEST_SCRATCH BASELINE_SCRATCH   (make passes .build-test and
#        .build-test-baseline; the first must hold a -c release --build-tests build)
set -euo pipefail
scratch=${1:-.build-test}
baseline=${2:-.build-test-baseline}
swift=${SWIFT:-swift}
# The suites whose results are sums of floats: ops, layers, fixtures, networks, DDP, metrics.
suites='TensorTests|DDPTests|HocNetworkFixtureTests|HocGANTests|EvaluationMetricTests|FgTests|RealFgTests'
failed=0
fail() { echo "test-kernels: FAIL: $*" >&2; failed=1; }
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { grep -qw "$1" <<<"$flags"; }

# The families this CPU can execute, newest instruction set last.
families=(Prescott)
if has avx; then families+=(Sandybridge); else echo "test-kernels: skipped Sandybridge: this CPU has no AVX"; fi
if has avx2 && has fma; then families+=(Haswell Zen); else echo "test-kernels: skipped Haswell and Zen: this CPU has no AVX2/FMA"; fi
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then families+=(SkylakeX)
else echo "test-kernels: skipped SkylakeX: this CPU has no AVX-512 (F, BW, DQ, VL)"; fi

run_suites() {  # run_suites SCRATCH LABEL [ENV...]
    local dir=$1 label=$2; shift 2
    local log; log=$(mktemp)
    local start=$SECONDS
    if env "$@" CARVE_POISON_RELEASED=1 CARVE_BIN="$PWD/$dir/release/carve" "$swift" test -c release --scratch-path "$dir" --skip-build \
        --filter "$suites" >"$log" 2>&1; then
        echo "  PASS: $label: $(grep -E 'Test run with [0-9]+ tests' "$log" | tail -1 | sed 's/^[^T]*//') ($((SECONDS - start)) s)"
    else
        fail "$label:"; grep -E '✘|error|recorded an issue' "$log" | head -40 >&2
    fi
    rm -f "$log"
}

core_of() {  # core_of CARVE [ENV...]: the kernel family OpenBLAS reports inside carve
    local carve=$1; shift
    env "$@" OPENBLAS_NUM_THREADS=1 "$carve" bench step --preset tiny --steps 1 --warmup 0 --json 2>/dev/null |
        sed -n 's/.*"core" *: *"\([^"]*\)".*/\1/p'
}

echo "test-kernels: OpenBLAS kernel families on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'): ${families[*]}"
for family in "${families[@]}"; do
    core=$(core_of "$scratch/release/carve" OPENBLAS_CORETYPE="$family")
    if [[ ${core,,} != "${family,,}" ]]; then fail "OPENBLAS_CORETYPE=$family: OpenBLAS reports '$core'"; continue; fi
    for threads in 1 2; do
        run_suites "$scratch" "OPENBLAS_CORETYPE=$family, $threads thread(s)" OPENBLAS_CORETYPE="$family" OPENBLAS_NUM_THREADS=$threads
    done
done

# The x86-64 baseline build: Swift's own loops without AVX2/FMA (other roundings than -target-cpu
# haswell), OpenBLAS as it picks for this CPU.
echo "test-kernels: x86-64 baseline build (make CPU=) in $baseline"
mkdir -p "$baseline"
if "$swift" build -c release --scratch-path "$baseline" -Xswiftc -enable-testing --build-tests >"$baseline/build.log" 2>&1; then
    run_suites "$baseline" "x86-64 baseline build, OpenBLAS's own choice ($(core_of "$baseline/release/carve"))"
else
    fail "the baseline build failed (log: $baseline/build.log)"; tail -20 "$baseline/build.log" >&2
fi

if [[ $failed -ne 0 ]]; then echo "test-kernels: some kernel families failed" >&2; exit 1; fi
echo "test-kernels: every kernel family passed"
