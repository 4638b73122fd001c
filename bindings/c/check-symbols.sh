#!/usr/bin/env bash
# Fails unless the functions declared in secagg.h are exactly the secagg_* functions libsecaggc.so exports.
# Usage: bindings/c/check-symbols.sh [path/to/libsecaggc.so]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
library="${1:-$root/.build/debug/libsecaggc.so}"
header="$root/Sources/CSecAgg/secagg.h"
declared="$(cc -E -P "$header" | grep -oE '\bsecagg_[a-z0-9_]+[[:space:]]*\(' | tr -d ' (' | sort -u)"
exported="$(nm -D --defined-only "$library" | awk '$2 == "T" && $3 ~ /^secagg_/ { print $3 }' | sort -u)"
if [ "$declared" != "$exported" ]; then
    echo "secagg.h and $library disagree (< declared only, > exported only):" >&2
    diff <(echo "$declared") <(echo "$exported") >&2 || true
    exit 1
fi
echo "check-symbols: $(echo "$declared" | wc -l) functions declared and exported"
