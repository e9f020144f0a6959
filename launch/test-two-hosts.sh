#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces joined by a veth pair (10.77.0.1 and 10.77.0.2),
# one rank of `carve train --preset tiny` in each, over Open MPI's TCP transport (mpirun in the
# first namespace starts its daemon in the second through an rsh agent that runs
# `ip netns exec NS`). Checks that
#   1. two ranks on two hosts give bitwise the weights of two ranks on one host;
#   2. with the link taken down mid-run the collective watchdog (Note [Collective watchdog] in
#      Sources/DDP/CollectiveWatchdog.swift) ends the ranks within its timeout, every process of
#      the job goes away, and the last checkpoint loads.
# Needs root and iproute2's `ip`; skips (exit 0, with the reason) when namespaces cannot be made.
# launch/test-mpi.sh runs it last. Usage: launch/test-two-hosts.sh BUILD_DIR
set -euo pipefail
bin=${1:-.build/release}
skip() { echo "test-two-hosts.sh: SKIP: $*"; exit 0; }
[[ $(id -u) -eq 0 ]] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v mpirun >/dev/null || skip "no mpirun"
[[ -x $bin/carve ]] || { echo "test-two-hosts.sh: FAIL: no executable $bin/carve" >&2; exit 1; }
bin=$(cd "$bin" && pwd)
carve="$bin/carve"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
failed=0
fail() { echo "test-two-hosts.sh: FAIL: $*" >&2; failed=1; }
pass() { echo "  PASS: $*"; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }
under() { awk -v t="$1" -v l="$2" 'BEGIN { exit !(t < l) }'; }

# Names unique to this run (a veth name has at most 15 characters).
ns_a="carve2h-$$-a" ns_b="carve2h-$$-b" veth_a="c2h$$a" veth_b="c2h$$b"
work=$(mktemp -d)
# Every process left in our namespaces is ours: kill it, then remove the namespaces (and the veth).
cleanup() {
    for ns in "$ns_a" "$ns_b"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    sleep 0.2
    for ns in "$ns_a" "$ns_b"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

if ! ip netns add "$ns_a" 2>"$work/ip.err"; then skip "cannot create a network namespace: $(head -1 "$work/ip.err")"; fi
ip netns add "$ns_b"
if ! ip link add "$veth_a" type veth peer name "$veth_b" 2>"$work/ip.err"; then skip "cannot create a veth pair: $(head -1 "$work/ip.err")"; fi
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add 10.77.0.1/24 dev "$veth_a"
ip -n "$ns_b" addr add 10.77.0.2/24 dev "$veth_b"
for side in "$ns_a $veth_a" "$ns_b $veth_b"; do
    read -r ns dev <<<"$side"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up
    # A dead link is noticed by TCP only after tcp_retries2 retransmissions (default 15: about
    # 15 min). The ranks do not wait for that (the watchdog ends them); Open MPI's daemons, whose
    # messages to each other cross the dead link, do. 3 retries (about 3 s) lets this test see
    # them go; the setting is local to the namespace.
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_retries2=3
done

# plm_rsh_agent: Open MPI runs `AGENT HOST COMMAND...` to start its daemon on HOST; here HOST's
# namespace stands for the host, and a shell runs the command as ssh's remote shell would.
cat >"$work/agent.sh" <<EOF
#!/usr/bin/env bash
while [[ \${1:-} == -* ]]; do shift; done
host=\$1; shift
case \$host in
    10.77.0.1) ns=$ns_a ;;
    10.77.0.2) ns=$ns_b ;;
    *) echo "test-two-hosts.sh agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$work/agent.sh"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$work/hostfile"

# mpirun in the first namespace: rank 0 there, rank 1 (and its daemon) in the second (with a hang
# guard; the trap removes whatever a killed mpirun leaves).
two_hosts() {
    timeout 120 ip netns exec "$ns_a" mpirun -n 2 --hostfile "$work/hostfile" --mca plm_rsh_agent "$work/agent.sh" \
        --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
        -x OPENBLAS_NUM_THREADS "$carve" train --preset tiny --quiet "$@"
}
latest_of() { echo "$1/checkpoints/$(tr -d '\n' <"$1/checkpoints/latest")"; }

# --- 1. Two hosts against one host: with 2 ranks every sum is a + b, the same bits in any order.
echo "two hosts: tiny, 20 steps, one rank per namespace over TCP, against 2 ranks on one host"
code=0
two_hosts --run-dir "$work/two" 2>"$work/two.err" || code=$?
if [[ $code -ne 0 ]]; then
    fail "mpirun across the two namespaces (exit $code):"; cat "$work/two.err" >&2
else
    timeout 120 mpirun -n 2 --oversubscribe "$carve" train --preset tiny --quiet --run-dir "$work/one" ||
        fail "2 ranks on one host (exit $?)"
    if "$carve" ckpt diff "$work/one/checkpoints/step-00000020.safetensors" "$work/two/checkpoints/step-00000020.safetensors" \
        --tolerance 0 --optimizer >/dev/null; then
        pass "step 20 on two hosts is bitwise step 20 on one host (weights and optimizer)"
    else fail "two hosts differ from one host at step 20 (carve ckpt diff --tolerance 0 --optimizer)"; fi
fi

# --- 2. The link goes down mid-run (collective_timeout=5). A rank waits in a collective within one
# step, decides 6.5 s later (timeout + grace) and aborts: the ranks must be gone within 12 s. Each
# side then sees the other as missing, so each may print its line; only rank 0's reaches mpirun's
# stderr (rank 1's would cross the dead link). Open MPI's daemons go once TCP gives up (above):
# all processes within 30 s.
echo "two hosts: the link goes down mid-run (collective_timeout=5)"
run="$work/down"
(
    code=0
    two_hosts --steps 100000 --checkpoint-every 5 --set collective_timeout=5 --run-dir "$run" 2>"$run.err" || code=$?
    echo "$code" >"$run.rc"
) &
deadline=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 60 }')
until [[ -s $run/checkpoints/latest ]] || ! under "$(now)" "$deadline"; do sleep 0.1; done
ranks_in() { for p in $(ip netns pids "$1"); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^$carve train" && echo "$p"; done; true; }
in_a=$(ranks_in "$ns_a" | wc -l) in_b=$(ranks_in "$ns_b" | wc -l)
if [[ ! -s $run/checkpoints/latest || $in_a -ne 1 || $in_b -ne 1 ]]; then
    fail "the run to cut did not start as expected: checkpoint latest $( [[ -s $run/checkpoints/latest ]] && echo present || echo missing), $in_a rank(s) in $ns_a, $in_b in $ns_b (want 1 and 1):"
    cat "$run.err" >&2
else
    start=$(now)
    ip -n "$ns_b" link set "$veth_b" down
    ranks_gone="" all_gone=""
    while under "$(since "$start")" 40; do
        [[ -z $ranks_gone && -z $(ranks_in "$ns_a") && -z $(ranks_in "$ns_b") ]] && ranks_gone=$(since "$start")
        if [[ -z $(ip netns pids "$ns_a") && -z $(ip netns pids "$ns_b") ]]; then all_gone=$(since "$start"); break; fi
        sleep 0.1
    done
    wait
    code=$(cat "$run.rc" 2>/dev/null || echo "?")
    line=$(grep -m1 '^carve: rank 0: ' "$run.err" || true)
    pattern="^carve: rank 0: step [0-9]+: [a-z]+.* waited [0-9.]+ s for rank 1 \\(timeout 5 s\\); aborting the job$"
    if [[ -n $ranks_gone ]] && under "$ranks_gone" 12 && [[ $code != 0 && $code != "?" ]] && grep -qE "$pattern" <<<"$line"; then
        pass "both ranks gone $ranks_gone s after the link went down, mpirun exit $code; $line"
    else
        fail "link down: ranks gone after ${ranks_gone:-(still running at 40)} s (limit 12 s), mpirun exit $code, rank 0's line '${line}':"
        grep -v '^\s*$' "$run.err" >&2 || true
    fi
    if [[ -n $all_gone ]] && under "$all_gone" 30; then pass "every process of the job (mpirun, daemon, ranks) gone after $all_gone s"
    else fail "processes left in the namespaces 40 s after the link went down: $(ip netns pids "$ns_a" | xargs) / $(ip netns pids "$ns_b" | xargs)"; fi
    step=$("$carve" ckpt inspect "$(latest_of "$run")" 2>"$run.inspect" | sed -n 's/.*, step \([0-9]*\),.*/\1/p' || true)
    if [[ -n $step ]]; then pass "the last checkpoint loads (step $step)"
    else fail "the last checkpoint does not load:"; cat "$run.inspect" >&2; fi
fi

if [[ $failed -ne 0 ]]; then echo "test-two-hosts.sh: some two-host tests failed" >&2; exit 1; fi
echo "test-two-hosts.sh: all two-host tests passed"
