"""Client.transact and the ends of a Session txn against a real server:
transact retries a real write-write conflict, a serializable read conflict
and a real snapshot too old (each attempt a new txn), gives up after its
attempts with the last error, and retries nothing else; a txn whose stream
breaks (deadline, server shutdown) raises the stream's status, is rolled
back by the server, and a block that swallowed the break cannot pass for
committed."""

import signal
import time
import unittest

import harness
import mvkv

FAST = mvkv.RetryPolicy(max_attempts=5, initial_backoff=0.001,
                        max_backoff=0.01)


def use_until_it_raises(txn, key, timeout=15.0):
    """Reads `key` in `txn` until a read raises (which propagates); fails
    the test if none did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        txn.get(key)
        time.sleep(0.02)
    raise AssertionError(f"no read of {key!r} failed within {timeout}s")


class TransactTest(harness.ServerTestCase):

    def setUp(self):
        super().setUp()
        self.rival = self.server.client()
        self.addCleanup(self.rival.close)

    def test_transact_retries_a_real_write_conflict_in_a_new_txn(self):
        self.client.put("ww/k", "1")
        aborts = self.client.stats()["aborts_write_conflict"]
        txn_ids = []

        def increment(txn):
            txn_ids.append(txn.id)
            value = int(txn.get("ww/k").value)
            if len(txn_ids) == 1:
                self.rival.put("ww/k", "100")  # commits after txn's snapshot
            txn.put("ww/k", str(value + 1))
            return value

        self.assertEqual(self.client.transact(increment, retries=FAST), 100)
        self.assertEqual(len(txn_ids), 2)
        self.assertNotEqual(txn_ids[0], txn_ids[1])
        self.assertEqual(self.client.get("ww/k").value, b"101")
        self.assertEqual(self.client.stats()["aborts_write_conflict"],
                         aborts + 1)

    def test_transact_retries_a_serializable_read_conflict(self):
        self.client.put("rw/a", "1")
        aborts = self.client.stats()["aborts_read_conflict"]
        attempts = []

        def copy(txn):
            attempts.append(1)
            value = txn.get("rw/a").value
            if len(attempts) == 1:
                self.rival.put("rw/a", "2")  # invalidates the read
            txn.put("rw/b", value)

        self.client.transact(copy, isolation=mvkv.Isolation.SERIALIZABLE,
                             retries=FAST)
        self.assertEqual(len(attempts), 2)
        self.assertEqual(self.client.get("rw/b").value, b"2")
        self.assertEqual(self.client.stats()["aborts_read_conflict"],
                         aborts + 1)

    def test_transact_gives_up_with_the_last_conflict(self):
        self.client.put("gu/k", "0")
        attempts = []

        def always_overtaken(txn):
            attempts.append(1)
            txn.get("gu/k")
            self.rival.put("gu/k", str(len(attempts)))
            txn.put("gu/k", "mine")

        with self.assertRaises(mvkv.Aborted) as raised:
            self.client.transact(always_overtaken, retries=2)
        self.assertEqual(len(attempts), 3)
        self.assertTrue(raised.exception.message.startswith(
            "gave up after 3 attempts: "), raised.exception.message)
        self.assertIn("gu/k", raised.exception.message)
        self.assertEqual(self.client.get("gu/k").value, b"3")

    def test_transact_retries_nothing_else_and_rolls_back(self):
        for error in (mvkv.NotFound, ValueError):
            attempts = []

            def fail(txn):
                attempts.append(1)
                txn.put("nr/k", "v")
                if error is mvkv.NotFound:
                    txn.get("nr/missing")
                raise ValueError("not retryable")

            with self.assertRaises(error):
                self.client.transact(fail, retries=FAST)
            self.assertEqual(len(attempts), 1)
            with self.assertRaises(mvkv.NotFound):
                self.client.get("nr/k")
        harness.wait_no_open_txns(self.client)

    def test_a_bad_retry_policy_is_invalid_argument(self):
        with self.assertRaisesRegex(mvkv.InvalidArgument, "max_attempts"):
            self.client.transact(lambda txn: None, retries=-1)

    def test_a_stream_past_its_deadline_breaks_and_rolls_back(self):
        with self.server.client(txn_timeout=2.0) as short:
            with self.assertRaises(mvkv.DeadlineExceeded):
                with short.transaction() as txn:
                    txn.put("dl/k", "v")
                    use_until_it_raises(txn, "dl/k")
            with self.assertRaisesRegex(mvkv.Unavailable, "stream closed"):
                txn.put("dl/k", "v")
            # A block that swallows the break does not pass for committed.
            with self.assertRaises(mvkv.Unavailable):
                with short.transaction() as txn:
                    with self.assertRaises(mvkv.DeadlineExceeded):
                        txn.put("dl/k", "v")
                        use_until_it_raises(txn, "dl/k")
        harness.wait_no_open_txns(self.client)
        with self.assertRaises(mvkv.NotFound):
            self.client.get("dl/k")


class ServerGoneTest(unittest.TestCase):

    def test_a_server_shutting_down_ends_the_stream_with_its_status(self):
        with harness.ServerProcess("--shutdown_grace=0s") as server:
            client = server.client()
            txn = client.begin()
            txn.put("gone/k", "v")
            self.assertEqual(server.stop(signal.SIGTERM), 0)
            with self.assertRaises((mvkv.Unavailable, mvkv.Cancelled)):
                txn.get("gone/k")
            with self.assertRaises(mvkv.Unavailable):
                txn.commit()
            txn.close()
            client.close()


class SnapshotTooOldTest(harness.ServerTestCase):
    """A server that releases snapshots older than 2 s."""

    SERVER_ARGS = ("--max_snapshot_age=2s",)

    def test_a_released_snapshot_raises_snapshot_too_old(self):
        self.client.put("old/k", "v")
        with self.client.begin() as txn:
            with self.assertRaises(mvkv.SnapshotTooOld) as raised:
                use_until_it_raises(txn, "old/k")
            self.assertIsInstance(raised.exception, mvkv.OutOfRange)
            self.assertTrue(raised.exception.message.startswith(
                "snapshot too old"), raised.exception.message)
            self.assertIn(str(txn.id), raised.exception.message)
            txn.rollback()
        harness.wait_no_open_txns(self.client)

    def test_transact_retries_snapshot_too_old_in_a_new_txn(self):
        self.client.put("old/t", "1")
        seen = []

        def slow_first(txn):
            if not seen:
                try:
                    use_until_it_raises(txn, "old/t")
                except mvkv.MvkvError as e:
                    seen.append(e)
                    raise
            txn.put("old/t", str(int(txn.get("old/t").value) + 1))

        self.client.transact(slow_first, retries=FAST)
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0], mvkv.SnapshotTooOld)
        self.assertEqual(self.client.get("old/t").value, b"2")


if __name__ == "__main__":
    harness.main()
