#!/usr/bin/env python3
"""Kill campaign against a real `secaggd` (issue 13): SIGKILL at random moments while clients run rounds, restart,
and check that nothing was lost, doubled, wrong, or reported wrongly to a client.

Driven by Benchmarks/crash.sh (which builds the binaries). N `secagg participate` clients re-join one task round after
round, each with its own fixed input; the daemon is killed K times, each time after a random delay, and restarted at
once on the same store, audit log and results folder. Afterwards it is stopped with SIGTERM and these must hold:

- every restart came up (the store/audit cross-check passed) and the last stop exited 0;
- `secagg audit verify --store` accepts the log against the store;
- every released round has exactly one result file and one `round_finished` record, and vice versa;
- each released sum is exactly the sum of its survivors' inputs (mod 2^32);
- no client was told "completed" for a round that did not release with its input, and no client's input was
  released while the client was told anything but "completed" or "unknown" (exit 4: it must not resubmit blindly).

Prints a JSON summary; exits 1 if any check failed.
"""
import argparse
import glob
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--dimension", type=int, default=100_000)
    parser.add_argument("--max-delay", type=float, default=8.0, help="longest wait before a kill, in seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work, secagg, secaggd = args.work, os.path.join(args.bin, "secagg"), os.path.join(args.bin, "secaggd")
    os.makedirs(work, exist_ok=True)
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()

    coordinator_pub = run(secagg, "keygen", "--out", f"{work}/coordinator.key")
    inputs, identities = {}, {}
    with open(f"{work}/enrolled.txt", "w") as enrolled:
        for index in range(1, args.clients + 1):
            public = run(secagg, "keygen", "--out", f"{work}/client-{index}.key")
            identities[public] = index
            enrolled.write(f"{public} client-{index}\n")
            inputs[index] = [(index * 131 + j * 7) % 1000 for j in range(args.dimension)]
            with open(f"{work}/input-{index}.bin", "wb") as f:
                f.write(struct.pack(f"<{args.dimension}Q", *inputs[index]))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(f"{work}/secaggd.yaml", "w") as f:
        f.write(f"""listen: {{host: 127.0.0.1, port: {port}}}
identity: coordinator.key
enrollment: {{file: enrolled.txt}}
results_directory: results
store: {{path: state/store.sqlite}}
audit: {{path: state/audit.log}}
limits: {{handshake_timeout_seconds: 5, idle_timeout_seconds: 120}}
tasks:
  - name: crash
    dimension: {args.dimension}
    bits: 32
    max_input: 1000
    graph: complete
    min_clients: {max(3, args.clients // 2)}
    max_clients: {args.clients}
    gather_seconds: 1
    timeouts: {{advertise: 5, share: 5, masked: 10, unmask: 5}}
""")
    os.makedirs(f"{work}/state", mode=0o700, exist_ok=True)

    problems: list[str] = []
    log = open(f"{work}/secaggd.log", "ab")

    def start_daemon() -> subprocess.Popen:
        daemon = subprocess.Popen([secaggd, "--config", "secaggd.yaml", "--log-level", "info"], cwd=work,
                                  stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise RuntimeError(f"secaggd exited with {daemon.returncode} while starting (see {work}/secaggd.log)")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return daemon
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("secaggd did not listen within 30 s")

    stop = threading.Event()
    runs: list[dict] = []
    runs_lock = threading.Lock()

    def client(index: int) -> None:
        while not stop.is_set():
            started = time.time()
            result = subprocess.run(
                [secagg, "participate", "--coordinator", f"127.0.0.1:{port}", "--coordinator-key", coordinator_pub,
                 "--identity", f"{work}/client-{index}.key", "--task", "crash", "--input", f"{work}/input-{index}.bin",
                 "--raw", "--json", "--connect-attempts", "100"],
                capture_output=True, text=True)
            receipt = None
            for line in result.stdout.splitlines():
                if line.startswith("{"):
                    receipt = json.loads(line)
            with runs_lock:
                runs.append({"client": index, "exit": result.returncode, "receipt": receipt, "started": started,
                             "ended": time.time(), "error": result.stderr.strip().splitlines()[-1:] })
            if result.returncode not in (0, 3):
                time.sleep(0.5)

    daemon = start_daemon()
    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(1, args.clients + 1)]
    for worker in workers:
        worker.start()
    started = time.time()
    kills = 0
    try:
        for kill in range(args.kills):
            time.sleep(rng.uniform(0.2, args.max_delay))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            kills += 1
            print(f"kill {kill + 1}/{args.kills} after {time.time() - started:.0f} s", file=sys.stderr)
            daemon = start_daemon()
    except RuntimeError as error:
        problems.append(f"restart after kill {kills}: {error}")
    if not problems:
        time.sleep(30)  # rounds after the last restart, then a clean stop
    # Clients stop re-joining; those queued for a round that can no longer gather enough clients wait until the
    # daemon stops, so give the rounds in flight a while, then stop the daemon, then collect the clients.
    stop.set()
    deadline = time.monotonic() + 30
    for worker in workers:
        worker.join(timeout=max(0.1, deadline - time.monotonic()))
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            if daemon.wait(timeout=60) != 0:
                problems.append(f"secaggd exited with {daemon.returncode} on SIGTERM")
        except subprocess.TimeoutExpired:
            daemon.kill()
            problems.append("secaggd did not stop within 60 s of SIGTERM")
    for worker in workers:
        worker.join(timeout=120)
        if worker.is_alive():
            problems.append("a client did not end within 120 s of the daemon's stop")

    verify = subprocess.run([secagg, "audit", "verify", f"{work}/state/audit.log", "--store", f"{work}/state/store.sqlite"],
                            capture_output=True, text=True)
    if verify.returncode != 0:
        problems.append(f"audit verify: {(verify.stdout + verify.stderr).strip()[-400:]}")

    finished: dict[str, dict] = {}
    with open(f"{work}/state/audit.log") as f:
        for line in f:
            record = json.loads(line)
            if record.get("kind") == "round_finished":
                if record["round"] in finished:
                    problems.append(f"round {record['round']} finished twice in the audit log")
                finished[record["round"]] = record
    results = {}
    for path in glob.glob(f"{work}/results/crash/*.json"):
        result = json.load(open(path))
        results[result["round_id"]] = result
    released = {r for r, rec in finished.items() if rec.get("outcome") == "released"}
    released_files = {r for r, res in results.items() if res.get("outcome") == "completed"}
    for r in released - released_files:
        problems.append(f"round {r} released (audit) but has no result file")
    for r in released_files - released:
        problems.append(f"round {r} has a result file but no released round_finished record")
    wrong = 0
    expected_sums: dict[frozenset, list[int]] = {}  # most rounds share a survivor set
    for r in released_files:
        result = results[r]
        survivors = frozenset(identities[s] for s in result["survivor_identities"])
        if survivors not in expected_sums:
            expected_sums[survivors] = [sum(column) % 2**32 for column in zip(*(inputs[i] for i in survivors))]
        if result["sum"] != expected_sums[survivors]:
            wrong += 1
            problems.append(f"round {r}: the released sum is not the sum of its {len(survivors)} survivors' inputs")

    # What the clients were told against what was released.
    told_completed = 0
    unknown = 0
    included = {(identities[s], r) for r in released_files for s in results[r]["survivor_identities"]}
    answered = set()
    for entry in runs:
        receipt = entry["receipt"] or {}
        if entry["exit"] == 0:
            told_completed += 1
            key = (entry["client"], receipt.get("round_id"))
            answered.add(key)
            if key not in included:
                problems.append(f"client {entry['client']} was told round {key[1]} completed with its input, "
                                "but no such release holds it")
        elif entry["exit"] == 4:
            unknown += 1
    # An input counted in a release must have been reported to its client as completed or, at most, unknown (a run
    # that exits 4 names no round, so per client: releases it was not told of ≤ its unknown answers).
    for index in range(1, args.clients + 1):
        silent = sorted(r for (c, r) in included - answered if c == index)
        unknowns = sum(1 for e in runs if e["client"] == index and e["exit"] == 4)
        if len(silent) > unknowns:
            problems.append(f"client {index}: its input is in {len(silent)} releases it was not told of "
                            f"(and it had {unknowns} 'unknown' answers): {silent[:3]}")

    exits: dict[str, int] = {}
    for entry in runs:
        exits[str(entry["exit"])] = exits.get(str(entry["exit"]), 0) + 1
    summary = {
        "kills": kills, "clients": args.clients, "dimension": args.dimension,
        "wall_seconds": round(time.time() - started, 1),
        "rounds_finished": len(finished), "rounds_released": len(released_files),
        "rounds_recovered": sum(1 for rec in finished.values() if rec.get("recovered")),
        "wrong_sums": wrong, "client_runs": len(runs), "client_exits": exits,
        "told_completed": told_completed, "told_unknown": unknown,
        "problems": problems,
    }
    print(json.dumps(summary, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
