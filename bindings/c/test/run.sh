#!/usr/bin/env bash
# Builds the C test against secagg.h and libsecaggc as pkg-config finds them (package `secagg`: set
# PKG_CONFIG_PATH=<client package>/lib/pkgconfig), then runs it twice: the local checks, and a real round of
# secaggd on loopback with three `secagg participate` clients and the C client (bindings/round.sh), checking the
# released sum.
# Usage: bindings/c/test/run.sh BIN_DIR   (the folder holding secagg and secaggd)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
bin="$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

libdir="$(pkg-config --variable=libdir secagg)"
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags secagg) "$root/bindings/c/test/secagg_test.c" \
    $(pkg-config --libs secagg) -Wl,-rpath,"$libdir" -lpthread -o "$work/secagg_test"
"$work/secagg_test" "$work"
export SECAGG_C_TEST="$work/secagg_test" SECAGG_C_SCRATCH="$work"
"$root/bindings/round.sh" "$bin" C \
    '"$SECAGG_C_TEST" "$SECAGG_C_SCRATCH" "$SECAGG_HOST" "$SECAGG_PORT" "$SECAGG_COORDINATOR_KEY" "$SECAGG_IDENTITY" "$SECAGG_TASK" "$SECAGG_INPUT"'
