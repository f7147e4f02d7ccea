"""mvkv.errors: every gRPC status code, given as the enum (unary calls) or
as its number (Session's in-band code), maps to one class carrying that code
and the message; snapshot too old is told apart from other OUT_OF_RANGE."""

import unittest

import grpc

import harness
import mvkv
from mvkv import errors

# The classes proto/kv.proto's codes must map to (the rest follow the names
# of grpc.StatusCode).
DOCUMENTED = {
    grpc.StatusCode.NOT_FOUND: mvkv.NotFound,
    grpc.StatusCode.ABORTED: mvkv.Aborted,
    grpc.StatusCode.FAILED_PRECONDITION: mvkv.FailedPrecondition,
    grpc.StatusCode.INVALID_ARGUMENT: mvkv.InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: mvkv.OutOfRange,
    grpc.StatusCode.RESOURCE_EXHAUSTED: mvkv.ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: mvkv.Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: mvkv.Unauthenticated,
    grpc.StatusCode.DEADLINE_EXCEEDED: mvkv.DeadlineExceeded,
}


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        super().__init__()
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


class ErrorsTest(unittest.TestCase):

    def test_every_code_maps_to_its_own_class_by_enum_and_by_number(self):
        seen = set()
        for code in grpc.StatusCode:
            if code is grpc.StatusCode.OK:
                continue
            by_enum = errors.from_status(code, "why")
            by_number = errors.from_status(code.value[0], "why")
            for e in (by_enum, by_number):
                self.assertIsInstance(e, mvkv.MvkvError)
                self.assertIs(e.code, code)
                self.assertEqual(e.message, "why")
                self.assertEqual(type(e).__name__.lower(),
                                 code.name.replace("_", "").lower())
            self.assertIs(type(by_enum), type(by_number))
            seen.add(type(by_enum))
        self.assertEqual(len(seen), len(grpc.StatusCode) - 1)

    def test_documented_codes_raise_the_documented_classes(self):
        for code, cls in DOCUMENTED.items():
            e = errors.from_status(code.value[0], "m")
            self.assertIs(type(e), cls, code)
            with self.assertRaises(cls):
                raise e

    def test_snapshot_too_old_is_an_out_of_range_told_apart_by_its_message(self):
        old = errors.from_status(grpc.StatusCode.OUT_OF_RANGE,
                                 "snapshot too old: transaction 7 held ...")
        self.assertIsInstance(old, mvkv.SnapshotTooOld)
        self.assertIsInstance(old, mvkv.OutOfRange)
        self.assertIs(old.code, grpc.StatusCode.OUT_OF_RANGE)
        other = errors.from_status(11, "snapshot_ts 5 cannot be served")
        self.assertIsInstance(other, mvkv.OutOfRange)
        self.assertNotIsInstance(other, mvkv.SnapshotTooOld)

    def test_a_number_no_code_has_is_unknown_and_says_the_number(self):
        e = errors.from_status(99, "odd")
        self.assertIsInstance(e, mvkv.Unknown)
        self.assertIn("99", e.message)
        self.assertIn("odd", e.message)

    def test_rpc_errors_map_like_in_band_codes(self):
        e = errors.from_rpc_error(
            FakeRpcError(grpc.StatusCode.ABORTED, "conflict on key \"k\""))
        self.assertIsInstance(e, mvkv.Aborted)
        self.assertEqual(e.message, "conflict on key \"k\"")
        self.assertEqual(str(e), "ABORTED: conflict on key \"k\"")
        self.assertIsInstance(errors.from_rpc_error(grpc.RpcError()),
                              mvkv.Unknown)


if __name__ == "__main__":
    harness.main()
