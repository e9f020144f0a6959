#!/usr/bin/env bash
# Runs launch/carve.slurm without Slurm: stand-ins for `srun` (starts carve, forwarding signals as
# srun does) and `scontrol requeue` (records the request), then the preemption path: SIGUSR1 to the
# batch script must make the rank checkpoint and stop, the script requeue the job, and the
# "requeued" second run continue from that checkpoint to the end.
# Usage: launch/test-slurm.sh BUILD_DIR   (the folder holding carve); called by launch/test-mpi.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
carve=$(cd "${1:-.build/release}" && pwd)/carve
[[ -x $carve ]] || { echo "test-slurm.sh: no executable $carve" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
# srun stand-in: drop srun's own options, run the program in the background, pass signals on.
cat >"$work/bin/srun" <<'EOF'
#!/usr/bin/env bash
while [[ $1 == --* ]]; do shift; done
"$@" &
child=$!
trap 'kill -USR1 $child 2>/dev/null' USR1
trap 'kill -TERM $child 2>/dev/null' TERM
while kill -0 $child 2>/dev/null; do wait $child; done
wait $child
EOF
cat >"$work/bin/scontrol" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$work/scontrol.log"
EOF
chmod +x "$work/bin/srun" "$work/bin/scontrol"
export PATH="$work/bin:$PATH" CARVE="$carve" SLURM_SUBMIT_DIR="$work" SLURM_JOB_ID=4242 SLURM_CPUS_PER_TASK=1 \
    SLURM_NTASKS=1 SLURM_JOB_NUM_NODES=1 OPENBLAS_NUM_THREADS=1
cd "$work"
failed=0
fail() { echo "test-slurm.sh: FAIL: $*" >&2; failed=1; }

echo "slurm: SIGUSR1 before the time limit, requeue, resume"
bash "$here/carve.slurm" --preset tiny --steps 100000 --run-dir run --quiet 2>"$work/job1.err" &
job=$!
for _ in $(seq 200); do [[ -s run/metrics.jsonl ]] && break; sleep 0.05; done
kill -USR1 "$job"
code=0; wait "$job" || code=$?
step=$("$carve" ckpt inspect "run/checkpoints/$(cat run/checkpoints/latest)" | sed -n 's/.*, step \([0-9]*\),.*/\1/p')
if [[ $code -eq 0 && -n $step ]] && grep -q "requeue 4242" "$work/scontrol.log" 2>/dev/null; then
    echo "  PASS: the job checkpointed at step $step, exited 0 and asked Slurm to requeue it"
else fail "USR1: exit $code, checkpoint step '${step}', scontrol: $(cat "$work/scontrol.log" 2>/dev/null)"; cat "$work/job1.err" >&2; fi

# The requeued job: the same command line. It must resume from that checkpoint (stopped again
# the same way once it has gone on).
bash "$here/carve.slurm" --preset tiny --steps 100000 --run-dir run --quiet 2>"$work/job2.err" &
job=$!
for _ in $(seq 400); do
    [[ $(tail -n 1 run/metrics.jsonl 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2) -gt $((step + 5)) ]] 2>/dev/null && break
    sleep 0.05
done
kill -USR1 "$job"
code=0; wait "$job" || code=$?
last=$("$carve" ckpt inspect "run/checkpoints/$(cat run/checkpoints/latest)" | sed -n 's/.*, step \([0-9]*\),.*/\1/p')
if [[ $code -eq 0 ]] && grep -q "resuming run" "$work/job2.err" && [[ ${last:-0} -gt $step ]]; then
    echo "  PASS: the requeued job resumed from step $step and checkpointed again at step $last"
else fail "requeued job: exit $code, last checkpoint '${last}' (want > $step)"; cat "$work/job2.err" >&2; fi

if [[ $failed -ne 0 ]]; then exit 1; fi
echo "test-slurm.sh: all Slurm-template tests passed"
