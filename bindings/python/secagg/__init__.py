"""secagg: the secure-aggregation client for Python, over libsecaggc's C ABI (ctypes, no compiled extension).

    import secagg
    identity = secagg.Identity.load("client.key")          # or Identity.generate() then .save(path)
    coordinator = secagg.Coordinator("127.0.0.1", 7461, "<coordinator public key, hex>")
    receipt = secagg.participate(identity, coordinator, "demo", [5, 10, 100, 1000])
    print(receipt.outcome, receipt.survivors)

Failures raise a subclass of SecAggError (NotEnrolledError, TimedOutError, ...), one per C result code.
The library is found through SECAGG_LIBRARY (a file or folder), then `pkg-config secagg`, then the dynamic
loader's path (see README).
"""

import ctypes
import dataclasses
import enum
import os
import threading

from . import _native
from ._native import LibraryNotFoundError
from .errors import *  # noqa: F401,F403 (the exception classes are part of this module's API)
from .errors import SecAggError, InternalError, InvalidArgumentError, error_for

__version__ = "0.2.0"

ABI_VERSION = _native.ABI_VERSION
SEED_BYTES = _native.SEED_BYTES
PUBLIC_KEY_BYTES = _native.PUBLIC_KEY_BYTES
ROUND_ID_BYTES = _native.ROUND_ID_BYTES


def _strerror(code):
    return _native.library().secagg_strerror(code).decode("utf-8", "replace")


def _check(code, detail=""):
    if code != 0:
        raise error_for(code, _strerror(code), detail)


def version():
    """The loaded library's version ("MAJOR.MINOR.PATCH")."""
    return _native.library().secagg_version().decode("ascii")


def abi_version():
    """The loaded library's C ABI version (equal to ABI_VERSION, or loading fails)."""
    return _native.library().secagg_abi_version()


def _key_bytes(key, name):
    """32 key bytes from bytes or a hex string."""
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.strip())
        except ValueError:
            raise InvalidArgumentError(_strerror(1), "%s is not hexadecimal" % name) from None
    key = bytes(key)
    if len(key) != PUBLIC_KEY_BYTES:
        raise InvalidArgumentError(_strerror(1), "%s must be %d bytes, not %d" % (name, PUBLIC_KEY_BYTES, len(key)))
    return key


class Identity:
    """A client's Ed25519 key pair. Its secret is wiped by close() (or when collected); use it as a context manager."""

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)
        self._library = _native.library()

    @classmethod
    def _from_call(cls, function, *arguments, detail=""):
        handle = ctypes.c_void_p()
        _check(function(ctypes.byref(handle), *arguments), detail)
        if not handle.value:
            raise InternalError(_strerror(13), "the library returned no handle")
        return cls(handle.value)

    @classmethod
    def generate(cls):
        """A new identity from libsodium's CSPRNG."""
        return cls._from_call(_native.library().secagg_identity_generate)

    @classmethod
    def from_seed(cls, seed):
        """The identity with the given 32-byte seed."""
        seed = bytes(seed)
        return cls._from_call(_native.library().secagg_identity_from_seed, _native.byte_buffer(seed), len(seed))

    @classmethod
    def load(cls, path):
        """Loads an identity file (secagg-identity-v1, mode 0600), as `secagg keygen` writes it."""
        return cls._from_call(_native.library().secagg_identity_load, os.fsencode(path), detail=os.fspath(path))

    def _raw(self):
        if not self._handle.value:
            raise InvalidArgumentError(_strerror(1), "the identity is closed")
        return self._handle

    def save(self, path):
        """Writes the identity to a new file with mode 0600; never overwrites one (FileAccessError)."""
        _check(self._library.secagg_identity_save(self._raw(), os.fsencode(path)), os.fspath(path))

    @property
    def seed(self):
        """A copy of the 32-byte secret seed."""
        out = (ctypes.c_uint8 * SEED_BYTES)()
        _check(self._library.secagg_identity_seed(out, SEED_BYTES, self._raw()))
        return bytes(out)

    @property
    def public_key(self):
        """The 32-byte Ed25519 public key, the one a coordinator enrolls."""
        out = (ctypes.c_uint8 * PUBLIC_KEY_BYTES)()
        _check(self._library.secagg_identity_public_key(out, PUBLIC_KEY_BYTES, self._raw()))
        return bytes(out)

    @property
    def public_key_hex(self):
        """The public key as 64 lowercase hex digits (the enrollment file's format)."""
        return self.public_key.hex()

    def close(self):
        """Releases the handle and wipes the secret; calling it again does nothing."""
        if self._handle.value:
            self._library.secagg_identity_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


def generate_identity(path=None):
    """A new identity, saved to `path` (mode 0600, never overwriting) when one is given."""
    identity = Identity.generate()
    if path is not None:
        identity.save(path)
    return identity


def load_identity(path):
    """The identity in the file at `path`."""
    return Identity.load(path)


def save_identity(identity, path):
    """Writes `identity` to a new file at `path` (mode 0600)."""
    identity.save(path)


def public_key(identity_or_path):
    """The hex public key of an Identity or of the identity file at a path (what `secagg key show` prints)."""
    if isinstance(identity_or_path, Identity):
        return identity_or_path.public_key_hex
    with Identity.load(identity_or_path) as identity:
        return identity.public_key_hex


class CancelToken:
    """Stops a blocking participate() from another thread: cancel() is safe from any thread, any number of times,
    and permanent (every later call given the token fails with CancelledError at once)."""

    def __init__(self):
        self._library = _native.library()
        handle = ctypes.c_void_p()
        _check(self._library.secagg_cancel_create(ctypes.byref(handle)))
        self._handle = handle
        self._cancelled = threading.Event()

    def cancel(self):
        self._cancelled.set()
        if self._handle.value:
            self._library.secagg_cancel_trigger(self._handle)

    @property
    def cancelled(self):
        return self._cancelled.is_set()

    def __del__(self):
        # Only reached when no call holds the token (participate keeps a reference while it runs).
        try:
            if self._handle.value:
                self._library.secagg_cancel_free(self._handle)
                self._handle = ctypes.c_void_p()
        except Exception:
            pass


@dataclasses.dataclass
class Policy:
    """What this client requires of the coordinator's rounds; rounds that break it are refused (aborted)."""

    min_threshold: int = 2            # smallest Shamir threshold accepted
    min_survivors: int = 3            # smallest number of survivors accepted in any phase
    require_active_mode: bool = False  # join only rounds with the consistency check
    enrollment_authority: object = None  # 32 bytes or hex: every neighbour must carry its endorsement
    min_local_noise_variance: float = 0.0  # > 0: join only distributed-noise rounds adding at least this variance here

    @classmethod
    def default(cls):
        """The library's defaults."""
        raw = _native.Policy()
        _check(_native.library().secagg_client_policy_default(ctypes.byref(raw)))
        return cls(min_threshold=raw.min_threshold, min_survivors=raw.min_survivors,
                   require_active_mode=bool(raw.require_active_mode),
                   min_local_noise_variance=raw.min_local_noise_variance)

    def _raw(self):
        raw = _native.Policy()
        raw.min_threshold = self.min_threshold
        raw.min_survivors = self.min_survivors
        raw.require_active_mode = 1 if self.require_active_mode else 0
        if self.enrollment_authority is not None:
            raw.has_enrollment_authority = 1
            raw.enrollment_authority[:] = list(_key_bytes(self.enrollment_authority, "enrollment_authority"))
        raw.min_local_noise_variance = float(self.min_local_noise_variance)
        return raw


@dataclasses.dataclass
class Options:
    """Timeouts (seconds) and retries of participate(); None and 0 mean the library's defaults."""

    policy: object = None            # a Policy; None: Policy.default()
    connect_attempts: int = 0        # TCP connection attempts with backoff (default 5)
    handshake_timeout: float = None  # the Noise handshake and the join answer (default 10 s)
    admission_timeout: float = None  # connected, waiting for a round to start (default 600 s)
    idle_timeout: float = None       # in a round, waiting for the coordinator's next message (default 300 s)
    total_timeout: float = None      # the whole call (default: none)

    def _raw(self):
        def milliseconds(seconds):
            if not seconds or seconds <= 0:
                return 0
            return max(1, min(int(seconds * 1000), 2**32 - 1))

        raw = _native.ParticipateOptions()
        raw.connect_attempts = self.connect_attempts
        raw.handshake_timeout_ms = milliseconds(self.handshake_timeout)
        raw.admission_timeout_ms = milliseconds(self.admission_timeout)
        raw.idle_timeout_ms = milliseconds(self.idle_timeout)
        raw.total_timeout_ms = milliseconds(self.total_timeout)
        return raw


@dataclasses.dataclass
class Coordinator:
    """Where a client joins rounds: address and the pinned public key (32 bytes, or 64 hex digits)."""

    host: str
    port: int
    public_key: object


class Outcome(enum.IntEnum):
    COMPLETED = _native.OUTCOME_COMPLETED  # the sum was released with this client's input in it
    ABORTED = _native.OUTCOME_ABORTED      # the round aborted: abort_code and message say why


@dataclasses.dataclass
class Receipt:
    """How a round ended for this client."""

    outcome: Outcome
    survivors: int         # COMPLETED: the number of inputs in the released sum
    abort_code: int        # ABORTED: the spec's abort code (SPEC 9.1), e.g. 0x0204
    message: str           # ABORTED: the reason
    round_id: bytes = None
    participant: int = None

    @property
    def completed(self):
        return self.outcome == Outcome.COMPLETED


def participate(identity, coordinator, task, input, policy=None, options=None, cancel=None):
    """Joins the next round of `task` at the coordinator with `input` (integers in 0...the task's max_input),
    runs it to its end and returns the Receipt (completed or aborted). Blocks until the round ends for this
    client, a timeout expires, or `cancel` (a CancelToken) is triggered; KeyboardInterrupt also cancels the round
    (the client tells the coordinator it leaves) and is then re-raised.

    `policy` overrides options.policy. Raises a SecAggError subclass when no round outcome was reached:
    NotEnrolledError, RevokedError, UnknownTaskError, QueueFullError, ..., DroppedError, OutcomeUnknownError.
    """
    library = _native.library()
    options = options if options is not None else Options()
    policy = policy if policy is not None else options.policy
    key = _key_bytes(coordinator.public_key, "the coordinator's public key")
    values = [int(value) for value in input]
    if any(value < 0 or value >= 2**64 for value in values):
        raise InvalidArgumentError(_strerror(1), "input entries must be in 0...2^64-1")
    c_input = (ctypes.c_uint64 * len(values))(*values) if values else None
    raw_policy = ctypes.byref(policy._raw()) if policy is not None else None
    raw_options = options._raw()
    if not isinstance(identity, Identity):
        raise InvalidArgumentError(_strerror(1), "identity must be an Identity")
    handle = identity._raw()
    token = cancel if cancel is not None else CancelToken()
    receipt = _native.Receipt()
    result = {}

    def call():
        result["code"] = library.secagg_participate(
            ctypes.byref(receipt), handle, coordinator.host.encode("utf-8"), int(coordinator.port),
            _native.byte_buffer(key), len(key), task.encode("utf-8"), c_input, len(values), raw_policy,
            ctypes.byref(raw_options), token._handle)

    # The blocking call runs on a helper thread (ctypes releases the GIL) so that the caller's thread stays
    # responsive to KeyboardInterrupt, which then cancels the round.
    worker = threading.Thread(target=call, name="secagg-participate", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        token.cancel()
        worker.join()
        raise
    code = result.get("code", 13)
    message = receipt.message.decode("utf-8", "replace")
    _check(code, message)
    if receipt.outcome not in (_native.OUTCOME_COMPLETED, _native.OUTCOME_ABORTED):
        raise InternalError(_strerror(13), "the call succeeded without an outcome")
    return Receipt(
        outcome=Outcome(receipt.outcome),
        survivors=receipt.survivors,
        abort_code=receipt.abort_code,
        message=message,
        round_id=bytes(receipt.round_id) if receipt.has_round_id else None,
        participant=receipt.participant if receipt.has_participant else None,
    )
