"""The retry policy of mvkv transactions, as in common/retry.h.

The same rule the engine (Database::Transact), the server (CompareAndCommit)
and the C++ client (Client::Transact) follow. A transaction is retried from
scratch, as a new transaction with a fresh snapshot, when it failed with an
error a new attempt may cure (is_retryable):

  * Aborted: a conflict with another commit (or a txn the server rolled back);
  * SnapshotTooOld: the engine released the snapshot; a new one is fine.

Any other error ends the loop at once. Between attempts the caller waits
backoff(): "full jitter" exponential back-off, uniform in
[0, min(max_backoff, initial_backoff * 2**(attempt - 1))) after failed
attempt number `attempt` (1-based), which spreads rivals that conflicted with
each other. After max_attempts failed attempts the result is the last error,
of its class, with a message saying how many attempts were made.

Thread-safe: the random source is the module's, whose draws are atomic.
"""

import dataclasses
import itertools
import random
import time

from mvkv import errors


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When and how often to retry. Durations are in seconds."""

    # Attempts in all, >= 1 (1 = no retry).
    max_attempts: int = 16
    # Bounds of the back-off before the second attempt and of every later one.
    initial_backoff: float = 20e-6
    max_backoff: float = 0.010

    def validate(self):
        """Raises InvalidArgument (saying which field) for a bad policy."""
        if self.max_attempts < 1:
            raise errors.InvalidArgument(
                f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 <= self.initial_backoff <= self.max_backoff:
            raise errors.InvalidArgument(
                "back-off must satisfy 0 <= initial_backoff <= max_backoff, "
                f"got {self.initial_backoff}s and {self.max_backoff}s")


# Client.transact's default, as C++ Client::TransactOptions: round trips over
# a network.
TRANSACT_POLICY = RetryPolicy(max_attempts=10, initial_backoff=0.001,
                              max_backoff=0.100)


def is_retryable(error):
    """True for the errors a new attempt may cure (see the module comment)."""
    return isinstance(error, (errors.Aborted, errors.SnapshotTooOld))


def backoff(policy, attempt):
    """The wait in seconds after failed attempt `attempt` (1-based)."""
    doublings = min(max(attempt - 1, 0), 30)
    cap = min(policy.max_backoff, policy.initial_backoff * (1 << doublings))
    return random.random() * cap


def gave_up(policy, last):
    """`last` (the final attempt's error) renamed: same class and code, its
    message prefixed "gave up after N attempts: "."""
    return type(last)(
        f"gave up after {policy.max_attempts} attempts: {last.message}",
        last.code)


def retry(policy, attempt):
    """Calls attempt() until it returns, raises an error that is not
    retryable, or max_attempts attempts have raised, sleeping backoff()
    between attempts; returns attempt()'s result or raises.

    REQUIRES: policy.validate() passes. Blocking (it sleeps).
    """
    for n in itertools.count(1):
        try:
            return attempt()
        except errors.MvkvError as error:
            if not is_retryable(error):
                raise
            if n >= policy.max_attempts:
                raise gave_up(policy, error) from error
        time.sleep(backoff(policy, n))
