"""Typed exceptions: one class per result code of secagg.h, all subclasses of SecAggError."""


class SecAggError(Exception):
    """A failed call. `code` is the C result code (SECAGG_E_*), `detail` what the library said about this failure.

    Catch SecAggError for every failure of the library, or a subclass for one kind. Codes this package does not
    know (a newer library) raise SecAggError itself.
    """

    code = None
    #: True for refusals that may succeed on a later attempt (queue full, shutting down, already joined).
    retry_later = False

    def __init__(self, message, detail="", code=None):
        if code is not None:
            self.code = code
        self.message = message
        self.detail = detail
        super().__init__(message + (": " + detail if detail else ""))


class InvalidArgumentError(SecAggError):
    """A NULL or closed handle, a wrong length, a value out of range."""
    code = 1


class BufferTooSmallError(SecAggError):
    """An output buffer was too small."""
    code = 2


class IdentityError(SecAggError):
    """A malformed identity file, seed or public key."""
    code = 3


class FileAccessError(SecAggError):
    """A file could not be read or written, exists already, or is readable by others (SECAGG_E_IO)."""
    code = 4


class UnreachableError(SecAggError):
    """No TCP connection to the coordinator after every attempt."""
    code = 5


class HandshakeError(SecAggError):
    """The Noise handshake failed, or the coordinator does not hold the pinned key."""
    code = 6


class JoinRefusedError(SecAggError):
    """The coordinator refused the join for a reason this library does not know (the detail has its code)."""
    code = 7


class ProtocolError(SecAggError):
    """The coordinator sent a malformed or disallowed message."""
    code = 8


class ConnectionLostError(SecAggError):
    """The connection closed before the round ended, before the masked input was sent."""
    code = 9


class TimedOutError(SecAggError):
    """A timeout expired (handshake, admission, idle or total)."""
    code = 10


class CancelledError(SecAggError):
    """The call was cancelled (CancelToken.cancel, or KeyboardInterrupt during participate)."""
    code = 11


class StateError(SecAggError):
    """The call is not allowed in the object's current state."""
    code = 12


class InternalError(SecAggError):
    """An unexpected failure inside the library (a bug)."""
    code = 13


class NotEnrolledError(SecAggError):
    """This identity is not enrolled at the coordinator (or, with an enrollment authority, not endorsed)."""
    code = 14


class RevokedError(SecAggError):
    """This identity's enrollment was revoked."""
    code = 15


class UnknownTaskError(SecAggError):
    """The coordinator has no task of that name."""
    code = 16


class QueueFullError(SecAggError):
    """The task's waiting queue is full; try again later."""
    code = 17
    retry_later = True


class ShuttingDownError(SecAggError):
    """The coordinator is stopping, or the task runs no more rounds; try again later."""
    code = 18
    retry_later = True


class AlreadyJoinedError(SecAggError):
    """This identity already has a connection, or waits for or is in a round; try again later."""
    code = 19
    retry_later = True


class DroppedError(SecAggError):
    """The coordinator dropped this client; its input is in no released sum, so submitting it again is safe."""
    code = 20


class OutcomeUnknownError(SecAggError):
    """The connection was lost after the masked input was sent and the coordinator could not say whether it was
    counted: do not submit the input again blindly."""
    code = 21


ERRORS_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError, BufferTooSmallError, IdentityError, FileAccessError, UnreachableError, HandshakeError,
        JoinRefusedError, ProtocolError, ConnectionLostError, TimedOutError, CancelledError, StateError,
        InternalError, NotEnrolledError, RevokedError, UnknownTaskError, QueueFullError, ShuttingDownError,
        AlreadyJoinedError, DroppedError, OutcomeUnknownError,
    )
}


def error_for(code, message, detail=""):
    """The exception for a C result code (SecAggError itself for a code this package does not know)."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return SecAggError(message, detail, code=code)
    return cls(message, detail)
