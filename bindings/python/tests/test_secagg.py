"""Tests of the secagg Python package against the real library; test_round joins a real round of secaggd.

    SECAGG_BIN_DIR=<folder with secagg and secaggd> python3 -m unittest discover -s bindings/python/tests -v

The library is found as the package finds it (SECAGG_LIBRARY, pkg-config, the loader's path). Without
SECAGG_BIN_DIR the round test is skipped.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import secagg
from secagg import errors


class LibraryTests(unittest.TestCase):
    def test_versions(self):
        self.assertEqual(secagg.abi_version(), secagg.ABI_VERSION)
        self.assertEqual(secagg.version(), secagg.__version__)

    def test_one_exception_class_per_code(self):
        unknown = secagg._strerror(999)
        classes, messages = set(), set()
        for code in range(1, 22):
            error = errors.error_for(code, secagg._strerror(code), "detail")
            self.assertIsInstance(error, secagg.SecAggError)
            self.assertIsNot(type(error), secagg.SecAggError, "code %d has no class" % code)
            self.assertEqual(error.code, code)
            self.assertNotEqual(error.message, unknown)
            classes.add(type(error))
            messages.add(error.message)
            self.assertTrue(str(error).endswith(": detail"))
            self.assertEqual(error.retry_later, code in (17, 18, 19))
        self.assertEqual((len(classes), len(messages)), (21, 21))
        self.assertIsInstance(errors.error_for(14, "m"), secagg.NotEnrolledError)
        self.assertIsInstance(errors.error_for(21, "m"), secagg.OutcomeUnknownError)
        newer = errors.error_for(99, "m")
        self.assertIs(type(newer), secagg.SecAggError)
        self.assertEqual(newer.code, 99)

    def test_default_policy(self):
        policy = secagg.Policy.default()
        self.assertEqual(policy, secagg.Policy())
        self.assertEqual((policy.min_threshold, policy.min_survivors, policy.min_local_noise_variance), (2, 3, 0.0))
        policy.min_local_noise_variance = 2.5
        policy.enrollment_authority = "ab" * 32
        raw = policy._raw()
        self.assertEqual((raw.min_local_noise_variance, raw.has_enrollment_authority), (2.5, 1))
        self.assertEqual(bytes(raw.enrollment_authority), b"\xab" * 32)


class IdentityTests(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="secagg-python-")
        self.addCleanup(shutil.rmtree, self.folder, True)

    def test_round_trip(self):
        path = os.path.join(self.folder, "python.key")
        with secagg.generate_identity(path) as identity:
            key = identity.public_key
            self.assertEqual(len(key), 32)
            self.assertEqual(oct(os.stat(path).st_mode & 0o777), "0o600")
            with self.assertRaises(secagg.FileAccessError):
                identity.save(path)
            with secagg.Identity.from_seed(identity.seed) as again:
                self.assertEqual(again.public_key, key)
        with secagg.load_identity(path) as loaded:
            self.assertEqual(loaded.public_key, key)
        self.assertEqual(secagg.public_key(path), key.hex())

    def test_failures(self):
        with self.assertRaises(secagg.InvalidArgumentError):
            secagg.Identity.from_seed(b"\0" * 31)
        with self.assertRaises(secagg.FileAccessError):
            secagg.Identity.load(os.path.join(self.folder, "missing"))
        malformed = os.path.join(self.folder, "bad.key")
        with open(malformed, "w") as handle:
            handle.write("not an identity\n")
        os.chmod(malformed, 0o600)
        with self.assertRaises(secagg.IdentityError):
            secagg.Identity.load(malformed)
        identity = secagg.Identity.generate()
        identity.close()
        identity.close()
        with self.assertRaises(secagg.InvalidArgumentError):
            identity.public_key


class ParticipateFailureTests(unittest.TestCase):
    def setUp(self):
        self.identity = secagg.Identity.generate()
        self.addCleanup(self.identity.close)
        self.closed = secagg.Coordinator("127.0.0.1", 1, self.identity.public_key)

    def test_unreachable(self):
        with self.assertRaises(secagg.UnreachableError) as caught:
            secagg.participate(self.identity, self.closed, "t", [1], options=secagg.Options(connect_attempts=2))
        self.assertTrue(caught.exception.detail)

    def test_invalid_arguments(self):
        with self.assertRaises(secagg.InvalidArgumentError):
            secagg.participate(self.identity, secagg.Coordinator("127.0.0.1", 1, b"short"), "t", [1])
        with self.assertRaises(secagg.InvalidArgumentError):
            secagg.participate(self.identity, self.closed, "t", [-1])

    def test_total_timeout(self):
        options = secagg.Options(connect_attempts=1000, total_timeout=0.3)
        with self.assertRaises(secagg.TimedOutError):
            secagg.participate(self.identity, self.closed, "t", [1], options=options)

    def test_cancel_from_another_thread(self):
        token = secagg.CancelToken()
        threading.Timer(0.3, token.cancel).start()
        start = time.monotonic()
        with self.assertRaises(secagg.CancelledError):
            secagg.participate(self.identity, self.closed, "t", [1], options=secagg.Options(connect_attempts=1000),
                               cancel=token)
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(token.cancelled)


@unittest.skipUnless(os.environ.get("SECAGG_BIN_DIR"), "SECAGG_BIN_DIR (the folder with secagg and secaggd) is not set")
class RoundTests(unittest.TestCase):
    """Three `secagg participate` processes and this Python client in one round of secaggd."""

    task = "python-round"

    def setUp(self):
        self.bin = os.environ["SECAGG_BIN_DIR"]
        self.folder = tempfile.mkdtemp(prefix="secagg-python-round-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.processes = []
        self.addCleanup(self.stop_processes)

    def stop_processes(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    def keygen(self, name):
        output = subprocess.run([os.path.join(self.bin, "secagg"), "keygen", "--out", os.path.join(self.folder, name + ".key")],
                                check=True, stdout=subprocess.PIPE)
        return output.stdout.decode().strip()

    def start_daemon(self, enrolled):
        with open(os.path.join(self.folder, "enrolled.txt"), "w") as handle:
            handle.write("\n".join(enrolled) + "\n")
        with open(os.path.join(self.folder, "secaggd.yaml"), "w") as handle:
            handle.write(
                "listen: {host: 127.0.0.1, port: 0}\nidentity: coordinator.key\nenrollment: {file: enrolled.txt}\n"
                "results_directory: results\ntasks:\n  - name: %s\n    dimension: 4\n    max_input: 1000\n"
                "    graph: complete\n    min_clients: 4\n    max_clients: 4\n    rounds: 1\n    gather_seconds: 0.2\n"
                "    timeouts: {advertise: 20, share: 20, masked: 20, unmask: 20}\n" % self.task)
        log_path = os.path.join(self.folder, "secaggd.log")
        log = open(log_path, "w")
        self.addCleanup(log.close)
        daemon = subprocess.Popen([os.path.join(self.bin, "secaggd"), "--config", os.path.join(self.folder, "secaggd.yaml")],
                                  stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(daemon)
        for _ in range(200):
            with open(log_path) as handle:
                match = re.search(r"address=127\.0\.0\.1:(\d+)", handle.read())
            if match:
                return daemon, int(match.group(1))
            time.sleep(0.05)
        with open(log_path) as handle:
            self.fail("secaggd did not start:\n" + handle.read())

    def test_round(self):
        coordinator_key = self.keygen("coordinator")
        identity = secagg.Identity.generate()
        self.addCleanup(identity.close)
        enrolled = [identity.public_key_hex] + [self.keygen("swift-%d" % index) for index in range(3)]
        daemon, port = self.start_daemon(enrolled)
        coordinator = secagg.Coordinator("127.0.0.1", port, coordinator_key)
        quick = secagg.Options(connect_attempts=20, total_timeout=30)

        # Refusals before the round, each with its own exception class.
        with self.assertRaises(secagg.UnknownTaskError):
            secagg.participate(identity, coordinator, "no-such-task", [1, 2, 3, 4], options=quick)
        with secagg.Identity.generate() as stranger, self.assertRaises(secagg.NotEnrolledError):
            secagg.participate(stranger, coordinator, self.task, [1, 2, 3, 4], options=quick)

        inputs = [[1, 10, 100, 7], [2, 11, 101, 7], [3, 12, 102, 7]]
        swift = []
        for index, values in enumerate(inputs):
            path = os.path.join(self.folder, "swift-%d.json" % index)
            with open(path, "w") as handle:
                json.dump(values, handle)
            swift.append(subprocess.Popen(
                [os.path.join(self.bin, "secagg"), "participate", "--coordinator", "127.0.0.1:%d" % port,
                 "--coordinator-key", coordinator_key, "--identity", os.path.join(self.folder, "swift-%d.key" % index),
                 "--task", self.task, "--input", path, "--connect-attempts", "20"], stdout=subprocess.DEVNULL))
            self.processes.append(swift[-1])
        mine = [500, 600, 700, 800]
        receipt = secagg.participate(identity, coordinator, self.task, mine,
                                     policy=secagg.Policy(min_survivors=3),
                                     options=secagg.Options(connect_attempts=20, total_timeout=120))
        self.assertEqual(receipt.outcome, secagg.Outcome.COMPLETED, receipt)
        self.assertTrue(receipt.completed)
        self.assertEqual(receipt.survivors, 4)
        self.assertEqual(len(receipt.round_id), secagg.ROUND_ID_BYTES)
        for process in swift:
            self.assertEqual(process.wait(timeout=120), 0)
        self.assertEqual(daemon.wait(timeout=60), 0)

        with open(os.path.join(self.folder, "results", self.task, receipt.round_id.hex() + ".json")) as handle:
            result = json.load(handle)
        expected = [sum(column) for column in zip(mine, *inputs)]
        self.assertEqual(result["outcome"], "completed")
        self.assertEqual(result["sum"], expected)
        self.assertIn(identity.public_key_hex, result["survivor_identities"])


if __name__ == "__main__":
    unittest.main()
