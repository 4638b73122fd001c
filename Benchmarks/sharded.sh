#!/usr/bin/env bash
# Issue 16's benchmark: S secaggd shards of C TCP clients each (one `secagg bench swarm` per shard) under one
# secagg-root on loopback, one global round of dimension M; then one secaggd with all S x C clients, one round of the
# same task. Reports the global round's wall time (from `secagg admin global start` until the root's record says
# released), each shard's own round time, the single coordinator's round time, and the peak RSS of every process
# (/usr/bin/time -f %M), as a table and one JSON line. Checks that the global round released with all S cohorts and
# S x C survivors, and that its sum is the sum of the shards' published sums (each verified by its swarm).
#
# Usage: Benchmarks/sharded.sh [S] [C] [M]   (defaults: 4 2500 1000, issue 16's "4 shards x 2,500 clients")
# Environment: SECAGG_BENCH_BUILD=debug uses .build/debug without building (quick checks at small sizes, e.g.
# `SECAGG_BENCH_BUILD=debug Benchmarks/sharded.sh 4 50 100`); SECAGG_BENCH_BASELINE=0 skips the single coordinator;
# SECAGG_BENCH_KEEP=1 keeps the temporary folder (configurations, logs, results) and prints its path.
#
# Enrollment: in production clients are enrolled through the root (`secagg admin enroll` against secagg-root), which
# places each key on a shard by rendezvous hashing and enrolls it there. Enrolling S x C keys one admin exchange at a
# time would dominate this benchmark, and hashing would give uneven cohorts, so here the split is fixed: shard i's
# clients are swarm i's (seed i+1, keys checked disjoint) and are enrolled through that shard's own enrollment file.
#
# Shards get no tasks in their configuration: the root pushes its task to each over the admin channel. A root's
# task says `start: on_request` (secagg-root refuses one that does not), so a shard starts its round only when the
# root asks, never because a full queue or an elapsed gather window would start one not bound to the global round.
# Everything binds 127.0.0.1; every wait is bounded; the script stops its processes and removes its folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
S=${1:-4}; C=${2:-2500}; M=${3:-1000}
N=$((S * C))
build=${SECAGG_BENCH_BUILD:-release}
baseline=${SECAGG_BENCH_BASELINE:-1}
if [ "$build" = release ]; then
    "$root/scripts/setup"
    swift build -c release --package-path "$root" >&2
fi
bin="$root/.build/$build"
for tool in secagg secaggd secagg-root; do [ -x "$bin/$tool" ] || { echo "sharded.sh: no $bin/$tool" >&2; exit 1; }; done
task=sharded
deadline=1800                       # the root's global.deadline_seconds

work=$(mktemp -d)
timed=()                            # pids of the /usr/bin/time wrappers started here
# The process /usr/bin/time runs (its only child).
child_of() { cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}' || true; }
cleanup() {
    local pid child
    for pid in "${timed[@]}"; do
        child=$(child_of "$pid")
        [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
    done
    for _ in $(seq 20); do
        local alive=0
        for pid in "${timed[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.5
    done
    for pid in "${timed[@]}"; do
        child=$(child_of "$pid")
        [ -n "$child" ] && kill -KILL "$child" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "${SECAGG_BENCH_KEEP:-0}" != 0 ]; then echo "sharded.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "sharded.sh: $*" >&2; for log in "$work"/*.log; do [ -s "$log" ] && { echo "--- $log (tail)" >&2; tail -5 "$log" >&2; }; done; exit 1; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 3))" "$1" "$2"; }

# start NAME COMMAND...: runs COMMAND under /usr/bin/time in the background (stdout NAME.out, stderr NAME.log, peak
# RSS in KiB in NAME.rss); the wrapper's pid is in $started.
start() {
    local name=$1; shift
    /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" > "$work/$name.out" 2> "$work/$name.log" &
    started=$!
    timed+=("$started")
}
# wait_exit PID SECONDS: waits for PID (a wrapper) to end, at most SECONDS; 1 if it is still running.
wait_exit() {
    local end=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.5
    done
    wait "$1" 2>/dev/null || true
}
# stop PID: SIGTERM to the process under the wrapper PID (a graceful stop), then waits for both (60 s at most).
stop() {
    local child; child=$(child_of "$1")
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
    wait_exit "$1" 60 || fail "process $child did not stop within 60 s of SIGTERM"
}
rss_mib() { python3 -c "import sys; print(round(int(open(sys.argv[1]).read().split()[-1]) / 1024, 1))" "$work/$1.rss"; }
json_field() { python3 -c "import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])" "$1"; }

# Free 127.0.0.1 ports below the ephemeral range: a client and an admin port per shard, the root's admin port, and
# the single coordinator's port.
read -r -a ports <<< "$(python3 - $((2 * S + 2)) <<'PY'
import random, socket, sys
want, found = int(sys.argv[1]), []
for _ in range(10000):
    if len(found) == want:
        break
    port = random.randint(20000, 32000)
    if port in found:
        continue
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    found.append(port)
print(*found)
PY
)"
[ ${#ports[@]} -eq $((2 * S + 2)) ] || fail "could not find $((2 * S + 2)) free ports"
root_port=${ports[$((2 * S))]}; single_port=${ports[$((2 * S + 1))]}

# Keys: the root's, an operator's (admitted by the root and, to watch the queues, by the shards), one per shard.
"$bin/secagg" keygen --out "$work/root.key" > "$work/root.pub"
"$bin/secagg" keygen --out "$work/operator.key" > "$work/operator.pub"
root_pub=$(cat "$work/root.pub"); operator_pub=$(cat "$work/operator.pub")
admin() { local daemon=$1 key=$2; shift 2; "$bin/secagg" admin "$@" --daemon "$daemon" --identity "$work/operator.key" --coordinator-key "$key"; }

max_input=$(( (2**32 - 1) / C ))
task_yaml() {   # task_yaml MIN MAX MAX_INPUT EXTRA-LINE
    cat <<YAML
  - name: $task
    dimension: $M
    bits: 32
    max_input: $3
    graph: auto
    min_clients: $1
    max_clients: $2
    gather_seconds: 3600
    timeouts: {advertise: 600, share: 600, masked: 600, consistency: 600, unmask: 600}
$4
YAML
}
limits="limits: {max_connections: $((C + 64)), max_connections_per_address: $((C + 64)), idle_timeout_seconds: 1800}"

shards_yaml=""
for i in $(seq 0 $((S - 1))); do
    dir="$work/shard-$i"; mkdir -p "$dir"
    "$bin/secagg" keygen --out "$dir/shard.key" > "$dir/shard.pub"
    "$bin/secagg" bench swarm --print-keys --clients "$C" --seed $((i + 1)) > "$dir/enrolled.txt"
    cat > "$dir/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: ${ports[$((2 * i))]}}
identity: shard.key
enrollment: {file: enrolled.txt}
results_directory: results
store: {path: secaggd.sqlite}
admin: {host: 127.0.0.1, port: ${ports[$((2 * i + 1))]}, keys: [$root_pub, $operator_pub]}
$limits
YAML
    shards_yaml+="  - {name: shard-$i, admin: 127.0.0.1:${ports[$((2 * i + 1))]}, key: $(cat "$dir/shard.pub"), clients: 127.0.0.1:${ports[$((2 * i))]}}"$'\n'
done
duplicates=$(cat "$work"/shard-*/enrolled.txt | awk '{print $1}' | sort | uniq -d | wc -l)
[ "$duplicates" -eq 0 ] || fail "the swarms' keys overlap ($duplicates keys on two shards)"

cat > "$work/root.yaml" <<YAML
identity: root.key
admin: {host: 127.0.0.1, port: $root_port, keys: [$operator_pub]}
store: {path: root.sqlite}
shards:
$shards_yaml
global: {min_cohorts: $S, min_clients: $N, deadline_seconds: $deadline, admin_timeout_seconds: 30}
tasks:
$(task_yaml "$C" "$C" "$max_input" "    start: on_request")
YAML

# --- The sharded run -------------------------------------------------------------------------------------------------
shard_pids=()
for i in $(seq 0 $((S - 1))); do
    start "shard-$i" "$bin/secaggd" --config "$work/shard-$i/secaggd.yaml" --log-level notice
    shard_pids+=("$started")
done
start root "$bin/secagg-root" --config "$work/root.yaml" --log-level info
root_pid=$started

# The root pushes the task to each shard on its first contact (it checks them every 5 s).
for i in $(seq 0 $((S - 1))); do
    end=$((SECONDS + 120))
    until admin "127.0.0.1:${ports[$((2 * i + 1))]}" "$(cat "$work/shard-$i/shard.pub")" task show "$task" --timeout 5 \
        > /dev/null 2>&1; do
        [ $SECONDS -lt $end ] || fail "shard-$i has no task '$task' 120 s after the root started"
        kill -0 "$root_pid" 2>/dev/null || fail "secagg-root exited"
        sleep 1
    done
done

swarm_pids=()
for i in $(seq 0 $((S - 1))); do
    start "swarm-$i" "$bin/secagg" bench swarm --clients "$C" --dimension "$M" --max-input "$max_input" --dropout 0 --seed $((i + 1)) \
        --coordinator "127.0.0.1:${ports[$((2 * i))]}" --coordinator-key "$(cat "$work/shard-$i/shard.pub")" \
        --task "$task" --results "$work/shard-$i/results"
    swarm_pids+=("$started")
done

# Until every shard has its C clients queued (each swarm connects, handshakes and joins all of its clients).
swarms_started=$(now)
for i in $(seq 0 $((S - 1))); do
    end=$((SECONDS + 900)); waiting=0
    while [ "$waiting" != "$C" ]; do
        [ $SECONDS -lt $end ] || fail "shard-$i has $waiting of $C clients waiting after 900 s"
        kill -0 "${swarm_pids[$i]}" 2>/dev/null || fail "swarm-$i exited before its clients were queued"
        sleep 1
        waiting=$(admin "127.0.0.1:${ports[$((2 * i + 1))]}" "$(cat "$work/shard-$i/shard.pub")" task show "$task" \
            2>/dev/null | json_field waiting 2>/dev/null || echo 0)
    done
done
queued_seconds=$(elapsed "$swarms_started" "$(now)")

t0=$(now)
global=$(admin "127.0.0.1:$root_port" "$root_pub" global start "$task" | json_field global_round) \
    || fail "the root refused the global round"
state=running; end=$((SECONDS + deadline + 60))
while [ "$state" = running ]; do
    [ $SECONDS -lt $end ] || fail "global round $global still running after $((deadline + 60)) s"
    sleep 0.5
    admin "127.0.0.1:$root_port" "$root_pub" global show "$global" > "$work/global.json" 2>/dev/null || continue
    state=$(json_field state < "$work/global.json")
done
global_seconds=$(elapsed "$t0" "$(now)")

for i in $(seq 0 $((S - 1))); do
    wait_exit "${swarm_pids[$i]}" 300 || fail "swarm-$i still running 300 s after the global round ended"
done
stop "$root_pid"
for pid in "${shard_pids[@]}"; do stop "$pid"; done

# --- The single coordinator ------------------------------------------------------------------------------------------
if [ "$baseline" != 0 ]; then
    dir="$work/single"; mkdir -p "$dir"
    "$bin/secagg" keygen --out "$dir/coordinator.key" > "$dir/coordinator.pub"
    "$bin/secagg" bench swarm --print-keys --clients "$N" > "$dir/enrolled.txt"
    cat > "$dir/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: $single_port}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
store: {path: secaggd.sqlite}
limits: {max_connections: $((N + 64)), max_connections_per_address: $((N + 64)), idle_timeout_seconds: 1800}
tasks:
$(task_yaml "$N" "$N" $(( (2**32 - 1) / N )) "    rounds: 1")
YAML
    start single "$bin/secaggd" --config "$dir/secaggd.yaml" --log-level notice
    single_pid=$started
    end=$((SECONDS + 60))
    until python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" \
        "$single_port" 2>/dev/null; do
        [ $SECONDS -lt $end ] || fail "the single coordinator does not listen after 60 s"
        kill -0 "$single_pid" 2>/dev/null || fail "the single coordinator exited"
        sleep 0.5
    done
    start single-swarm "$bin/secagg" bench swarm --clients "$N" --dimension "$M" --dropout 0 \
        --coordinator "127.0.0.1:$single_port" --coordinator-key "$(cat "$dir/coordinator.pub")" --task "$task" \
        --results "$dir/results"
    single_swarm_pid=$started
    wait_exit "$single_swarm_pid" $((deadline + 900)) || fail "the single coordinator's swarm still runs after $((deadline + 900)) s"
    wait_exit "$single_pid" 60 || stop "$single_pid"    # rounds: 1, so it stops by itself
fi

# --- Report ----------------------------------------------------------------------------------------------------------
python3 - "$work" "$S" "$C" "$M" "$global_seconds" "$queued_seconds" "$baseline" <<'PY'
import glob, json, os, sys
work, S, C, M = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
global_seconds, queued_seconds, baseline = float(sys.argv[5]), float(sys.argv[6]), sys.argv[7] != "0"
def rss(name):
    return round(int(open(os.path.join(work, name + ".rss")).read().split()[-1]) / 1024, 1)
def swarm(name):
    return json.loads(open(os.path.join(work, name + ".out")).read().strip().splitlines()[-1])
def result(folder):
    files = glob.glob(os.path.join(work, folder, "results", "sharded", "*.json"))
    files = [f for f in files if not f.endswith("privacy-ledger.json")]
    assert len(files) == 1, f"{folder}: {len(files)} result files"
    return json.load(open(files[0]))
record = json.load(open(os.path.join(work, "global.json")))
shards = [result(f"shard-{i}") for i in range(S)]
swarms = [swarm(f"swarm-{i}") for i in range(S)]
included = {c["shard"]: c for c in record.get("included", [])}
residues = [s.get("sum_residues", s.get("sum")) for s in shards]   # sum_residues only beside a signed sum
expected = [sum(r[k] for r in residues) for k in range(M)] if all(residues) else None
checks = {
    "released": record.get("state") == "released",
    "survivors": record.get("survivors") == S * C,
    "cohorts": record.get("cohorts") == S and len(included) == S,
    "cohort_rounds": all(included.get(f"shard-{i}", {}).get("round_id") == shards[i]["round_id"] for i in range(S)),
    "sum_is_sum_of_cohorts": expected is not None and record.get("sum") == expected,
    "cohort_sums_verified": all(s.get("verified") is True for s in swarms),
}
out = {
    "shards": S, "clients_per_shard": C, "clients": S * C, "dimension": M,
    "global_round_seconds": global_seconds, "clients_queued_seconds": queued_seconds,
    "shard_round_seconds": [round(s["wall_seconds"], 3) for s in shards],
    "shard_phase_seconds": [s["phase_seconds"] for s in shards],
    "shard_graph": [s["parameters"]["graph"] for s in shards],
    "swarm_wall_seconds": [round(s["wall_seconds"], 3) for s in swarms],
    "peak_rss_mib": {"root": rss("root"), **{f"shard-{i}": rss(f"shard-{i}") for i in range(S)},
                     **{f"swarm-{i}": rss(f"swarm-{i}") for i in range(S)}},
    "global_state": record.get("state"), "global_survivors": record.get("survivors"),
    "global_cohorts": record.get("cohorts"), "excluded": record.get("excluded"),
    "checks": checks,
}
if baseline:
    single, single_swarm = result("single"), swarm("single-swarm")
    out["single"] = {
        "round_seconds": round(single["wall_seconds"], 3), "phase_seconds": single["phase_seconds"],
        "graph": single["parameters"]["graph"],
        "swarm_wall_seconds": round(single_swarm["wall_seconds"], 3), "survivors": single["survivor_count"],
        "verified": single_swarm.get("verified"),
        "peak_rss_mib": {"secaggd": rss("single"), "swarm": rss("single-swarm")},
    }
    checks["single_verified"] = single_swarm.get("verified") is True and single["survivor_count"] == S * C
rows = [("secagg-root", "root", out["peak_rss_mib"]["root"], "")]
for i in range(S):
    rows.append((f"secaggd shard-{i}", f"{C} clients", out["peak_rss_mib"][f"shard-{i}"], f"round {out['shard_round_seconds'][i]:.1f} s"))
for i in range(S):
    rows.append((f"swarm-{i}", f"{C} clients", out["peak_rss_mib"][f"swarm-{i}"], f"wall {out['swarm_wall_seconds'][i]:.1f} s"))
if baseline:
    rows.append(("secaggd single", f"{S * C} clients", out["single"]["peak_rss_mib"]["secaggd"], f"round {out['single']['round_seconds']:.1f} s"))
    rows.append(("swarm single", f"{S * C} clients", out["single"]["peak_rss_mib"]["swarm"], f"wall {out['single']['swarm_wall_seconds']:.1f} s"))
print(f"{S} shards x {C} clients, M = {M}: global round {global_seconds:.1f} s (start to released), state {record.get('state')}, "
      f"{record.get('survivors')} survivors in {record.get('cohorts')} cohorts"
      + (f"; one coordinator with {S * C} clients: round {out['single']['round_seconds']:.1f} s" if baseline else ""))
print(f"{'process':<18} {'serves':<15} {'peak RSS MiB':>12}  time")
for name, serves, mib, time in rows:
    print(f"{name:<18} {serves:<15} {mib:>12.1f}  {time}")
print("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in checks.items()))
print(json.dumps(out, sort_keys=True))
sys.exit(0 if all(checks.values()) else 1)
PY
