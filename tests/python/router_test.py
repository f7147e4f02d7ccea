"""Unit tests of the Python client's routing decisions (mvkv._router, the
twin of client/router.h), without processes: endpoints have no channel;
each case feeds Router.after one failed attempt and checks whether the call
is sent again, after what pause, and which server is current then."""

import re
import unittest

import grpc

import harness
import mvkv
from mvkv import _router

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
DEADLINE = grpc.StatusCode.DEADLINE_EXCEEDED


def router(servers="a:1,b:2,c:3"):
    return _router.Router(servers, lambda address: None, lambda channel: None)


class FakeChannel:
    """Reports the connectivity states the test sets."""

    def subscribe(self, callback, try_to_connect=False):
        self.report = callback

    def unsubscribe(self, callback):
        pass

    def close(self):
        pass


class NoWait:
    """An Endpoint._ready that fails the test if reachable() waits."""

    def is_set(self):
        return False

    def wait(self, timeout):
        raise AssertionError(f"waited {timeout} s on a channel")


class EndpointTest(unittest.TestCase):

    def test_transient_failure_is_unreachable_without_waiting(self):
        # A dead node's channel: skipped at once, as client/router.cc does.
        channel = FakeChannel()
        e = _router.Endpoint("a:1", channel, None)
        channel.report(grpc.ChannelConnectivity.TRANSIENT_FAILURE)
        e._ready = NoWait()
        self.assertFalse(e.reachable(10.0))

    def test_ready_is_reachable_and_connecting_waits_for_ready(self):
        channel = FakeChannel()
        e = _router.Endpoint("a:1", channel, None)
        channel.report(grpc.ChannelConnectivity.CONNECTING)
        self.assertFalse(e.reachable(0.0))  # not ready within the time left
        channel.report(grpc.ChannelConnectivity.READY)
        self.assertTrue(e.reachable(0.0))


class RouterTest(unittest.TestCase):

    def after(self, r, code, leader=None, sent=True, idempotent=False,
              attempt=1, max_attempts=5):
        return r.after(r.current(), code, leader, sent, idempotent, attempt,
                       max_attempts)

    def test_parses_the_list_and_rejects_an_empty_one(self):
        self.assertEqual(router(" a:1, b:2,,a:1 ").addresses(), ["a:1", "b:2"])
        for bad in ("", " , ", None):
            with self.assertRaises(mvkv.InvalidArgument):
                router(bad)

    def test_a_refusal_naming_the_leader_goes_there_at_once(self):
        r = router()
        self.assertEqual(self.after(r, UNAVAILABLE, leader="c:3"), 0.0)
        self.assertEqual(r.current().address, "c:3")

    def test_a_leader_not_in_the_list_is_added(self):
        r = router("a:1")
        self.assertEqual(self.after(r, UNAVAILABLE, leader="z:9"), 0.0)
        self.assertEqual(r.addresses(), ["a:1", "z:9"])
        self.assertEqual(r.current().address, "z:9")

    def test_a_refusal_naming_itself_backs_off(self):
        r = router()
        self.assertEqual(self.after(r, UNAVAILABLE, leader="a:1", attempt=2),
                         _router.backoff(2))
        self.assertEqual(r.current().address, "a:1")

    def test_no_leader_known_tries_the_next_after_a_back_off(self):
        r = router()
        # A refusal is retried even for a write: nothing was done.
        self.assertEqual(self.after(r, UNAVAILABLE, leader=""),
                         _router.backoff(1))
        self.assertEqual(r.current().address, "b:2")

    def test_unreachable_tries_the_next_server(self):
        r = router()
        self.assertEqual(self.after(r, UNAVAILABLE, sent=False),
                         _router.backoff(1))
        self.assertEqual(r.current().address, "b:2")

    def test_a_single_unreachable_server_is_reported_at_once(self):
        r = router("a:1")
        self.assertIsNone(self.after(r, UNAVAILABLE, sent=False))

    def test_a_broken_write_is_not_sent_again(self):
        # It may have committed: sending it elsewhere could apply it twice.
        r = router()
        self.assertIsNone(self.after(r, UNAVAILABLE, idempotent=False))
        self.assertEqual(r.current().address, "b:2")  # the next call's

    def test_a_broken_read_is_sent_again_to_the_next(self):
        r = router()
        self.assertEqual(self.after(r, UNAVAILABLE, idempotent=True),
                         _router.backoff(1))
        self.assertEqual(r.current().address, "b:2")

    def test_deadline_exceeded_is_raised_and_moves_on(self):
        r = router()
        self.assertIsNone(self.after(r, DEADLINE, idempotent=True))
        self.assertEqual(r.current().address, "b:2")

    def test_other_errors_are_raised_where_they_are(self):
        r = router()
        for code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ABORTED,
                     grpc.StatusCode.INVALID_ARGUMENT):
            self.assertIsNone(self.after(r, code, idempotent=True))
        self.assertEqual(r.current().address, "a:1")

    def test_attempts_are_bounded(self):
        r = router()
        self.assertIsNone(self.after(r, UNAVAILABLE, leader="b:2",
                                     attempt=5, max_attempts=5))
        self.assertEqual(r.current().address, "b:2")  # still followed

    def test_back_off_doubles_up_to_its_cap(self):
        # client/router.cc's BackOff: 25 ms doubling, at most 100 ms.
        pauses = [_router.backoff(n) for n in range(1, 10)]
        self.assertEqual(pauses[:3], [0.025, 0.05, 0.1])
        self.assertEqual(set(pauses[2:]), {0.1})

    def test_the_default_attempt_budget_is_the_cpp_clients(self):
        # Same back-off and the same budget: the same patience. The C++
        # default is read from its header, so the two cannot drift apart.
        with open(harness.runfile("client/client.h")) as f:
            cpp = re.search(r"int max_attempts = (\d+);", f.read())
        self.assertIsNotNone(cpp)
        with mvkv.Client("a:1") as c:
            self.assertEqual(c.max_attempts, int(cpp.group(1)))

    def test_a_moved_on_router_is_not_moved_again_by_a_late_failure(self):
        # Two calls failed on a:1; only the first moves current on.
        r = router()
        a = r.current()
        r.after(a, UNAVAILABLE, None, False, True, 1, 5)
        r.after(a, UNAVAILABLE, None, False, True, 1, 5)
        self.assertEqual(r.current().address, "b:2")


if __name__ == "__main__":
    harness.main()
