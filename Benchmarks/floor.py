"""The crypto floor of a simulated round: its public-key operations and keystream bytes times this machine's
measured primitive costs, divided by the cores. A benchmark reports its wall time as a ratio to this floor.

Counted (SPEC §2.5, §5, §8.5), with n invited, U1/U2/U3(/U4) the phase survivors, k the neighbour count, M the
dimension and w = 4 (bits ≤ 32) or 8 bytes per lane:
  clients      U1 × (2 X25519 key generations + 1 Ed25519 signature)       advertise
               U1 × k × (1 Ed25519 verification + 1 X25519 agreement)      share keys (neighbours' signatures,
                                                                            share-encryption keys)
               U2 × k × 1 X25519 agreement + U2 × (k + 1) × M × w keystream masked input
               active mode: U3 × 1 signature + U4 × k × 1 verification     consistency check
  coordinator  n × 1 Ed25519 key validation (roster) + U1 × (1 verification + 2 X25519 low-order probes)
               U3 × M × w keystream (self masks)
               (U2 − U3) × (1 key generation + k·U3/U2 × (1 agreement + M × w keystream))  dropped clients' masks
Everything else (hashing, AEAD of 92-byte bundles, Shamir, encoding) is left out, so the floor is a lower bound.
"""


def floor(simulation, primitives, chacha_mib_s, cores):
    """simulation: `secagg simulate --json` (or `bench round`) output; primitives: `secagg bench primitives --json`;
    chacha_mib_s: raw ChaCha20 keystream rate of one core; returns seconds of CPU and of wall on `cores` cores."""
    survivors = simulation["survivors_per_phase"]
    n = simulation["clients"]
    u1 = survivors.get("advertise", n)
    u2 = survivors.get("share", u1)
    u3 = survivors.get("masked", u2)
    u4 = survivors.get("consistency", u3)
    k = simulation["neighbors"]
    m = simulation.get("lanes", simulation["dimension"])
    w = 4 if simulation["bits"] <= 32 else 8
    agree = primitives["x25519_agreement_us"] * 1e-6
    keygen = primitives["x25519_keygen_us"] * 1e-6
    sign = primitives["ed25519_sign_us"] * 1e-6
    verify = primitives["ed25519_verify_us"] * 1e-6
    validate = primitives["ed25519_validate_us"] * 1e-6
    byte = 1.0 / (chacha_mib_s * 1024 * 1024)
    clients = u1 * (2 * keygen + sign) + u1 * k * (verify + agree) + u2 * k * agree + u2 * (k + 1) * m * w * byte
    if simulation.get("mode") == "active":
        clients += u3 * sign + u4 * k * verify
    dropped = max(0, u2 - u3)
    pairs = dropped * k * (u3 / u2 if u2 else 0)
    coordinator = n * validate + u1 * (verify + 2 * agree) + u3 * m * w * byte
    coordinator += dropped * keygen + pairs * (agree + m * w * byte)
    cpu = clients + coordinator
    return {"floor_cpu_s": cpu, "floor_wall_s": cpu / cores, "cores": cores,
            "public_key_s": cpu - (u2 * (k + 1) + u3 + pairs) * m * w * byte}


def fastest(*measurements):
    """Per operation, the fastest of several `bench primitives --json` measurements: this machine's primitive costs
    vary by up to 1.5x between minutes, and a floor is a lower bound, so benchmarks measure before and after a
    workload and keep the faster figure."""
    return {key: min(m[key] for m in measurements) for key in measurements[0]}
