"""Bad input through the Python client: each INVALID_ARGUMENT, NOT_FOUND,
FAILED_PRECONDITION and RESOURCE_EXHAUSTED case that proto/kv.proto
documents raises its mvkv.errors class, whether the server reported it as a
call status or in band on a Session, and changes nothing (no commit, no key
written, no transaction left open)."""

import unittest

import harness
import mvkv
from mvkv._proto import kv_pb2

LONG_KEY = "k" * 65  # --max_key_bytes=64
BIG_VALUE = "v" * 1025  # --max_value_bytes=1024
HUGE = "v" * 70000  # --max_request_bytes=65536
MAX_OPEN = 8


class BadInputTest(harness.ServerTestCase):

    SERVER_ARGS = ("--txn_lease=5s", f"--max_open_txns={MAX_OPEN}",
                   "--max_key_bytes=64", "--max_value_bytes=1024",
                   "--max_request_bytes=65536")

    def setUp(self):
        super().setUp()
        harness.wait_no_open_txns(self.client)
        self.commits = self.client.stats()["commits"]
        self.addCleanup(self.assert_nothing_changed)

    def assert_nothing_changed(self):
        stats = harness.wait_no_open_txns(self.client)
        self.assertEqual(stats["commits"], self.commits)
        self.assertEqual(list(self.client.scan()), [])

    def assert_raises(self, cls, fn, *args, **kwargs):
        """fn(*args) raises exactly `cls`; returns the error."""
        with self.assertRaises(mvkv.MvkvError) as raised:
            fn(*args, **kwargs)
        self.assertIs(type(raised.exception), cls, raised.exception)
        self.assertTrue(raised.exception.message)
        return raised.exception

    def test_bad_keys_values_and_ranges_are_invalid_argument(self):
        bad = mvkv.InvalidArgument
        for key in ("", LONG_KEY):
            self.assert_raises(bad, self.client.put, key, "v")
            self.assert_raises(bad, self.client.get, key)
            self.assert_raises(bad, self.client.delete, key)
        self.assertIn("1025", self.assert_raises(
            bad, self.client.put, "k", BIG_VALUE).message)
        for start, end in (("b", "a"), ("a", "a"), (LONG_KEY, ""),
                           ("", LONG_KEY)):
            self.assert_raises(bad, list, self.client.scan(start, end))

    def test_a_bad_compare_and_commit_writes_not_even_its_good_ops(self):
        bad = mvkv.InvalidArgument
        good = mvkv.Op.put("good", "v")
        for ops in ([good, mvkv.Op.put("", "v")],
                    [good, mvkv.Op.put("k", BIG_VALUE)],
                    [good, mvkv.Op.scan("b", "a")],
                    [good, mvkv.Op.delete(LONG_KEY)]):
            self.assert_raises(bad, self.client.compare_and_commit, [], ops)
        # The failure branch is validated too, though it would not run.
        self.assert_raises(bad, self.client.compare_and_commit, [], [good],
                           [mvkv.Op.get("")])
        for compare in (
                mvkv.Compare("k", exists=True, result=mvkv.Compare.Result.LESS),
                mvkv.Compare("", value=b"v"),
                mvkv.Compare("k", value=BIG_VALUE)):
            self.assert_raises(bad, self.client.compare_and_commit, [compare],
                               [good])
        too_many = [mvkv.Compare("k", exists=False)] * 1025
        self.assertIn("at most 1024", self.assert_raises(
            bad, self.client.compare_and_commit, too_many, [good]).message)

    def test_a_bad_isolation_level_is_invalid_argument(self):
        self.assert_raises(mvkv.InvalidArgument, self.client.begin_handle, 7)
        self.assert_raises(mvkv.InvalidArgument, self.client.begin, 7)
        self.assert_raises(mvkv.InvalidArgument, self.client.begin,
                           "repeatable_read")

    def test_a_session_survives_its_bad_operations(self):
        with self.client.transaction() as txn:
            self.assert_raises(mvkv.InvalidArgument, txn.put, "", "v")
            self.assert_raises(mvkv.InvalidArgument, txn.put, "k", BIG_VALUE)
            self.assert_raises(mvkv.InvalidArgument, txn.get, LONG_KEY)
            self.assert_raises(mvkv.InvalidArgument, txn.delete, "")
            self.assert_raises(mvkv.InvalidArgument, txn.scan, "z", "a")
            self.assertIn("missing", self.assert_raises(
                mvkv.NotFound, txn.get, "missing").message)
            # Begin inside the open txn (the API never sends one; the wire
            # allows it).
            self.assert_raises(mvkv.FailedPrecondition, txn._call,
                               kv_pb2.SessionRequest(begin=kv_pb2.BeginRequest()),
                               "begin")
            txn.put("ok", "v")  # still open, still usable
            self.assertEqual(txn.get("ok").value, b"v")
            txn.rollback()

    def test_a_handle_survives_its_bad_operations(self):
        with self.client.begin_handle() as h:
            self.assert_raises(mvkv.InvalidArgument, h.put, "", "v")
            self.assert_raises(mvkv.InvalidArgument, h.get, LONG_KEY)
            self.assert_raises(mvkv.InvalidArgument, h.scan, "z", "a")
            self.assertIn("missing", self.assert_raises(
                mvkv.NotFound, h.get, "missing").message)
            h.put("ok", "v")
            self.assertEqual(h.get("ok").value, b"v")
            h.rollback()

    def test_missing_keys_and_unknown_handles_are_not_found(self):
        self.assert_raises(mvkv.NotFound, self.client.get, "missing")
        h = self.client.begin_handle()
        h.rollback()
        unknown = mvkv.TxnHandle(self.client,
                                 kv_pb2.BeginTxnResponse(txn_id=h.id ^ 1))
        for call in (lambda: unknown.get("k"), lambda: unknown.put("k", "v"),
                     lambda: unknown.delete("k"), unknown.scan,
                     unknown.keep_alive, unknown.commit, unknown.rollback):
            self.assertIn(str(unknown.id), self.assert_raises(
                mvkv.NotFound, call).message)

    def test_operations_on_a_finished_txn_are_failed_precondition(self):
        fp = mvkv.FailedPrecondition
        for finish in ("commit", "rollback"):
            txn = self.client.begin()
            self.addCleanup(txn.close)
            getattr(txn, finish)()
            for call in (lambda: txn.get("k"), lambda: txn.put("k", "v"),
                         lambda: txn.delete("k"), txn.scan, txn.commit,
                         txn.rollback):
                self.assert_raises(fp, call)
            h = self.client.begin_handle()
            getattr(h, finish)()
            for call in (lambda: h.get("k"), lambda: h.put("k", "v"),
                         lambda: h.delete("k"), h.scan, h.keep_alive, h.commit,
                         h.rollback):
                self.assertIn(str(h.id), self.assert_raises(fp, call).message)

    def test_too_many_open_txns_is_resource_exhausted(self):
        sessions = [self.client.begin() for _ in range(MAX_OPEN // 2)]
        handles = [self.client.begin_handle() for _ in range(MAX_OPEN // 2)]
        self.assert_raises(mvkv.ResourceExhausted, self.client.begin)
        self.assert_raises(mvkv.ResourceExhausted, self.client.begin_handle)
        with self.assertRaises(mvkv.ResourceExhausted):
            self.client.transact(lambda txn: txn.put("k", "v"))
        sessions.pop().close()  # the server rolls it back: room for one
        harness.wait_for(
            lambda: self.client.stats()["open_session_txns"] < MAX_OPEN // 2,
            "the closed session's txn rolled back")
        self.client.begin().close()
        for txn in sessions:
            txn.close()
        for h in handles:
            h.rollback()

    def test_a_request_over_the_size_limit_is_resource_exhausted(self):
        ex = mvkv.ResourceExhausted
        self.assert_raises(ex, self.client.put, "k", HUGE)
        self.assert_raises(ex, self.client.compare_and_commit, [],
                           [mvkv.Op.put("k", HUGE)])
        with self.client.begin_handle() as h:
            self.assert_raises(ex, h.put, "k", HUGE)
            h.rollback()
        # On a Session, gRPC refuses the message by ending the stream: the
        # txn is rolled back and the stream is gone.
        txn = self.client.begin()
        txn.put("before", "v")
        self.assert_raises(ex, txn.put, "k", HUGE)
        self.assert_raises(mvkv.Unavailable, txn.get, "before")
        with self.assertRaises(mvkv.Unavailable):
            with txn:
                pass  # the block's commit cannot happen on a broken stream


if __name__ == "__main__":
    harness.main()
