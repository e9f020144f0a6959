#!/usr/bin/env bash
# Kill loop for launch/supervise.sh: a 4-rank `carve train --preset tiny --checkpoint-every 1` run
# under the supervisor is killed 20 times at random moments — a random rank with kill -9, or the
# whole job (mpirun and every rank) with kill -9 — and restarted by the supervisor each time;
# then it is stopped with SIGUSR1 and its last checkpoint must be bitwise the checkpoint of an
# uninterrupted run to the same step (carve ckpt diff --tolerance 0 --optimizer). Exits 0 only
# then. Slow (minutes): not part of `make test`.
#
#   launch/kill-loop.sh                              # CARVE defaults to .build/release/carve
#   CARVE=.build-fuzzsup/release/carve launch/kill-loop.sh --kills 20 --seed 7 --work /tmp/kl
#
# Each kill waits until the running job has written a checkpoint of its own (so every restart
# makes progress), then a random 0–1.5 s (so kills land in steps, allreduces and checkpoint
# writes alike). Options: --kills N (20), --ranks W (4), --seed S (bash's RANDOM, for the choice
# of victims and delays; default from the clock, printed), --work DIR (kept; default a fresh
# temporary folder, removed on success). MPI as root and on few cores: the flags are added here.
set -uo pipefail
cd "$(dirname "$0")/.."

me=launch/kill-loop.sh
kills=20 ranks=4 seed=$(( $(date +%s) % 32768 )) work=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --kills) kills=$2; shift 2 ;;
        --ranks) ranks=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        *) echo "$me: unknown option $1 (usage: $me [--kills N] [--ranks W] [--seed S] [--work DIR])" >&2; exit 64 ;;
    esac
done
carve=${CARVE:-.build/release/carve}
[[ -x $carve ]] || { echo "$me: no executable $carve (make build, or set CARVE)" >&2; exit 1; }
carve=$(cd "$(dirname "$carve")" && pwd)/$(basename "$carve")
carve_real=$(readlink -f "$carve")
command -v mpirun >/dev/null || { echo "$me: no mpirun on PATH (run launch/setup.sh)" >&2; exit 1; }
keep=yes
[[ -n $work ]] || { work=$(mktemp -d /tmp/carve-kill-loop.XXXXXX); keep=no; }
mkdir -p "$work"
RANDOM=$seed
started=$(date +%s)

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mpi=(mpirun -n "$ranks" --oversubscribe -x OPENBLAS_NUM_THREADS)
run=$work/run ref=$work/ref pidfile=$work/job.pid log=$work/supervise.log
supervisor=""

fail() {
    echo "$me: FAIL: $*" >&2
    echo "$me: work folder kept: $work (supervise.log, supervise.err, run/, ref/, ref.err)" >&2
    exit 1
}
cleanup() {
    # Only what this script started: the supervisor (by pid) and its job's session.
    if [[ -n $supervisor ]] && kill -0 "$supervisor" 2>/dev/null; then
        local sid
        sid=$(cat "$pidfile" 2>/dev/null)
        kill -KILL "$supervisor" 2>/dev/null
        [[ -z $sid ]] || kill -KILL $(session_pids "$sid") 2>/dev/null
    fi
}
trap cleanup EXIT

session_pids() { ps -e -o pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'; }
# The rank processes of the job whose leader (mpirun) is $1: those in its session running the
# carve binary (their name may be `exe`: carve re-executes itself through /proc/self/exe).
rank_pids() {
    local pid
    for pid in $(session_pids "$1"); do
        [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == "$carve_real" ]] && echo "$pid"
    done
}
latest_step() {
    local name
    name=$(cat "$1/checkpoints/latest" 2>/dev/null) || { echo 0; return; }
    name=${name#step-}
    echo $((10#${name%.safetensors}))
}
job_alive() { local j; j=$(cat "$pidfile" 2>/dev/null) && kill -0 "$j" 2>/dev/null && echo "$j"; }

echo "$me: $kills kills of a $ranks-rank tiny run under launch/supervise.sh; seed $seed; work $work"
launch/supervise.sh --max-restarts "$kills" --delay 0.5 --log "$log" --pid-file "$pidfile" -- \
    "${mpi[@]}" "$carve" train --preset tiny --checkpoint-every 1 --steps 1000000 --quiet --run-dir "$run" \
    2>"$work/supervise.err" &
supervisor=$!

seen=0   # the step of the checkpoint the last killed job had reached
for ((k = 1; k <= kills; k++)); do
    # A live job that has checkpointed beyond what the previous one reached.
    deadline=$(($(date +%s) + 180))
    while :; do
        kill -0 "$supervisor" 2>/dev/null || fail "kill $k: the supervisor ended early ($(tail -1 "$log" 2>/dev/null))"
        job=$(job_alive) && step=$(latest_step "$run") && ((step > seen)) && [[ -n $(rank_pids "$job") ]] && break
        (($(date +%s) < deadline)) || fail "kill $k: no new checkpoint within 180 s (last step $seen)"
        sleep 0.1
    done
    tenths=$((RANDOM % 16))
    sleep "$((tenths / 10)).$((tenths % 10))"
    job=$(job_alive) || fail "kill $k: the job ended by itself"
    step=$(latest_step "$run")
    if ((RANDOM % 2)); then
        pids=($(rank_pids "$job"))
        ((${#pids[@]} > 0)) || fail "kill $k: no rank processes in the job's session"
        victim=${pids[RANDOM % ${#pids[@]}]}
        rank=$(tr '\0' '\n' <"/proc/$victim/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
        kill -KILL "$victim" 2>/dev/null
        echo "kill $k: kill -9 of rank ${rank:-?} (pid $victim) at checkpoint step $step"
    else
        pids=$(session_pids "$job")
        kill -KILL $pids 2>/dev/null
        echo "kill $k: kill -9 of the whole job (mpirun $job and $(($(echo $pids | wc -w) - 1)) more) at checkpoint step $step"
    fi
    # Wait for the supervisor to notice (the job leader gone) before the next round.
    deadline=$(($(date +%s) + 60))
    while kill -0 "$job" 2>/dev/null; do
        (($(date +%s) < deadline)) || fail "kill $k: the job (pid $job) is still alive 60 s after the kill"
        sleep 0.1
    done
    seen=$(latest_step "$run")
done

# One more job that checkpoints on its own, then a clean stop through the supervisor.
deadline=$(($(date +%s) + 180))
while :; do
    kill -0 "$supervisor" 2>/dev/null || fail "final: the supervisor ended early ($(tail -1 "$log" 2>/dev/null))"
    job=$(job_alive) && step=$(latest_step "$run") && ((step > seen)) && [[ -n $(rank_pids "$job") ]] && break
    (($(date +%s) < deadline)) || fail "final: no new checkpoint within 180 s"
    sleep 0.1
done
kill -USR1 "$supervisor"
wait "$supervisor"
code=$?
supervisor=""
[[ $code -eq 0 ]] || fail "the supervisor exited $code after SIGUSR1 (want 0): $(tail -1 "$log")"
restarts=$(grep -c '; restart [0-9]* of [0-9]* in' "$log")
[[ $restarts -eq $kills ]] || fail "the supervisor logged $restarts restarts for $kills kills"
final=$(latest_step "$run")
codes=$(grep -o 'exited with code [0-9]*' "$log" | awk '{ print $4 }' | sort -n | uniq -c | awk '{ printf "%s%s × %s", (NR > 1 ? ", " : ""), $2, $1 }')
leftovers=$(grep -c 'leftover process' "$log")
echo "stopped by SIGUSR1 at step $final after $kills kills and $restarts restarts (job exit codes: $codes; $leftovers time(s) the supervisor killed leftover processes)"

# The uninterrupted run to the same step.
timeout 600 "${mpi[@]}" "$carve" train --preset tiny --checkpoint-every 1 --steps "$final" --quiet --run-dir "$ref" \
    2>"$work/ref.err" || fail "the uninterrupted reference run to step $final failed: $(tail -1 "$work/ref.err")"
name=$(printf 'step-%08d.safetensors' "$final")
if ! "$carve" ckpt diff "$ref/checkpoints/$name" "$run/checkpoints/$name" --tolerance 0 --optimizer >"$work/diff.txt" 2>&1; then
    cat "$work/diff.txt" >&2
    fail "step $final after $kills kills differs from the uninterrupted run (carve ckpt diff --tolerance 0 --optimizer)"
fi
trap - EXIT
[[ $keep == yes ]] || rm -rf "$work"
echo "$me: PASS: after $kills kill -9s and restarts, step $final is bitwise the uninterrupted run's (weights and optimizer); $(($(date +%s) - started)) s"
