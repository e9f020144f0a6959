#!/usr/bin/env bash
# Local multi-process runs: mpirun with the flags this machine needs, everything else passed through.
#
#   launch/mpirun.sh -n 2 carve train --preset demo-hoc --run-dir runs/demo
#   launch/mpirun.sh -n 4 .build/release/mpi-tests
#
# Adds, on top of your arguments:
#   --allow-run-as-root       when run as root (Open MPI refuses root otherwise);
#   --oversubscribe           when there are more ranks than cores (`nproc`);
#   OPENBLAS_NUM_THREADS      cores ÷ ranks (at least 1), exported to every rank with -x,
#                             unless you set it yourself; OpenBLAS would otherwise start one
#                             thread per core in every rank.
# A bare `carve` that is not on PATH means this checkout's .build/release/carve.
# With --hostfile/--host the ranks are spread over several machines: then nothing is guessed
# about cores (set OPENBLAS_NUM_THREADS yourself; see launch/hostfile.example).
# MPIRUN=/path/to/mpirun picks another mpirun.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mpirun=${MPIRUN:-mpirun}
command -v "$mpirun" >/dev/null || { echo "launch/mpirun.sh: no $mpirun on PATH (run launch/setup.sh)" >&2; exit 1; }

# Find the rank count and whether other hosts are involved, among mpirun's own options (those
# before the program: the first argument that names an executable).
ranks="" hosts=no args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    arg=${args[i]}
    case $arg in
        -n | -np | --n | --np) ranks=${args[i + 1]:-}; i=$((i + 1)); continue ;;
        -n=* | -np=* | --n=* | --np=*) ranks=${arg#*=}; continue ;;
        -H | --host | -host | --hostfile | -hostfile | --machinefile | -machinefile | --default-hostfile)
            hosts=yes; i=$((i + 1)); continue ;;
        --host=* | --hostfile=* | --machinefile=*) hosts=yes; continue ;;
        -*) continue ;;
    esac
    if [[ $arg == carve ]] && ! command -v carve >/dev/null && [[ -x $here/../.build/release/carve ]]; then
        args[i]=$(cd "$here/.." && pwd)/.build/release/carve
        break
    fi
    if command -v "$arg" >/dev/null 2>&1; then break; fi
done
if [[ -n $ranks && ! $ranks =~ ^[1-9][0-9]*$ ]]; then
    echo "launch/mpirun.sh: -n needs a positive number of ranks, got '$ranks'" >&2
    exit 64
fi

flags=()
if [[ $(id -u) -eq 0 ]]; then flags+=(--allow-run-as-root); fi
cores=$(nproc)
if [[ $hosts == no ]]; then
    # mpirun's default without -n is one rank per core.
    per_host=${ranks:-$cores}
    if ((per_host > cores)); then flags+=(--oversubscribe); fi
    threads=$((cores / per_host))
    export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$((threads > 0 ? threads : 1))}
else
    export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
fi
flags+=(-x OPENBLAS_NUM_THREADS)

{ printf "+ OPENBLAS_NUM_THREADS=%s" "$OPENBLAS_NUM_THREADS"; printf " %q" "$mpirun" "${flags[@]}" "${args[@]}"; echo; } >&2
exec "$mpirun" "${flags[@]}" "${args[@]}"
