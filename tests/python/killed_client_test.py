"""A Python client SIGKILLed mid-transaction leaves nothing open or pinned on
the server: its Session txn is rolled back as soon as the server sees the
connection end, its handle when the lease runs out; checked through Stats
(open_session_txns, open_handles, active_snapshots back to 0) and by the
keys it wrote never appearing."""

import signal
import sys
import unittest

import harness


class KilledClientTest(unittest.TestCase):

    def test_a_sigkilled_client_leaves_no_txn_and_no_snapshot(self):
        with harness.ServerProcess("--txn_lease=1s") as server:
            client = server.client()
            out_path = harness.temp_dir("holder") + "/out"
            with open(out_path, "wb") as out:
                holder = harness.spawn(
                    [sys.executable, harness.runfile("tests/python/txn_holder.py"),
                     server.address], out, env=harness.child_env())
            self.addCleanup(holder.kill)

            def ready():
                with open(out_path) as f:
                    words = f.read().split()
                return words[1:3] if words[:1] == ["ready"] else None
            session_id, handle_id = (int(w) for w in harness.wait_for(
                ready, "the holder's ready line", timeout=60))

            stats = client.stats()
            self.assertEqual(stats["open_session_txns"], 1)
            self.assertEqual(stats["open_handles"], 1)
            self.assertEqual(stats["active_snapshots"], 2)
            self.assertIn(stats["oldest_snapshot_txn_id"], (session_id, handle_id))
            self.assertIn("127.0.0.1", stats["oldest_snapshot_peer"])

            holder.send_signal(signal.SIGKILL)
            self.assertEqual(holder.wait(30), -signal.SIGKILL)
            harness.wait_for(lambda: client.stats()["open_session_txns"] == 0,
                             "the session txn rolled back")
            stats = harness.wait_no_open_txns(client)
            self.assertEqual(stats["expired_leases"], 1)
            self.assertEqual(stats["commits"], 0)
            self.assertEqual(list(client.scan("held/", "held0")), [])
            client.close()
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
