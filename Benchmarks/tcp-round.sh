#!/usr/bin/env bash
# A round over real loopback TCP with the coordinator in its own process (secaggd) and N clients in another
# (secagg bench swarm), next to the in-process simulation of the same round. Reports wall times and the
# coordinator's peak RSS. Usage: Benchmarks/tcp-round.sh [N] [M] [D]   (defaults: 1000 100000 0.1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000}; M=${2:-100000}; D=${3:-0.1}
"$root/scripts/setup"
swift build -c release --package-path "$root" >&2
bin="$root/.build/release"
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/secagg" keygen --out "$work/coordinator.key" > "$work/coordinator.pub"
"$bin/secagg" bench swarm --print-keys --clients "$N" > "$work/enrolled.txt"
max_input=$(( (2**32 - 1) / N ))
port=$(( 20000 + RANDOM % 20000 ))
cat > "$work/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: $port}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
limits: {max_connections: $((N + 64)), max_connections_per_address: $((N + 64)), idle_timeout_seconds: 900}
tasks:
  - name: bench
    dimension: $M
    bits: 32
    max_input: $max_input
    graph: auto
    dropout_rate: $D
    min_clients: $N
    max_clients: $N
    rounds: 1
    gather_seconds: 600
    timeouts: {advertise: 300, share: 300, masked: 300, unmask: 300}
YAML
/usr/bin/time -f "%M" -o "$work/secaggd.rss" "$bin/secaggd" --config "$work/secaggd.yaml" --log-level warning 2> "$work/secaggd.log" &
daemon=$!
sleep 1
"$bin/secagg" bench swarm --clients "$N" --dimension "$M" --dropout "$D" --drop-phase masked \
    --coordinator "127.0.0.1:$port" --coordinator-key "$(cat "$work/coordinator.pub")" --task bench \
    --results "$work/results" > "$work/swarm.json"
wait $daemon
cat "$work"/results/bench/*.json > "$work/round.json"
"$bin/secagg" simulate --clients "$N" --dimension "$M" --dropout "$D" --drop-phase masked --json > "$work/inprocess.json"
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
load = lambda name: json.load(open(os.path.join(work, name)))
swarm, round_, inproc = load("swarm.json"), load("round.json"), load("inprocess.json")
rss = int(open(os.path.join(work, "secaggd.rss")).read().split()[-1])
print(json.dumps({
    "clients": swarm["clients"], "dimension": swarm["dimension"], "dropout": swarm["dropout"],
    "tcp_round_seconds": round_["wall_seconds"], "tcp_client_wall_seconds": swarm["wall_seconds"],
    "tcp_verified": swarm.get("verified"), "tcp_survivors": round_["survivor_count"],
    "tcp_phase_seconds": round_["phase_seconds"],
    "inprocess_seconds": inproc["wall_seconds"], "inprocess_verified": inproc["verified"],
    "ratio_tcp_to_inprocess": round_["wall_seconds"] / inproc["wall_seconds"],
    "coordinator_peak_rss_mib": rss / 1024.0, "swarm_peak_rss_mib": swarm["peak_rss_mib"],
}, indent=2))
PY
