"""Private: which mvkv_server a call goes to, as client/router.h does for
the C++ client.

A Client knows one or more servers (its `server` argument, a comma separated
list: the members of a cluster). Calls go to the current one. After a failed
attempt Router.after decides whether the call is sent again, and where:

  * UNAVAILABLE with trailing metadata `mvkv-leader` (a cluster node that
    does not lead refused the call, having done nothing): the named leader
    becomes current (added to the list if new) and the call is sent again;
    with an empty value (no leader known yet: an election) the next server
    is tried after a back-off;
  * the server could not be reached (its channel did not become ready, so
    nothing was sent): the next server is tried after a back-off (with a
    single server the error is raised at once). A channel in
    TRANSIENT_FAILURE (its last connection attempt failed: a dead node) is
    not reachable at once; any other channel not ready yet gets up to
    250 ms (a fresh one passes through a transient failure on its way to
    READY);
  * any other UNAVAILABLE (the connection broke during the call, the server
    is shutting down): the next server becomes current; the call is sent
    again only if it is a read (idempotent); a write or commit raises the
    error, since it may or may not have committed;
  * DEADLINE_EXCEEDED (a server that accepts connections but does not
    answer: the call's whole timeout is spent on it) is raised, and the next
    server becomes current;
  * any other status is raised.

Bounded: at most max_attempts attempts (the Client's default 64, as
ClientOptions::max_attempts), within the one timeout of the call as a whole;
the back-off doubles from 25 ms up to 100 ms. These are client/router.h's
rules and numbers, the same rule set; the one difference is the Client's:
with a single server it sends the call without checking reachability (a
SIGSTOPped server shows as DeadlineExceeded), where the C++ client reports
a channel that does not connect within 250 ms as Unavailable.

Thread safety: thread-safe (a lock guards the list and the current index).
Endpoints live as long as the router.
"""

import threading

import grpc

from mvkv import errors

# The trailing metadata key naming the leader (server/cluster_mode.h).
LEADER_METADATA = "mvkv-leader"

_FIRST_BACKOFF = 0.025
_MAX_BACKOFF = 0.100
# How long an attempt waits for a channel that is connecting (a fresh one
# may pass through a transient failure on its way to READY; a dead server on
# a LAN refuses within this).
_CONNECT_WAIT = 0.250


def parse_servers(servers):
    """The addresses of "HOST:PORT[,HOST:PORT...]", in order, without
    duplicates; InvalidArgument if there is none."""
    addresses = []
    for part in (servers or "").split(","):
        part = part.strip()
        if part and part not in addresses:
            addresses.append(part)
    if not addresses:
        raise errors.InvalidArgument("no server address")
    return addresses


def backoff(attempt):
    """The pause in seconds after failed attempt `attempt` (1-based)."""
    return min(_FIRST_BACKOFF * (1 << min(attempt - 1, 5)), _MAX_BACKOFF)


def leader_of(rpc_error):
    """The value of `mvkv-leader` in a grpc.RpcError's trailing metadata, or
    None if it has none."""
    trailers = getattr(rpc_error, "trailing_metadata", None)
    for key, value in (trailers() if trailers else None) or ():
        if key == LEADER_METADATA:
            return value.decode() if isinstance(value, bytes) else value
    return None


class Endpoint:
    """One server: its address, channel and whatever `make_stubs(channel)`
    returned (the Client's stubs). Tracks its channel's connectivity."""

    def __init__(self, address, channel, stubs):
        self.address = address
        self.channel = channel
        self.stubs = stubs
        self._ready = threading.Event()
        self._state = None  # the last connectivity state reported
        if channel is not None:
            channel.subscribe(self._on_state, try_to_connect=True)

    def _on_state(self, state):
        self._state = state
        if state == grpc.ChannelConnectivity.READY:
            self._ready.set()
        else:
            self._ready.clear()

    def reachable(self, remaining):
        """Whether the channel is (or becomes within min(remaining, 250 ms))
        ready: False = a call would not be sent. False at once in
        TRANSIENT_FAILURE (gRPC reconnects it in the background)."""
        if self._ready.is_set():
            return True
        if self._state == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return False
        return self._ready.wait(max(0.0, min(remaining, _CONNECT_WAIT)))

    def close(self):
        if self.channel is not None:
            self.channel.unsubscribe(self._on_state)
            self.channel.close()


class Router:
    """The servers of a Client and the current one (see the module comment).

    make_channel(address) -> a grpc.Channel (or None in unit tests);
    make_stubs(channel) -> what Endpoint.stubs holds.
    """

    def __init__(self, servers, make_channel, make_stubs):
        self._make_channel = make_channel
        self._make_stubs = make_stubs
        self._lock = threading.Lock()
        self._endpoints = []  # only grows
        self._current = 0
        with self._lock:
            for address in parse_servers(servers):
                self._index_of(address)

    def _index_of(self, address):
        """REQUIRES: self._lock held."""
        for i, e in enumerate(self._endpoints):
            if e.address == address:
                return i
        channel = self._make_channel(address)
        self._endpoints.append(
            Endpoint(address, channel, self._make_stubs(channel)))
        return len(self._endpoints) - 1

    def current(self):
        with self._lock:
            return self._endpoints[self._current]

    def single(self):
        """Whether the router knows one server only."""
        with self._lock:
            return len(self._endpoints) == 1

    def addresses(self):
        with self._lock:
            return [e.address for e in self._endpoints]

    def after(self, endpoint, code, leader, sent, idempotent, attempt,
              max_attempts):
        """What to do after attempt number `attempt` (1-based) on `endpoint`
        failed with grpc.StatusCode `code`; `leader` is its mvkv-leader
        metadata (None if absent) and `sent` whether the call reached the
        server. None = raise the error; otherwise the pause in seconds
        before the next attempt (on self.current()). Does not sleep."""
        with self._lock:
            at = self._index_of(endpoint.address)
            if code == grpc.StatusCode.DEADLINE_EXCEEDED and sent:
                self._move_on_from(at)
                return None
            if code != grpc.StatusCode.UNAVAILABLE:
                return None
            retry, pause = idempotent or not sent, backoff(attempt)
            if leader:
                # A refusal: nothing was done; go where it points.
                self._current = self._index_of(leader)
                retry = True
                if self._current != at:
                    pause = 0.0  # else a leader still applying its log
            else:
                if leader is not None:
                    retry = True  # refused, no leader known
                if not sent and len(self._endpoints) == 1:
                    retry = False  # one server that cannot be reached
                self._move_on_from(at)
        if not retry or attempt >= max_attempts:
            return None
        return pause

    def _move_on_from(self, at):
        """REQUIRES: self._lock held."""
        if self._current == at:
            self._current = (at + 1) % len(self._endpoints)

    def close(self):
        with self._lock:
            for e in self._endpoints:
                e.close()
