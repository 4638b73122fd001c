#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora from the project's own known answers (scripts/fuzz calls this).

FuzzWire: every encoded message in protocol/vectors (any hex string under a key that names an encoding),
  once per plausible type selector. FuzzFraming: the same messages as a framed byte stream (u32 length, cut into
  2-byte-length frames). FuzzNoise: the handshake and transport messages of the Noise vectors the tests replay.
FuzzClient: the coordinator-to-client messages of the vectors.
FuzzConfiguration: every YAML file under deploy/ and the test configurations.
"""
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".fuzz/corpus")
ENCODING_KEYS = ("encoded", "encoding", "message", "bytes", "wire", "frame")
MAX_SEEDS = 4000


def write(target, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


def hex_values(node, key=""):
    """Yields (key, bytes) for hex strings found anywhere under node."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from hex_values(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from hex_values(value, key)
    elif isinstance(node, str) and len(node) >= 2 and len(node) % 2 == 0:
        try:
            yield key, bytes.fromhex(node)
        except ValueError:
            return


def framed(message, fragment=16):
    stream = len(message).to_bytes(4, "big") + message
    out = b""
    for start in range(0, len(stream), fragment):
        piece = stream[start:start + fragment]
        out += len(piece).to_bytes(2, "big") + piece
    return out


def main():
    messages = set()
    for path in sorted((ROOT / "protocol" / "vectors").rglob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key, value in hex_values(document):
            if any(word in key.lower() for word in ENCODING_KEYS) and 0 < len(value) <= 8192:
                messages.add(value)
    count = 0
    for message in sorted(messages):
        if count >= MAX_SEEDS:
            break
        for selector in range(18):
            write("FuzzWire", bytes([selector]) + message)
        write("FuzzFraming", bytes([15]) + framed(message))
        # Client messages among them are refused by the client's decoder: cheap, and the fuzzer drops them.
        write("FuzzClient", len(message).to_bytes(2, "big") + message)
        count += 1
    # Always something to start from, even without vectors.
    for selector in range(18):
        write("FuzzWire", bytes([selector, 1, 0, 0, 0, 0, 0, 0, 0]))
    write("FuzzFraming", bytes([0]) + framed(b"\x01\x02\x03"))
    write("FuzzClient", b"\x00\x01\x01")

    for path in sorted((ROOT / "Tests" / "SecAggNoiseTests" / "Vectors").glob("*.json")):
        for vector in json.loads(path.read_text()).get("vectors", []):
            for index, step in enumerate(vector.get("messages", [])):
                ciphertext = bytes.fromhex(step.get("ciphertext", ""))
                write("FuzzNoise", bytes([index % 3]) + ciphertext)
    write("FuzzNoise", bytes([0]) + bytes(32))

    for path in sorted(ROOT.glob("deploy/**/*.y*ml")) + sorted(ROOT.glob("Tests/**/*.yaml")):
        write("FuzzConfiguration", path.read_bytes())
    write("FuzzConfiguration", b"listen: {port: 1}\n")
    print(f"seed corpus in {OUT}: {len(messages)} messages from the vectors")


if __name__ == "__main__":
    main()
