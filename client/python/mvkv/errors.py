"""The one error model of the mvkv client.

Every failure the server reports, whichever way it travels, is raised as a
subclass of MvkvError carrying the gRPC status code (`.code`, a
grpc.StatusCode) and the server's message (`.message`):

  * unary and streamed calls fail with a gRPC status (grpc.RpcError);
  * a Session operation fails in band (SessionResponse.code, an integer
    google.rpc.Code, with SessionResponse.message), and the stream goes on;
  * a Session stream that ends or breaks fails with its final status, or
    UNAVAILABLE when it ended without one.

All three become the same classes, so `except mvkv.Aborted` catches a
conflict from a handle's CommitTxn, a Session commit and a CompareAndCommit
alike. proto/kv.proto documents which call returns which code:

  NotFound            missing key (get), unknown transaction handle
  Aborted             conflict, or a txn the server rolled back (lease,
                      max age); retrying may succeed
  FailedPrecondition  operation on a finished txn, commit in progress,
                      begin inside an open one
  InvalidArgument     bad key, value, range, isolation level or compare
  OutOfRange          a snapshot_ts the server cannot serve
    SnapshotTooOld    OUT_OF_RANGE whose message starts "snapshot too old":
                      the engine released the txn's snapshot; a new txn may
                      succeed (the one OUT_OF_RANGE that is retryable)
  ResourceExhausted   too many open txns, request too large, server busy
  Unavailable         shutting down, connection errors, a broken stream
  Unauthenticated     missing or wrong bearer token
  DeadlineExceeded    the call's timeout passed

The other canonical codes have their classes too (Cancelled, Unknown,
AlreadyExists, PermissionDenied, Unimplemented, Internal, DataLoss), so no
status is ever left unmapped. Thread-safe: plain values and functions.
"""

import grpc

SNAPSHOT_TOO_OLD_PREFIX = "snapshot too old"


class MvkvError(Exception):
    """Base of every error the client raises for a status from the server."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.code.name}: {self.message}"


class Cancelled(MvkvError):
    code = grpc.StatusCode.CANCELLED


class Unknown(MvkvError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(MvkvError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(MvkvError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(MvkvError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(MvkvError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(MvkvError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(MvkvError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(MvkvError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(MvkvError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(MvkvError):
    code = grpc.StatusCode.OUT_OF_RANGE


class SnapshotTooOld(OutOfRange):
    """OUT_OF_RANGE "snapshot too old: ...": retryable with a new txn."""


class Unimplemented(MvkvError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(MvkvError):
    code = grpc.StatusCode.INTERNAL


class Unavailable(MvkvError):
    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(MvkvError):
    code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(MvkvError):
    code = grpc.StatusCode.UNAUTHENTICATED


_CLASS_BY_CODE = {
    cls.code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded,
                NotFound, AlreadyExists, PermissionDenied, ResourceExhausted,
                FailedPrecondition, Aborted, OutOfRange, Unimplemented,
                Internal, Unavailable, DataLoss, Unauthenticated)
}

# google.rpc.Code numbers (SessionResponse.code) to grpc.StatusCode.
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def from_status(code, message):
    """The error for a status: `code` a grpc.StatusCode or its number.

    REQUIRES: the status is not OK. A number no status code has becomes
    Unknown, with the number in the message.
    """
    if not isinstance(code, grpc.StatusCode):
        number = int(code)
        code = _CODE_BY_NUMBER.get(number)
        if code is None:
            return Unknown(f"status code {number}: {message}")
    if (code is grpc.StatusCode.OUT_OF_RANGE and
            message.startswith(SNAPSHOT_TOO_OLD_PREFIX)):
        return SnapshotTooOld(message)
    return _CLASS_BY_CODE.get(code, Unknown)(message, code)


def from_rpc_error(error):
    """The error for a failed gRPC call (a grpc.RpcError)."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else None
    if code is None:
        return Unknown(str(error))
    return from_status(code, details or "")
