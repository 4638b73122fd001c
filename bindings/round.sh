#!/usr/bin/env bash
# Runs one real round of secaggd on loopback: three `secagg participate` clients and one client under test, then
# checks that the released sum includes the tested client's vector.
#
# Usage: bindings/round.sh BIN_DIR NAME COMMAND
#   BIN_DIR  the folder with secagg and secaggd (the coordinator side; may use the Swift toolchain)
#   NAME     a label for messages
#   COMMAND  a shell command for the client under test, run with these variables set:
#            SECAGG_HOST, SECAGG_PORT, SECAGG_COORDINATOR (host:port), SECAGG_COORDINATOR_KEY (hex),
#            SECAGG_IDENTITY (an enrolled identity file), SECAGG_TASK, SECAGG_INPUT (500,600,700,800)
#            It must exit 0 when its round completed.
set -euo pipefail
bin="$(cd "${1:?usage: round.sh BIN_DIR NAME COMMAND}" && pwd)"
name="${2:?usage: round.sh BIN_DIR NAME COMMAND}"
command="${3:?usage: round.sh BIN_DIR NAME COMMAND}"
work="$(mktemp -d)"
daemon=""
cleanup() {
    if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

coordinator_key="$("$bin/secagg" keygen --out "$work/coordinator.key")"
: > "$work/enrolled.txt"
for client in swift-0 swift-1 swift-2 tested; do
    "$bin/secagg" keygen --out "$work/$client.key" >> "$work/enrolled.txt"
done
cat > "$work/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: 0}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
tasks:
  - name: round
    dimension: 4
    max_input: 1000
    graph: complete
    min_clients: 4
    max_clients: 4
    rounds: 1
    gather_seconds: 0.2
    timeouts: {advertise: 20, share: 20, masked: 20, unmask: 20}
YAML
"$bin/secaggd" --config "$work/secaggd.yaml" > "$work/secaggd.log" 2>&1 &
daemon=$!
port=""
for _ in $(seq 200); do
    port="$(grep -o 'address=127.0.0.1:[0-9]*' "$work/secaggd.log" | head -1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "round.sh: secaggd did not start:" >&2; cat "$work/secaggd.log" >&2; exit 1; }

clients=()
for index in 0 1 2; do
    echo "[$((index + 1)),$((index + 10)),$((index + 100)),7]" > "$work/input-$index.json"
    "$bin/secagg" participate --coordinator "127.0.0.1:$port" --coordinator-key "$coordinator_key" \
        --identity "$work/swift-$index.key" --task round --input "$work/input-$index.json" --connect-attempts 20 \
        > "$work/swift-$index.out" 2>&1 &
    clients+=($!)
done
status=0
SECAGG_HOST=127.0.0.1 SECAGG_PORT="$port" SECAGG_COORDINATOR="127.0.0.1:$port" SECAGG_COORDINATOR_KEY="$coordinator_key" \
    SECAGG_IDENTITY="$work/tested.key" SECAGG_TASK=round SECAGG_INPUT=500,600,700,800 \
    bash -c "$command" || status=$?
for client in "${clients[@]}"; do wait "$client" || true; done
if [ "$status" -ne 0 ]; then
    echo "round.sh: $name client exited $status; secaggd log:" >&2; tail -20 "$work/secaggd.log" >&2; exit 1
fi
wait "$daemon"
daemon=""

# 1+2+3 + 500, 10+11+12 + 600, 100+101+102 + 700, 7*3 + 800
sum="$(cat "$work"/results/round/*.json | grep -o '"sum":\[[0-9,]*\]')"
tested="$("$bin/secagg" key show "$work/tested.key")"
if [ "$sum" != '"sum":[506,633,1003,821]' ] || ! grep -q "\"$tested\"" "$work"/results/round/*.json; then
    echo "round.sh: $name: unexpected release $sum (or the tested client is not among the survivors)" >&2
    exit 1
fi
echo "round.sh: $name client completed a round with 3 Swift clients, sum $sum"
