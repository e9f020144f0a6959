#!/usr/bin/env bash
# Restarts a failed `carve train` job from its last checkpoint, like torchrun's --max-restarts.
#
#   launch/supervise.sh --max-restarts 5 -- mpirun -n 4 carve train --preset demo-hoc --run-dir runs/demo
#   launch/supervise.sh --max-restarts 3 --log runs/demo.supervise.log -- launch/mpirun.sh -n 2 carve train ... --run-dir runs/demo
#
# Runs the command after `--` (it must contain `train` and `--run-dir RUN`). When the job ends:
#   exit 0                 the run finished, or stopped cleanly (SIGUSR1, or carve's own SIGINT/SIGTERM
#                          checkpoint-and-exit): the supervisor exits 0;
#   exit 130 or 143        the job was ended by SIGINT or SIGTERM on purpose (a shell's default for a
#                          process killed by them): no restart, the supervisor exits with that code;
#   any other exit         a failure (a rank killed, kill -9, a crash, an abort, a lost node): the
#                          job's remaining processes are killed, and it is started again as the same
#                          launcher and `train --resume --run-dir RUN` (the run folder records the
#                          preset, data and overrides; `--quiet` is kept), which continues bitwise
#                          from RUN/checkpoints/latest. If RUN has no checkpoint yet, the original
#                          command runs again instead (a folder the failed start left behind is moved
#                          to RUN.failed-N first, N the restart number, since carve never reuses a
#                          folder holding files).
# After N restarts (--max-restarts, default 3) a further failure ends the supervisor with one line
# saying so and the job's exit code. Every start, exit and restart is one line on stderr (and in
# --log FILE), with the time and the exit code.
#
# SIGINT, SIGTERM or SIGUSR1 sent to the supervisor go to the job (mpirun passes SIGUSR1 on to every
# rank: checkpoint and exit 0) and end the supervision: no restart follows. Stop a supervised job
# through the supervisor (or with `kill -USR1` to mpirun, which then exits 0): a SIGTERM sent to
# mpirun itself makes it exit 1, which looks like any failure and is restarted.
# The job runs in a session of its own (setsid), so that what is left of a failed job (ranks of a
# killed mpirun) can be found and killed before the restart. --pid-file FILE holds the pid of the
# running job's leader (its session id), for scripts that watch or kill it (launch/kill-loop.sh).
# Other options: --delay S seconds between a failure and its restart (default 1).
set -uo pipefail

me=launch/supervise.sh
max_restarts=3 delay=1 log="" pid_file=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --max-restarts) max_restarts=${2:-}; shift 2 ;;
        --max-restarts=*) max_restarts=${1#*=}; shift ;;
        --delay) delay=${2:-}; shift 2 ;;
        --log) log=${2:-}; shift 2 ;;
        --pid-file) pid_file=${2:-}; shift 2 ;;
        --) shift; break ;;
        -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "$me: unknown option $1 (usage: $me [--max-restarts N] [--delay S] [--log FILE] [--pid-file FILE] -- COMMAND)" >&2; exit 64 ;;
    esac
done
[[ $max_restarts =~ ^[0-9]+$ ]] || { echo "$me: --max-restarts needs a number ≥ 0, got '$max_restarts'" >&2; exit 64; }
[[ $delay =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "$me: --delay needs seconds, got '$delay'" >&2; exit 64; }
[[ $# -gt 0 ]] || { echo "$me: no command after -- (e.g. -- mpirun -n 4 carve train --preset tiny --run-dir RUN)" >&2; exit 64; }
command -v setsid >/dev/null || { echo "$me: setsid (util-linux) is missing" >&2; exit 69; }

# The launcher and `train` (everything up to the first `train`), the run folder and --quiet.
original=("$@") prefix=() run_dir="" quiet=() found_train=no
for ((i = 0; i < ${#original[@]}; i++)); do
    arg=${original[i]}
    if [[ $found_train == no ]]; then
        prefix+=("$arg")
        [[ $arg == train ]] && found_train=yes
        continue
    fi
    case $arg in
        --run-dir) run_dir=${original[i + 1]:-} ;;
        --run-dir=*) run_dir=${arg#*=} ;;
        --quiet) quiet=(--quiet) ;;
    esac
done
[[ $found_train == yes ]] || { echo "$me: the command has no 'train' (supervise.sh restarts carve train jobs)" >&2; exit 64; }
[[ -n $run_dir ]] || { echo "$me: the command needs --run-dir RUN (a restart resumes that run folder)" >&2; exit 64; }
resume=("${prefix[@]}" --resume --run-dir "$run_dir" "${quiet[@]}")

say() {
    local line
    line="$me: $(date -u +%Y-%m-%dT%H:%M:%SZ): $*"
    echo "$line" >&2
    [[ -z $log ]] || echo "$line" >>"$log"
}

# Describes an exit code: "137 (SIGKILL)".
describe() {
    local code=$1
    if ((code > 128 && code < 160)); then
        echo "$code (SIG$(kill -l $((code - 128)) 2>/dev/null || echo ?))"
    else
        echo "$code"
    fi
}

job=""          # pid of the running job's leader (and its session id)
stopping=""     # the signal the supervisor was asked to stop with
forward() {
    stopping=$1
    say "received SIG$1: passing it to the job (pid ${job:-none}); no restart will follow"
    [[ -z $job ]] || kill -s "$1" "$job" 2>/dev/null
}
trap 'forward INT' INT
trap 'forward TERM' TERM
trap 'forward USR1' USR1

# Kills every process left in the job's session (ranks whose mpirun died, helpers), by pid.
reap() {
    local sid=$1 pids
    pids=$(ps -e -o pid=,sid=,stat= | awk -v s="$sid" '$2 == s && $3 !~ /^Z/ { print $1 }')
    if [[ -n $pids ]]; then
        say "killing $(echo "$pids" | wc -w) leftover process(es) of the failed job: $(echo $pids)"
        kill -KILL $pids 2>/dev/null
        for _ in $(seq 50); do
            ps -e -o sid=,stat= | awk -v s="$sid" '$1 == s && $2 !~ /^Z/ { found = 1 } END { exit !found }' || break
            sleep 0.1
        done
    fi
}

restarts=0
command=("${original[@]}")
while :; do
    say "start $((restarts + 1)) (restart $restarts of at most $max_restarts): ${command[*]}"
    started=$(date +%s)
    setsid "${command[@]}" &
    job=$!
    [[ -z $pid_file ]] || echo "$job" >"$pid_file"
    # wait returns early (> 128) when a trapped signal arrives; wait again until the job has ended.
    # (bash's own "Killed" notice for a job that died by a signal is silenced; the log says it.)
    while :; do
        { wait "$job"; code=$?; } 2>/dev/null
        kill -0 "$job" 2>/dev/null || break
    done
    elapsed=$(($(date +%s) - started))
    reap "$job"
    job=""
    [[ -z $pid_file ]] || rm -f "$pid_file"

    if [[ -n $stopping ]]; then
        say "job exited with code $(describe "$code") after ${elapsed} s, stopped by SIG$stopping: not restarting"
        exit "$code"
    fi
    if [[ $code -eq 0 ]]; then
        say "job exited with code 0 after ${elapsed} s: done (finished or stopped cleanly)"
        exit 0
    fi
    if [[ $code -eq 130 || $code -eq 143 ]]; then
        say "job exited with code $(describe "$code") after ${elapsed} s: ended by an interrupt, not restarting"
        exit "$code"
    fi
    if ((restarts >= max_restarts)); then
        say "job exited with code $(describe "$code") after ${elapsed} s; giving up after $restarts restart(s) (--max-restarts $max_restarts); run folder $run_dir"
        exit "$code"
    fi
    restarts=$((restarts + 1))
    if [[ -f $run_dir/checkpoints/latest ]]; then
        command=("${resume[@]}")
        say "job exited with code $(describe "$code") after ${elapsed} s; restart $restarts of $max_restarts in ${delay} s from $run_dir/checkpoints/$(cat "$run_dir/checkpoints/latest" 2>/dev/null)"
    else
        command=("${original[@]}")
        if [[ -e $run_dir ]]; then
            aside=$run_dir.failed-$restarts
            mv "$run_dir" "$aside" || { say "cannot move $run_dir (no checkpoint) aside to $aside; giving up"; exit "$code"; }
            say "job exited with code $(describe "$code") after ${elapsed} s before its first checkpoint; moved $run_dir to $aside; restart $restarts of $max_restarts in ${delay} s from the start"
        else
            say "job exited with code $(describe "$code") after ${elapsed} s before making $run_dir; restart $restarts of $max_restarts in ${delay} s from the start"
        fi
    fi
    sleep "$delay" &
    wait $! 2>/dev/null
    if [[ -n $stopping ]]; then
        say "stopped by SIG$stopping before the restart"
        exit "$code"
    fi
done
