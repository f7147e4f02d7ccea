"""End to end: Client.watch against a real mvkv_server: one event per commit
with its changes in range, in order; key, range and prefix targets; progress
events; resume after the server ends the stream (its shutdown of watch
streams, seen as Unavailable) with nothing lost or repeated; and the errors
a resume cannot fix (compacted, bad input)."""

import time
import unittest

import harness
import mvkv


class WatchTest(harness.ServerTestCase):

    SERVER_ARGS = ("--watch_buffer_bytes=65536",)

    def commits(self, watch, n):
        out = []
        while len(out) < n:
            e = next(watch)
            if not e.progress:
                out.append(e)
        return out

    def test_one_event_per_commit_with_its_changes_in_range(self):
        before = time.time_ns()
        first = self.client.put("ev/a", "1")
        answered = time.time_ns()
        self.client.put("other", "x")
        r = self.client.compare_and_commit(
            success=[mvkv.Op.put("ev/b", "2"), mvkv.Op.delete("ev/a"),
                     mvkv.Op.put("zz", "outside")])
        watch = self.client.watch("ev/", start_ts=first)
        try:
            a, b = self.commits(watch, 2)
        finally:
            watch.close()
        self.assertEqual(a, mvkv.WatchEvent(
            first, [mvkv.WatchChange(b"ev/a", b"1", False)],
            commit_time_ns=a.commit_time_ns))
        # The server's clock (the same machine's) stamped the commit between
        # the Put's issue and its answer.
        self.assertGreaterEqual(a.commit_time_ns, before)
        self.assertLessEqual(a.commit_time_ns, answered)
        self.assertGreaterEqual(b.commit_time_ns, a.commit_time_ns)
        self.assertEqual(b.commit_ts, r.commit_ts)
        self.assertEqual(b.changes, [mvkv.WatchChange(b"ev/a", b"", True),
                                     mvkv.WatchChange(b"ev/b", b"2", False)])

    def test_batched_commits_come_one_at_a_time_in_order(self):
        # All buffered when the watch starts: the server packs them (4 per
        # response here, 1 with max_commits_per_response=1); the generator
        # yields each commit once, in order, with its own changes.
        want = [self.client.put(f"bt/{i}", str(i)) for i in range(10)]
        for cap in (4, 1):
            watch = self.client.watch("bt/", start_ts=want[0],
                                      max_commits_per_response=cap)
            try:
                got = self.commits(watch, 10)
            finally:
                watch.close()
            self.assertEqual([e.commit_ts for e in got], want)
            times = [e.commit_time_ns for e in got]
            self.assertTrue(all(t > 0 for t in times), times)
            self.assertEqual(times, sorted(times))
            self.assertEqual(
                [e.changes for e in got],
                [[mvkv.WatchChange(f"bt/{i}".encode(), str(i).encode())]
                 for i in range(10)])

    def test_key_and_range_targets_and_keys_only(self):
        t1 = self.client.put("t/1", "v")
        t2 = self.client.put("t/2", "v")
        t3 = self.client.put("t/3", "v")
        key = self.client.watch(key="t/2", start_ts=t1)
        rng = self.client.watch(start="t/1", end="t/3", start_ts=t1,
                                keys_only=True)
        try:
            self.assertEqual([e.commit_ts for e in self.commits(key, 1)], [t2])
            got = self.commits(rng, 2)
        finally:
            key.close()
            rng.close()
        self.assertEqual([e.commit_ts for e in got], [t1, t2])
        self.assertEqual(got[0].changes, [mvkv.WatchChange(b"t/1", b"")])
        self.assertLess(t2, t3)

    def test_progress_events_when_idle(self):
        watch = self.client.watch("idle/", progress_interval_ms=5)
        try:
            e = next(watch)
        finally:
            watch.close()
        self.assertTrue(e.progress)
        self.assertGreater(e.commit_ts, 0)

    def test_compacted_and_bad_input_raise(self):
        for i in range(100):
            self.client.put("fill", "x" * 1000)
        with self.assertRaises(mvkv.OutOfRange) as caught:
            next(self.client.watch("", start_ts=1))
        self.assertIn("compacted", caught.exception.message)
        with self.assertRaises(mvkv.InvalidArgument):
            next(self.client.watch(key=""))
        with self.assertRaises(mvkv.InvalidArgument):
            next(self.client.watch(start="b", end="a"))


class WatchResumeTest(unittest.TestCase):
    """A watch resumes from the last commit + 1 on another stream when the
    server ends its stream: stopped and restarted on its data directory, the
    watcher current before the stop, gets every later commit exactly once."""

    def test_resume_across_a_restart(self):
        data = harness.temp_dir("watch-data") + "/db"
        server = harness.ServerProcess(f"--data_dir={data}", "--create")
        self.addCleanup(lambda: server.kill())
        client = server.client()
        t0 = client.put("r/0", "v")
        watch = client.watch("r/", start_ts=t0)
        self.assertEqual(next(watch).commit_ts, t0)
        port = server.port
        self.assertEqual(server.stop(), 0)
        server = harness.ServerProcess(f"--data_dir={data}",
                                       f"--listen=127.0.0.1:{port}")
        later = server.client()
        want = [later.put(f"r/{i}", "v") for i in range(1, 4)]
        got = [e.commit_ts for e in self.commits(watch, 3)]
        watch.close()
        self.assertEqual(got, want)
        self.assertEqual(server.stop(), 0)

    commits = WatchTest.commits


if __name__ == "__main__":
    harness.main()
