#!/usr/bin/env python3
"""Simulated rounds at scale (in-process, release build), each next to its crypto floor (Benchmarks/floor.py).

Default workloads (issue 11): N=10,000 with M=1,000 and N=100,000 with M=100, automatic (k, t), 5 % dropouts at
random phases. Prints one Markdown row per workload: wall and CPU time, the floor and the ratio to it, peak RSS,
and the mean and largest download and upload of a surviving client.

Usage: scale.py --secagg PATH [--workload N,M,D ...] [--json]
"""
import argparse
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from floor import fastest, floor  # noqa: E402

WORKLOADS = ["10000,1000,0.05", "100000,100,0.05"]


def run_json(command, stream_stderr=False):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=None if stream_stderr else subprocess.PIPE,
                               text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-2000:] + (completed.stderr or "")[-2000:])
        raise SystemExit(f"{' '.join(command)} failed with exit code {completed.returncode}")
    line = [text for text in completed.stdout.strip().splitlines() if text.startswith("{")][-1]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(line), cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secagg", required=True)
    parser.add_argument("--workload", action="append", help="N,M,D")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    primitives, _ = run_json([args.secagg, "bench", "primitives", "--json"])
    mask, _ = run_json([args.secagg, "bench", "mask", "--json", "--lanes", "1000000", "--repetitions", "5"])
    rows = []
    for workload in args.workload or WORKLOADS:
        n, m, d = workload.split(",")
        sys.stderr.write(f"scale: N={n} M={m} D={d}\n")
        simulation, cpu = run_json([args.secagg, "simulate", "--clients", n, "--dimension", m, "--dropout", d,
                                    "--design-dropout", d, "--json", "--progress"], stream_stderr=True)
        after, _ = run_json([args.secagg, "bench", "primitives", "--json"])
        primitives = fastest(primitives, after)
        bound = floor(simulation, primitives, mask["raw_chacha20_mib_s"], cores)
        rows.append({"N": int(n), "M": int(m), "D": float(d), "k": simulation["neighbors"],
                     "t": simulation["threshold"], "verified": simulation["verified"],
                     "wall_s": simulation["wall_seconds"], "cpu_s": cpu, "peak_rss_mib": simulation["peak_rss_mib"],
                     "bytes_per_client": simulation["bytes_per_client"], **bound,
                     "ratio_to_floor": simulation["wall_seconds"] / bound["floor_wall_s"]})
    if args.json:
        print(json.dumps({"primitives": primitives, "chacha20_mib_s": mask["raw_chacha20_mib_s"], "rows": rows},
                         indent=2))
        return
    print(f"primitives: X25519 {primitives['x25519_agreement_us']:.1f} µs, Ed25519 verify "
          f"{primitives['ed25519_verify_us']:.1f} µs, sign {primitives['ed25519_sign_us']:.1f} µs; ChaCha20 "
          f"{mask['raw_chacha20_mib_s']:.0f} MiB/s per core; {cores} cores")
    print("| N | M | k | t | wall s | CPU s | floor s (wall) | ratio | peak RSS MiB | down mean / max B | up mean B | exact |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        traffic = row["bytes_per_client"]
        print(f"| {row['N']:,} | {row['M']:,} | {row['k']} | {row['t']} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | "
              f"{row['floor_wall_s']:.1f} | {row['ratio_to_floor']:.2f}× | {row['peak_rss_mib']:.0f} | "
              f"{traffic['down']:.0f} / {traffic.get('down_max', 0)} | {traffic['up']:.0f} | {row['verified']} |")


if __name__ == "__main__":
    main()
