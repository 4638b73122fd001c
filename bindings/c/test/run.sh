#!/usr/bin/env bash
# Builds the C test against secagg.h and libsecaggc.so, then runs it twice: the local checks, and a real round of
# secaggd on loopback with three `secagg participate` clients and the C client, checking the released sum.
# Usage: bindings/c/test/run.sh BUILD_DIR   (the folder holding libsecaggc.so, secagg and secaggd)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
bin="$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)"
work="$(mktemp -d)"
daemon=""
cleanup() {
    if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I "$root/Sources/CSecAgg" "$root/bindings/c/test/secagg_test.c" \
    -L "$bin" -lsecaggc -Wl,-rpath,"$bin" -lpthread -o "$work/secagg_test"
"$work/secagg_test" "$work"

# A coordinator, three Swift clients and one C client, all enrolled.
coordinator_key="$("$bin/secagg" keygen --out "$work/coordinator.key")"
: > "$work/enrolled.txt"
for name in swift-0 swift-1 swift-2 c; do
    "$bin/secagg" keygen --out "$work/$name.key" >> "$work/enrolled.txt"
done
cat > "$work/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: 0}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
tasks:
  - name: c-round
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
[ -n "$port" ] || { echo "secaggd did not start:" >&2; cat "$work/secaggd.log" >&2; exit 1; }

clients=()
for index in 0 1 2; do
    echo "[$((index + 1)),$((index + 10)),$((index + 100)),7]" > "$work/input-$index.json"
    "$bin/secagg" participate --coordinator "127.0.0.1:$port" --coordinator-key "$coordinator_key" \
        --identity "$work/swift-$index.key" --task c-round --input "$work/input-$index.json" --connect-attempts 20 \
        > "$work/swift-$index.out" 2>&1 &
    clients+=($!)
done
"$work/secagg_test" "$work" 127.0.0.1 "$port" "$coordinator_key" "$work/c.key" c-round 500,600,700,800
for client in "${clients[@]}"; do wait "$client"; done
wait "$daemon"
daemon=""

# 1+2+3 + 500, 10+11+12 + 600, 100+101+102 + 700, 7*3 + 800
sum="$(cat "$work"/results/c-round/*.json | grep -o '"sum":\[[0-9,]*\]')"
if [ "$sum" != '"sum":[506,633,1003,821]' ]; then
    echo "unexpected release: $sum" >&2
    exit 1
fi
echo "C client: round completed with 3 Swift clients, sum $sum"
