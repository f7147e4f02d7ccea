"""mvkv.retry, the policy of common/retry.h: what is retried, the full-jitter
back-off bounds, validation, and the attempt loop."""

import unittest

import harness
import mvkv
from mvkv import retry


class RetryTest(unittest.TestCase):

    def test_only_conflicts_and_snapshot_too_old_are_retryable(self):
        self.assertTrue(retry.is_retryable(mvkv.Aborted("c")))
        self.assertTrue(retry.is_retryable(mvkv.SnapshotTooOld("snapshot too old")))
        for e in (mvkv.OutOfRange("x"), mvkv.Unavailable("x"),
                  mvkv.NotFound("x"), mvkv.DeadlineExceeded("x"),
                  ValueError("x")):
            self.assertFalse(retry.is_retryable(e), e)

    def test_backoff_is_uniform_below_a_doubling_capped_bound(self):
        policy = mvkv.RetryPolicy(max_attempts=20, initial_backoff=0.001,
                                  max_backoff=0.016)
        for attempt in range(1, 12):
            cap = min(0.016, 0.001 * 2 ** (attempt - 1))
            samples = [retry.backoff(policy, attempt) for _ in range(300)]
            self.assertTrue(all(0 <= s < cap for s in samples), attempt)
            # Full jitter: the draws spread over the range (the chance that
            # 300 uniform draws all fall in its lower half is 2**-300).
            self.assertGreater(max(samples), cap / 2, attempt)
            self.assertLess(min(samples), cap / 2, attempt)

    def test_validate_names_the_bad_field(self):
        with self.assertRaisesRegex(mvkv.InvalidArgument, "max_attempts"):
            mvkv.RetryPolicy(max_attempts=0).validate()
        with self.assertRaisesRegex(mvkv.InvalidArgument, "back-off"):
            mvkv.RetryPolicy(initial_backoff=0.2, max_backoff=0.1).validate()
        with self.assertRaisesRegex(mvkv.InvalidArgument, "back-off"):
            mvkv.RetryPolicy(initial_backoff=-1).validate()
        mvkv.RetryPolicy().validate()
        retry.TRANSACT_POLICY.validate()

    def test_retry_stops_at_success_or_a_final_error(self):
        policy = mvkv.RetryPolicy(max_attempts=5, initial_backoff=0,
                                  max_backoff=0.001)
        calls = []

        def conflict_once():
            calls.append(1)
            if len(calls) == 1:
                raise mvkv.Aborted("conflict")
            return "done"

        self.assertEqual(retry.retry(policy, conflict_once), "done")
        self.assertEqual(len(calls), 2)

        calls.clear()

        def missing():
            calls.append(1)
            raise mvkv.NotFound("gone")

        with self.assertRaises(mvkv.NotFound):
            retry.retry(policy, missing)
        self.assertEqual(len(calls), 1)

    def test_retry_gives_up_after_max_attempts_keeping_the_class(self):
        policy = mvkv.RetryPolicy(max_attempts=3, initial_backoff=0,
                                  max_backoff=0.001)
        for error in (mvkv.Aborted("conflict on k"),
                      mvkv.SnapshotTooOld("snapshot too old: released")):
            calls = []

            def always():
                calls.append(1)
                raise error

            with self.assertRaises(type(error)) as raised:
                retry.retry(policy, always)
            self.assertEqual(len(calls), 3)
            self.assertEqual(raised.exception.message,
                             f"gave up after 3 attempts: {error.message}")
            self.assertIs(raised.exception.code, error.code)
            self.assertIs(raised.exception.__cause__, error)


if __name__ == "__main__":
    harness.main()
