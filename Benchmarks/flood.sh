#!/usr/bin/env bash
# Hostile load during an honest round over real loopback TCP (issue 13): `secaggd` in its own process runs one round
# of N honest clients (`secagg bench swarm`, dimension M) while `secagg bench flood` holds C unauthenticated
# connections that never start their handshake (from 127.0.0.2–127.0.0.9, re-opened whenever the coordinator closes
# them) and A enrolled announcers that, over and over, join a task's queue and announce 16 MiB, or announce 64 MiB as
# their first message, and stall. It probes /healthz twice a second and samples the daemon's memory.
# A first round runs without the flood (the daemon warmed up, as in service); its idle RSS after that round is the
# baseline. Checks: the round under flood releases the exact sum; the daemon's peak RSS during the flood stays within
# 2x the idle RSS; every /healthz probe answers within 1 s. The cold RSS (just started) is reported too.
# Usage: Benchmarks/flood.sh [N] [M] [C] [A]   (defaults: 200 clients, dimension 10000, 2000 connections, 16 announcers)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-200}; M=${2:-10000}; C=${3:-2000}; A=${4:-16}
if [[ -z "${SECAGG_BIN_DIR:-}" ]]; then
    "$root/scripts/setup"
    swift build -c release --package-path "$root" >&2
fi
bin=${SECAGG_BIN_DIR:-$root/.build/release}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/secagg" keygen --out "$work/coordinator.key" > "$work/coordinator.pub"
{ "$bin/secagg" bench swarm --print-keys --clients "$N"; "$bin/secagg" bench flood --print-keys --announcers "$A"; } > "$work/enrolled.txt"
max_input=$(( (2**32 - 1) / N ))
port=$(( 20000 + RANDOM % 20000 )); metrics=$(( port + 1 ))
cat > "$work/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: $port}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
metrics: {enabled: true, host: 127.0.0.1, port: $metrics}
limits: {max_connections: $((N + C + A + 64)), idle_timeout_seconds: 900}
tasks:
  - name: bench
    dimension: $M
    bits: 32
    max_input: $max_input
    graph: auto
    dropout_rate: 0.1
    min_clients: $N
    max_clients: $N
    rounds: 2
    gather_seconds: 600
    timeouts: {advertise: 120, share: 120, masked: 120, unmask: 120}
  - name: side
    dimension: 4
    max_input: 10
    graph: complete
    min_clients: $((A + 1000))
    max_clients: $((A + 1000))
YAML
"$bin/secaggd" --config "$work/secaggd.yaml" --log-level error 2> "$work/secaggd.log" &
daemon=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$metrics") 2>/dev/null && break; sleep 0.2; done
sleep 1
cold=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")
swarm() {
    "$bin/secagg" bench swarm --clients "$N" --dimension "$M" --dropout 0 \
        --coordinator "127.0.0.1:$port" --coordinator-key "$(cat "$work/coordinator.pub")" --task bench \
        --results "$work/results"
}
swarm > "$work/warmup.json"
sleep 2
"$bin/secagg" bench flood --connections "$C" --announcers "$A" --port "$port" --metrics-port "$metrics" \
    --coordinator-key "$(cat "$work/coordinator.pub")" --task side --daemon-pid "$daemon" --seconds 900 \
    --stop-file "$work/stop" > "$work/flood.json" &
flood=$!
sleep 12   # the flood reaches its steady state: every connection opened, the first handshake timeouts past
swarm > "$work/swarm.json"
# Stop the flood (its probes and samples end with it), then the daemon, which keeps serving the side task.
touch "$work/stop"; wait "$flood"
kill -TERM "$daemon"; wait "$daemon" || true
python3 - "$work" "$cold" <<'PY'
import json, os, sys
work = sys.argv[1]
swarm = json.load(open(os.path.join(work, "swarm.json")))
warmup = json.load(open(os.path.join(work, "warmup.json")))
flood = json.load(open(os.path.join(work, "flood.json")))
report = {"round_verified": swarm.get("verified"), "round_client_wall_seconds": swarm["wall_seconds"],
          "warmup_round_client_wall_seconds": warmup["wall_seconds"], "warmup_verified": warmup.get("verified"),
          "daemon_cold_rss_mib": int(sys.argv[2]) / 1024.0, **flood}
print(json.dumps(report, indent=2, sort_keys=True))
ok = (swarm.get("verified") is True and flood["peak_to_idle"] <= 2.0
      and flood["healthz_answered"] == flood["healthz_probes"] and flood["announcers_left_waiting"] == 0)
print("flood: " + ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
