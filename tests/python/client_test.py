"""End to end: every call of the Python client against a real mvkv_server,
and what each returns (timestamps, found/existed flags, chunks, branches,
Stats), the transaction context managers, and the connection-level errors
(Unavailable, DeadlineExceeded, Unauthenticated) in the one error model."""

import os
import signal
import subprocess
import unittest

import harness
import mvkv
from mvkv._proto import kv_pb2


class ClientTest(harness.ServerTestCase):

    SERVER_ARGS = ("--txn_lease=3s",)

    def stat(self, name):
        return self.client.stats().number(name)

    def test_put_get_delete_round_trip_with_commit_timestamps(self):
        ts = self.client.put("rt/a", "1")
        kv = self.client.get("rt/a")
        self.assertEqual((kv.key, kv.value, kv.commit_ts), (b"rt/a", b"1", ts))
        gone = self.client.delete(b"rt/a")
        self.assertTrue(gone.existed)
        self.assertGreater(gone.commit_ts, ts)
        with self.assertRaises(mvkv.NotFound):
            self.client.get("rt/a")
        again = self.client.delete("rt/a")
        self.assertEqual((again.existed, again.commit_ts), (False, 0))

    def test_keys_and_values_are_raw_bytes(self):
        key, value = b"bin/\x00\xff", bytes(range(256))
        self.client.put(key, value)
        self.assertEqual(self.client.get(key).value, value)
        self.client.put("bin/é", "ü")
        self.assertEqual(self.client.get("bin/é".encode()).value, "ü".encode())

    def test_scan_streams_every_pair_in_key_order_and_honours_the_limit(self):
        keys = [f"scan/{1000 + i}".encode() for i in range(300)]
        for k in reversed(keys):
            self.client.put(k, "v")
        self.assertEqual([kv.key for kv in self.client.scan("scan/", "scan0")],
                         keys)
        self.assertEqual([kv.key for kv in self.client.scan("scan/", "scan0",
                                                            limit=7)],
                         keys[:7])
        chunks = list(self.client.scan_chunks("scan/", "scan0", limit=250,
                                              chunk_size=100))
        self.assertEqual([len(c) for c in chunks], [100, 100, 50])
        self.assertEqual(len({c.snapshot_ts for c in chunks}), 1)
        self.assertEqual([c.more for c in chunks], [False, False, True])
        self.assertEqual(chunks[-1].resume_key, keys[250])
        # An empty range reports its snapshot in one empty chunk.
        empty = list(self.client.scan_chunks("scan0", "scan1"))
        self.assertEqual(len(empty), 1)
        self.assertEqual(len(empty[0]), 0)
        self.assertGreater(empty[0].snapshot_ts, 0)

    def test_a_scan_generator_closed_early_releases_the_server_stream(self):
        # 40 MB in 1 MB chunks: more than gRPC's flow-control windows hold,
        # so the server cannot finish the stream before the client reads on.
        for i in range(40):
            self.client.put(f"early/{i:02d}", "x" * 1000000)
        harness.wait_no_open_txns(self.client)
        # The stream's deadline, far beyond the wait below, cannot be what
        # ends it.
        with self.server.client(timeout=300.0) as patient:
            scan = patient.scan_chunks("early/", "early0", chunk_size=1)
            self.assertEqual(next(scan).kvs[0].key, b"early/00")
            harness.wait_for(lambda: self.stat("active_snapshots") == 1,
                             "the scan stream holding its snapshot")
            scan.close()  # cancels the stream; its snapshot goes with it
            harness.wait_no_open_txns(self.client,
                                      "the scan's snapshot released", 10.0)
        for i in range(40):
            self.client.delete(f"early/{i:02d}")

    def test_reads_at_the_latest_snapshot_timestamp_and_refuses_older_ones(self):
        self.client.put("snap/k", "v")
        visible = self.stat("visible_ts")
        self.assertEqual(self.client.get("snap/k", snapshot_ts=visible).value,
                         b"v")
        with self.assertRaises(mvkv.OutOfRange) as raised:
            self.client.get("snap/k", snapshot_ts=visible - 1)
        self.assertNotIsInstance(raised.exception, mvkv.SnapshotTooOld)
        with self.assertRaises(mvkv.OutOfRange):
            list(self.client.scan("snap/", "snap0", snapshot_ts=visible - 1))

    def test_compare_and_commit_runs_the_branch_the_compares_chose(self):
        ts = self.client.put("cas/k", "old")
        self.client.put("cas/gone", "x")
        compares = [mvkv.Compare("cas/k", version=ts),
                    mvkv.Compare("cas/k", value="p",
                                 result=mvkv.Compare.Result.LESS),
                    mvkv.Compare("cas/missing", exists=False)]
        success = [mvkv.Op.put("cas/k", "new"), mvkv.Op.get("cas/missing"),
                   mvkv.Op.scan("cas/", "cas0", 1), mvkv.Op.delete("cas/gone")]
        failure = [mvkv.Op.get("cas/k")]
        r = self.client.compare_and_commit(compares, success, failure)
        self.assertTrue(r.succeeded)
        self.assertGreater(r.commit_ts, ts)
        self.assertEqual([x.kind for x in r.results],
                         [op.kind for op in success])
        self.assertFalse(r.results[1].found)
        self.assertEqual([kv.key for kv in r.results[2].scan], [b"cas/gone"])
        self.assertTrue(r.results[2].scan.more)
        self.assertEqual(r.results[2].scan.resume_key, b"cas/k")
        self.assertTrue(r.results[3].existed)
        with self.assertRaises(mvkv.NotFound):
            self.client.get("cas/gone")
        self.assertEqual(self.client.get("cas/k").commit_ts, r.commit_ts)
        # The version moved: the same request now takes the failure branch.
        r = self.client.compare_and_commit(compares, success, failure)
        self.assertFalse(r.succeeded)
        self.assertEqual(len(r.results), 1)
        self.assertTrue(r.results[0].found)
        self.assertEqual(r.results[0].kv.value, b"new")
        self.assertEqual(r.commit_ts, 0)

    def test_a_session_txn_reads_its_own_writes_and_commits_atomically(self):
        harness.wait_no_open_txns(self.client)
        txn = self.client.begin(mvkv.Isolation.SERIALIZABLE)
        self.addCleanup(txn.close)
        txn.put("sess/a", "1")
        txn.put("sess/b", "2")
        txn.delete("sess/none")
        self.assertEqual(txn.get("sess/a").value, b"1")
        self.assertEqual(txn.get("sess/a").commit_ts, 0)  # own write
        with self.assertRaises(mvkv.NotFound):
            self.client.get("sess/a")  # not visible before the commit
        scan = txn.scan("sess/", "sess0")
        self.assertEqual([kv.key for kv in scan], [b"sess/a", b"sess/b"])
        self.assertFalse(scan.more)
        stats = self.client.stats()
        self.assertEqual(stats["open_session_txns"], 1)
        self.assertEqual(stats["oldest_snapshot_txn_id"], txn.id)
        self.assertEqual(stats["oldest_snapshot_holder"], "session")
        self.assertIn("127.0.0.1", stats["oldest_snapshot_peer"])
        ts = txn.commit()
        self.assertEqual(self.client.get("sess/b").commit_ts, ts)
        with self.assertRaises(mvkv.FailedPrecondition):
            txn.get("sess/a")
        self.assertEqual(self.stat("open_session_txns"), 0)

    def test_the_transaction_block_commits_when_it_ends_normally(self):
        with self.client.transaction(isolation="snapshot") as txn:
            txn.put("with/k", "v")
            self.assertNotEqual(txn.id, 0)
        self.assertEqual(self.client.get("with/k").value, b"v")
        harness.wait_no_open_txns(self.client)

    def test_the_transaction_block_rolls_back_when_it_raises(self):
        commits = self.stat("commits")
        with self.assertRaisesRegex(ValueError, "boom"):
            with self.client.transaction() as txn:
                txn.put("with/rolled", "v")
                raise ValueError("boom")
        with self.assertRaises(mvkv.NotFound):
            self.client.get("with/rolled")
        self.assertEqual(self.stat("commits"), commits)
        harness.wait_no_open_txns(self.client)

    def test_concurrent_writers_of_one_key_conflict(self):
        t1 = self.client.begin()
        t2 = self.client.begin()
        t1.put("conf/k", "1")
        t2.put("conf/k", "2")
        t1.commit()
        with self.assertRaises(mvkv.Aborted) as raised:
            t2.commit()
        self.assertIn("conf/k", raised.exception.message)
        self.assertEqual(self.client.get("conf/k").value, b"1")
        # The same through `with`: the block's commit raises.
        with self.assertRaises(mvkv.Aborted):
            with self.client.transaction() as t3:
                t3.put("conf/k", "3")
                self.client.put("conf/k", "autocommit")
        self.assertEqual(self.client.get("conf/k").value, b"autocommit")
        t1.close()
        t2.close()

    def test_handles_run_a_txn_over_unary_calls(self):
        harness.wait_no_open_txns(self.client)
        h = self.client.begin_handle(mvkv.Isolation.SNAPSHOT)
        self.assertEqual(h.lease, 3.0)
        self.assertEqual(self.stat("open_handles"), 1)
        self.assertEqual(self.client.stats()["oldest_snapshot_holder"], "handle")
        h.put("h/k", "v")
        self.assertEqual(h.get("h/k").value, b"v")
        h.delete("h/gone")
        self.assertEqual([kv.key for kv in h.scan("h/", "h0")], [b"h/k"])
        h.keep_alive()
        ts = h.commit()
        self.assertGreater(ts, 0)
        self.assertEqual(self.client.get("h/k").commit_ts, ts)
        self.assertEqual(self.stat("open_handles"), 0)
        with self.assertRaises(mvkv.FailedPrecondition) as raised:
            h.get("h/k")
        self.assertIn(f"transaction {h.id} already committed",
                      raised.exception.message)
        fresh = self.client.begin_handle()
        fresh.rollback()
        unknown = mvkv.TxnHandle(self.client,
                                 kv_pb2.BeginTxnResponse(txn_id=fresh.id + 1))
        with self.assertRaises(mvkv.NotFound):
            unknown.rollback()

    def test_a_handle_block_commits_or_rolls_back(self):
        with self.client.begin_handle() as h:
            h.put("hw/k", "v")
        self.assertEqual(self.client.get("hw/k").value, b"v")
        with self.assertRaises(KeyError):
            with self.client.begin_handle() as h:
                h.put("hw/rolled", "v")
                raise KeyError("boom")
        with self.assertRaises(mvkv.NotFound):
            self.client.get("hw/rolled")
        self.assertEqual(self.stat("open_handles"), 0)

    def test_transact_returns_what_fn_returned(self):
        self.client.put("tr/a", "5")

        def double(txn):
            value = int(txn.get("tr/a").value) * 2
            txn.put("tr/a", str(value))
            return value

        self.assertEqual(self.client.transact(double), 10)
        self.assertEqual(self.client.get("tr/a").value, b"10")

    def test_stats_and_health(self):
        self.client.put("stats/k", "1")
        stats = self.client.stats()
        self.assertGreater(stats["visible_ts"], 0)
        self.assertGreater(stats.number("live_keys"), 0)
        self.assertIn("open_handles", dict(stats))
        self.assertIsNone(self.client.health())


class ConnectionErrorsTest(unittest.TestCase):

    def test_nothing_listening_is_unavailable(self):
        with harness.ServerProcess() as server:
            address = server.address
            self.assertEqual(server.stop(), 0)
        with mvkv.Client(address, timeout=5.0) as client:
            with self.assertRaises(mvkv.Unavailable):
                client.put("k", "v")
            with self.assertRaises(mvkv.Unavailable):
                client.begin()
            with self.assertRaises(mvkv.Unavailable):
                list(client.scan())

    def test_a_passed_deadline_is_deadline_exceeded(self):
        # The server is stopped (SIGSTOP) while the calls run, so no answer
        # can beat their deadline (a 1 us deadline once lost to a fast
        # local answer).
        with harness.ServerProcess() as server:
            os.kill(server.pid, signal.SIGSTOP)
            try:
                with server.client(timeout=0.2) as client:
                    with self.assertRaises(mvkv.DeadlineExceeded):
                        client.stats()
                with server.client(txn_timeout=0.2) as client:
                    with self.assertRaises(mvkv.DeadlineExceeded):
                        client.begin()
            finally:
                os.kill(server.pid, signal.SIGCONT)
            self.assertEqual(server.stop(), 0)

    def test_calls_need_the_bearer_token_health_does_not(self):
        with harness.ServerProcess("--auth_token=s3cret") as server:
            right = server.client(token="s3cret")
            for client in (server.client(), server.client(token="guess")):
                with client:
                    with self.assertRaises(mvkv.Unauthenticated):
                        client.put("k", "v")
                    with self.assertRaises(mvkv.Unauthenticated):
                        list(client.scan())
                    with self.assertRaises(mvkv.Unauthenticated):
                        client.begin()
                    with self.assertRaises(mvkv.Unauthenticated):
                        client.begin_handle()
                    self.assertIsNone(client.health())
            right.put("k", "v")
            self.assertEqual(right.get("k").value, b"v")
            with right.transaction() as txn:
                txn.put("k2", "v")
            self.assertEqual(right.stats()["commits"], 2)  # the refused wrote nothing
            right.close()
            self.assertEqual(server.stop(), 0)

    def test_serves_over_tls_to_a_client_trusting_the_certificate(self):
        d = harness.temp_dir("tls")
        subprocess.run(
            ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048",
             "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem"],
            check=True, capture_output=True, timeout=60)
        with harness.ServerProcess(f"--tls_cert={d}/cert.pem",
                                   f"--tls_key={d}/key.pem",
                                   tls=f"{d}/cert.pem",
                                   tls_server_name="localhost") as server:
            with server.client() as secure:
                secure.put("k", "v")
                self.assertEqual(secure.get("k").value, b"v")
            with server.client(tls=None, timeout=3.0) as plain:
                with self.assertRaises(mvkv.Unavailable):
                    plain.get("k")
            self.assertEqual(server.stop(), 0)
        with self.assertRaisesRegex(mvkv.InvalidArgument, "no-such.pem"):
            mvkv.Client("127.0.0.1:1", tls=f"{d}/no-such.pem")


if __name__ == "__main__":
    harness.main()
