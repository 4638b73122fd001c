#!/usr/bin/env bash
# secagg against Flower's SecAgg+ on the workloads of ../shared/peers/flower (about 7 minutes, mostly Flower).
# Usage: Benchmarks/compare-flower.sh [--json] [--workload N,M,K,T,D ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SECAGG_SHARED:-$root/../shared}
venv=${VENV:-/tmp/flwr-venv}
"$root/scripts/setup"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import flwr" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q flwr==1.42.0
fi
swift build -c release --product secagg --package-path "$root" >&2
exec python3 "$root/Benchmarks/compare_flower.py" --secagg "$root/.build/release/secagg" \
    --flower-python "$venv/bin/python" --flower-bench "$shared/peers/flower/bench_secaggplus.py" "$@"
