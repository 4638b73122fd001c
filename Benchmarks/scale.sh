#!/usr/bin/env bash
# Simulated rounds at N = 10,000 (M = 1,000) and N = 100,000 (M = 100), each against its crypto floor: wall and CPU
# time, ratio to the floor, peak RSS, bytes per surviving client (about 15 minutes, mostly the 100,000-client round).
# Usage: Benchmarks/scale.sh [--json] [--workload N,M,D ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup"
swift build -c release --product secagg --package-path "$root" >&2
exec python3 "$root/Benchmarks/scale.py" --secagg "$root/.build/release/secagg" "$@"
