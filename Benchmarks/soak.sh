#!/usr/bin/env bash
# A soak over real loopback TCP: `secaggd` in its own process runs R rounds back to back; `secagg bench soak`
# re-joins N clients each round with random dropouts at random phases, one client per fault kind that trickles
# its bytes, vanishes without closing or resets its connection, and unauthenticated connections that stall the
# handshake. Every round must release the exact sum of its survivors or abort with a tooFew… code; the daemon must
# exit 0 after the last round. Prints the JSON summary and a markdown table; exits 1 on any failure.
# Usage: Benchmarks/soak.sh [R] [N] [M] [TIMEOUT]   (defaults: 40 rounds, 50 clients, dimension 10000, 3 s phases)
# SECAGG_BIN_DIR=... skips the release build and uses those binaries; SOAK_FAULTS (clients per fault kind, 1),
# SOAK_STALLED (stalled handshakes per round, 2) and SOAK_DROPOUT (0.1) change the mix.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
R=${1:-40}; N=${2:-50}; M=${3:-10000}; T=${4:-3}
if [[ -z "${SECAGG_BIN_DIR:-}" ]]; then
    "$root/scripts/setup"
    swift build -c release --package-path "$root" >&2
fi
bin=${SECAGG_BIN_DIR:-$root/.build/release}
# SOAK_WORK=DIR keeps the daemon's log, results and store there.
if [[ -n "${SOAK_WORK:-}" ]]; then
    work=$SOAK_WORK; mkdir -p "$work"; trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
else
    work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fi
"$bin/secagg" keygen --out "$work/coordinator.key" > "$work/coordinator.pub"
"$bin/secagg" bench soak --print-keys --clients "$N" > "$work/enrolled.txt"
max_input=$(( (2**32 - 1) / N ))
cat > "$work/secaggd.yaml" <<YAML
listen: {host: 127.0.0.1, port: 0}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
limits: {max_connections: $((N + 64)), handshake_timeout_seconds: $T, idle_timeout_seconds: 600}
tasks:
  - name: soak
    dimension: $M
    bits: 32
    max_input: $max_input
    graph: auto
    dropout_rate: 0.3
    min_clients: $((N / 2))
    max_clients: $N
    rounds: $R
    gather_seconds: 2
    timeouts: {advertise: $T, share: $T, masked: $T, unmask: $T}
YAML
"$bin/secaggd" --config "$work/secaggd.yaml" --log-level info > "$work/secaggd.log" 2>&1 &
daemon=$!
port=""
for _ in $(seq 100); do
    port=$(grep -o 'address=127.0.0.1:[0-9]*' "$work/secaggd.log" | head -1 | cut -d: -f2 || true)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || { cat "$work/secaggd.log" >&2; echo "secaggd did not start" >&2; exit 1; }
status=0
"$bin/secagg" bench soak --rounds "$R" --clients "$N" --dimension "$M" --max-input "$max_input" \
    --faults ${SOAK_FAULTS:-1} --dropout ${SOAK_DROPOUT:-0.1} --stalled ${SOAK_STALLED:-2} --trickle-ms 1 --abort-every 10 --round-timeout $((8 * T + 30)) \
    --port "$port" --coordinator-key "$(cat "$work/coordinator.pub")" --task soak --results "$work/results" \
    --daemon-pid "$daemon" --max-drift-mib 32 > "$work/soak.json" || status=1
daemon_status=0
for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$daemon" 2>/dev/null; then
    kill "$daemon"; daemon_status=124
else
    wait "$daemon" || daemon_status=$?
fi
[[ $daemon_status -eq 0 ]] || { echo "secaggd exited with $daemon_status" >&2; tail -20 "$work/secaggd.log" >&2; status=1; }
cat "$work/soak.json"
python3 - "$work/soak.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
aborted = ", ".join(f"{k} {v}" for k, v in sorted(s["rounds_aborted"].items())) or "none"
print(f"""
| soak | result |
|---|---|
| rounds (clients, dimension) | {s['rounds_run']} of {s['rounds_planned']} ({s['clients']}, {s['dimension']}) in {s['wall_seconds']:.0f} s |
| completed with the exact sum | {s['rounds_completed']} |
| aborted (reason) | {aborted} |
| failed / wrong sums | {s['rounds_failed']} / {s['wrong_sums']} |
| stalled handshakes closed by the daemon | {s['stalled_closed_by_daemon']} of {s['stalled_connections']} |
| daemon RSS start / peak / average / end | {s.get('rss_start_mib', 0):.0f} / {s.get('rss_peak_mib', 0):.0f} / {s.get('rss_average_mib', 0):.0f} / {s.get('rss_end_mib', 0):.0f} MiB |
| RSS drift (last vs first quarter of rounds) | {s.get('rss_drift_mib', 0):+.1f} MiB |""")
for p in s["problems"]: print("problem:", p)
PY
exit $status
