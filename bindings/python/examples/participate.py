#!/usr/bin/env python3
"""Joins one round of a secagg coordinator with a vector and prints how it ended.

    python3 participate.py HOST:PORT COORDINATOR_KEY_HEX IDENTITY_FILE TASK V1,V2,...

Exit status: 0 completed, 3 aborted, 1 any error (its message names its class, e.g. NotEnrolledError).
"""

import sys

import secagg


def main(arguments):
    if len(arguments) != 5:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    address, key, identity_path, task, values = arguments
    host, _, port = address.rpartition(":")
    with secagg.Identity.load(identity_path) as identity:
        try:
            receipt = secagg.participate(identity, secagg.Coordinator(host, int(port), key), task,
                                         [int(value) for value in values.split(",")],
                                         options=secagg.Options(connect_attempts=20))
        except secagg.NotEnrolledError:
            sys.exit("not enrolled: give the coordinator's operator this key: " + identity.public_key_hex)
        except secagg.SecAggError as error:
            sys.exit("%s: %s" % (type(error).__name__, error))
    round_id = receipt.round_id.hex() if receipt.round_id else "-"
    if receipt.completed:
        print("round %s completed: %d inputs in the sum" % (round_id, receipt.survivors))
        return 0
    print("round %s aborted (0x%04x): %s" % (round_id, receipt.abort_code, receipt.message))
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
