#!/usr/bin/env python3
"""Runs secagg and Flower's SecAgg+ (flwr 1.42.0) on the same workloads, one after the other, and prints a table.

Workloads are those of ../shared/peers/flower/README.md: N clients, M entries (+1 weight entry), masks mod 2^32,
a neighbourhood of K nodes including the client itself, threshold T, floor(D*N) clients dropping after they sent
their shares. Flower runs its clients one after another in one process; secagg runs its clients on all cores,
so both the wall time and the CPU time (user + system) of secagg are reported, and secagg's wall time is set
against the round's crypto floor on this machine (Benchmarks/floor.py, primitives measured in the same run).

Usage: compare_flower.py --secagg PATH --flower-python PATH --flower-bench PATH [--workload N,M,K,T,D ...] [--json]
"""
import argparse
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from floor import fastest, floor  # noqa: E402

WORKLOADS = ["500,100000,19,10,0.1", "1000,10000,21,11,0.1"]


def run_child(command):
    """Runs a command, returns (last stdout line as JSON, child CPU seconds, child peak RSS MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-2000:] + completed.stderr[-2000:])
        raise SystemExit(f"{command[0]} failed with exit code {completed.returncode}")
    lines = [line for line in completed.stdout.strip().splitlines() if line.startswith("{")]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(lines[-1]), cpu, after.ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secagg", required=True)
    parser.add_argument("--flower-python", required=True)
    parser.add_argument("--flower-bench", required=True)
    parser.add_argument("--workload", action="append", help="N,M,K,T,D")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    primitives, _, _ = run_child([args.secagg, "bench", "primitives", "--json"])
    mask, _, _ = run_child([args.secagg, "bench", "mask", "--json", "--lanes", "1000000", "--repetitions", "5"])
    cores = os.cpu_count() or 1
    rows = []
    for workload in args.workload or WORKLOADS:
        n, m, k, t, d = workload.split(",")
        ours, ours_cpu, _ = run_child([args.secagg, "bench", "round", "--N", n, "--M", m, "--K", k, "--T", t,
                                       "--D", d, "--seed", args.seed])
        theirs, theirs_cpu, _ = run_child([args.flower_python, args.flower_bench, "--N", n, "--M", m, "--K", k,
                                           "--T", t, "--D", d, "--seed", args.seed])
        after, _, _ = run_child([args.secagg, "bench", "primitives", "--json"])
        primitives = fastest(primitives, after)
        bound = floor(ours, primitives, mask["raw_chacha20_mib_s"], cores)
        rows.append({
            "secagg_floor_wall_s": bound["floor_wall_s"],
            "secagg_ratio_to_floor": ours["wall_seconds"] / bound["floor_wall_s"],
            "workload": {"N": int(n), "M": int(m), "K": int(k), "T": int(t), "D": float(d)},
            "secagg_wall_s": ours["wall_seconds"], "secagg_cpu_s": ours_cpu,
            "secagg_peak_rss_mib": ours["peak_rss_mib"], "secagg_verified": ours["verified"],
            "secagg_phases_s": ours["phases"],
            "flower_wall_s": theirs["wall_s"], "flower_protocol_s": theirs["protocol_s"],
            "flower_peak_rss_mib": theirs["peak_rss_mb"], "flower_correct": theirs["correct"],
            "speedup_protocol_vs_wall": theirs["protocol_s"] / ours["wall_seconds"],
            "speedup_protocol_vs_cpu": theirs["protocol_s"] / ours_cpu,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"primitives: X25519 {primitives['x25519_agreement_us']:.1f} µs, Ed25519 verify "
          f"{primitives['ed25519_verify_us']:.1f} µs; ChaCha20 {mask['raw_chacha20_mib_s']:.0f} MiB/s; {cores} cores")
    print("| N | M | K | T | D | secagg wall s | crypto floor s | secagg / floor | secagg CPU s | secagg RSS MiB "
          "| Flower protocol s | Flower RSS MiB | speed-up (wall) | speed-up (CPU) | both correct |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        w = row["workload"]
        print(f"| {w['N']} | {w['M']} | {w['K']} | {w['T']} | {w['D']} | {row['secagg_wall_s']:.2f} | "
              f"{row['secagg_floor_wall_s']:.2f} | {row['secagg_ratio_to_floor']:.2f}× | {row['secagg_cpu_s']:.2f} | {row['secagg_peak_rss_mib']:.0f} | {row['flower_protocol_s']:.1f} | "
              f"{row['flower_peak_rss_mib']:.0f} | {row['speedup_protocol_vs_wall']:.0f}× | "
              f"{row['speedup_protocol_vs_cpu']:.0f}× | {row['secagg_verified'] and row['flower_correct']} |")


if __name__ == "__main__":
    main()
