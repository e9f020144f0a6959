#!/usr/bin/env bash
# Runs the MPI tests (Tests/MPITests, built as `mpi-tests`) under a real mpirun with 2 and 4 ranks.
# Usage: launch/test-mpi.sh BUILD_DIR   (the folder holding mpi-tests and carve)
set -euo pipefail
bin=${1:-.build/release}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
for n in 2 4; do
    echo "mpi-tests: $n ranks"
    timeout 300 mpirun -n "$n" --oversubscribe "$bin/mpi-tests"
done
