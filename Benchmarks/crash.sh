#!/usr/bin/env bash
# Kill campaign (issue 13): `secaggd` in its own process is SIGKILLed K times at random moments while N
# `secagg participate` clients run rounds of dimension M, and restarted at once on the same store; then checks that
# every restart came up, the audit log verifies against the store, every release has its result file and audit
# record, every released sum is exact, and no client was told anything but the truth about its input
# (Benchmarks/crash.py has the list). Prints a JSON summary; exits 1 on any problem.
# Usage: Benchmarks/crash.sh [K] [N] [M]   (defaults: 30 kills, 10 clients, dimension 100000)
# SECAGG_BIN_DIR=... skips the release build; CRASH_WORK=DIR keeps the daemon's state, log and results there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
K=${1:-30}; N=${2:-10}; M=${3:-100000}
if [[ -z "${SECAGG_BIN_DIR:-}" ]]; then
    "$root/scripts/setup"
    swift build -c release --package-path "$root" >&2
fi
bin=$(cd "${SECAGG_BIN_DIR:-$root/.build/release}" && pwd)
if [[ -n "${CRASH_WORK:-}" ]]; then
    work=$CRASH_WORK; mkdir -p "$work"
else
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
python3 "$root/Benchmarks/crash.py" --bin "$bin" --work "$work" --kills "$K" --clients "$N" --dimension "$M"
