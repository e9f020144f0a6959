#!/usr/bin/env bash
# Runs the MPI tests (Tests/MPITests, built as `mpi-tests`) under a real mpirun with 2 and 4 ranks,
# the fault test (a throwing rank must end the job, non-zero, within 10 s) and the same checks
# without mpirun (local communicator, MPI never initialised). Exits non-zero on any failure.
# Usage: launch/test-mpi.sh BUILD_DIR   (the folder holding mpi-tests and carve)
set -euo pipefail
bin=${1:-.build/release}
tests="$bin/mpi-tests"
[[ -x $tests ]] || { echo "test-mpi.sh: no executable $tests (build with --build-tests first)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
failed=0
fail() { echo "test-mpi.sh: FAIL: $*" >&2; failed=1; }

# Every collective check, on the communicator mpirun gives (timeout: a broken collective hangs).
for n in 2 4; do
    echo "mpi-tests: $n ranks"
    timeout 120 mpirun -n "$n" --oversubscribe "$tests" --world-size "$n" || fail "mpi-tests with $n ranks (exit $?)"
done

# The same code path without mpirun must pick the local communicator and never call MPI_Init.
# Launcher variables inherited from an enclosing job (srun, mpirun) would make it pick MPI.
echo "mpi-tests: no mpirun"
launcher_vars=$(env | grep -oE '^(OMPI_COMM_WORLD_[A-Z_]*|PMIX_[A-Z_]*|PMI_[A-Z_]*|MPI_LOCALNRANKS|SLURM_[A-Z_]*)=' | tr -d = || true)
unset_args=()
for v in $launcher_vars; do unset_args+=(-u "$v"); done
timeout 60 env "${unset_args[@]}" "$tests" --local || fail "mpi-tests --local (exit $?)"

# Fault: one rank throws while the others wait in an all-reduce. Its abort must end the job with
# a non-zero exit within 10 s, and its one-line message must reach stderr.
for case in "2 1" "4 3" "4 0"; do
    read -r n rank <<<"$case"
    echo "mpi-tests: $n ranks, rank $rank throws"
    err=$(mktemp)
    start=$(date +%s.%N)
    set +e
    timeout 30 mpirun -n "$n" --oversubscribe "$tests" --fail-on-rank "$rank" >/dev/null 2>"$err"
    code=$?
    set -e
    elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    echo "  exit $code after $elapsed s"
    if [[ $code -eq 0 ]]; then fail "$n ranks, rank $rank throws: mpirun exited 0"; fi
    if [[ $code -eq 124 ]]; then fail "$n ranks, rank $rank throws: still running after 30 s (hang)"; fi
    if ! awk -v t="$elapsed" 'BEGIN { exit !(t < 10) }'; then fail "$n ranks, rank $rank throws: took $elapsed s (limit 10 s)"; fi
    if ! grep -q "mpi-tests: rank $rank of $n: injected fault on rank $rank" "$err"; then
        fail "$n ranks, rank $rank throws: its one-line error is missing from stderr:"; cat "$err" >&2
    fi
    rm -f "$err"
done

if [[ $failed -ne 0 ]]; then echo "test-mpi.sh: some MPI tests failed" >&2; exit 1; fi
echo "test-mpi.sh: all MPI tests passed"
