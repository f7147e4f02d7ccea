"""End to end: the Python client against a 3-node cluster of real
mvkv_server processes on 127.0.0.1 (started as tests/cluster/
process_cluster.cc does: --node_id, --raft_listen, --peers), checking the
routing rules of mvkv._router:

  * a client whose first address is a follower writes and reads through
    the leader (the follower's refusal names it);
  * after SIGKILL of the leader one put finds the new leader by itself,
    within the client's bounds (max_attempts, one timeout);
  * a stale read on a follower is served there, at its applied timestamp;
  * a write whose connection broke during the call is not sent elsewhere
    (it may have committed), while a read broken the same way is.

No randomness (no seed); every wait is bounded (harness.wait_for, the
client's timeout), and every process is killed at the end of each test.
"""

import os
import random
import signal
import socket
import subprocess
import threading

import harness
import mvkv


def _bindable(port):
    """True if 127.0.0.1:port can be bound as the servers bind it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(taken=()):
    """A port free a moment ago, drawn below the kernel's ephemeral range
    (common/ports.cc's rule): bind(0) answers from that range, from which
    every outgoing connection of a concurrent test takes its local port, so
    such a port may be gone before the node binds it. `taken`: ports this
    caller already holds."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    first, last = 10000, low - 1
    if last - first >= 100:
        rng = random.SystemRandom()
        for _ in range(100):
            port = rng.randint(first, last)
            if port not in taken and _bindable(port):
                return port
    while True:  # fallback: the kernel's choice
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


class Cluster:
    """Three nodes; node i's client address is addresses[i]."""

    def __init__(self, size=3, tries=3):
        # A free port may be taken by another process before the node binds
        # it: start again on fresh ports, at most `tries` times.
        for attempt in range(1, tries + 1):
            try:
                self._start(size)
                return
            except RuntimeError as e:
                if "Address already in use" not in str(e) or attempt == tries:
                    raise

    def _start(self, size):
        ports = []
        for _ in range(2 * size):
            ports.append(free_port(ports))
        client_ports, raft_ports = ports[:size], ports[size:]
        self.addresses = [f"127.0.0.1:{p}" for p in client_ports]
        peers = ",".join(f"{i + 1}=127.0.0.1:{raft_ports[i]}/{self.addresses[i]}"
                         for i in range(size))
        self.nodes = []
        try:
            for i in range(size):
                self.nodes.append(harness.ServerProcess(
                    f"--node_id={i + 1}",
                    f"--raft_listen=127.0.0.1:{raft_ports[i]}",
                    f"--peers={peers}", listen=self.addresses[i]))
        except BaseException:
            self.kill()
            raise

    def client(self, first=0, **options):
        """A client of every node, node `first` first."""
        order = self.addresses[first:] + self.addresses[:first]
        # The default attempt budget (64, the C++ client's): these tests
        # check that it is enough to find a new leader.
        options.setdefault("timeout", 20.0)
        return mvkv.Client(",".join(order), **options)

    def leader(self):
        """The index of the leader, as a client finds it by writing."""
        with self.client() as c:
            c.put("leader-probe", "x")
            return self.addresses.index(c.current_server)

    def kill(self):
        for node in self.nodes:
            node.kill()


def unread_bytes(port):
    """Bytes received but not read on the server side of connections to
    127.0.0.1:port (a stopped server's pending requests)."""
    out = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if line)


class ClusterTest(harness.unittest.TestCase):

    def setUp(self):
        self.cluster = Cluster()
        self.addCleanup(self.cluster.kill)
        self.leader = self.cluster.leader()
        self.follower = (self.leader + 1) % 3

    def test_a_client_starting_at_a_follower_goes_through_the_leader(self):
        with self.cluster.client(first=self.follower) as c:
            self.assertEqual(c.current_server,
                             self.cluster.addresses[self.follower])
            ts = c.put("k", "v1")
            self.assertEqual(c.current_server,
                             self.cluster.addresses[self.leader])
            kv = c.get("k")
            self.assertEqual((kv.value, kv.commit_ts), (b"v1", ts))
        with self.cluster.client(first=self.follower) as c:
            # A scan refused before its first chunk is reopened on the leader.
            self.assertEqual([(x.key, x.value) for x in c.scan(b"k", b"l")],
                             [(b"k", b"v1")])
            self.assertEqual(c.current_server,
                             self.cluster.addresses[self.leader])

    def test_after_the_leader_is_killed_one_put_finds_the_new_leader(self):
        with self.cluster.client(first=self.leader) as c:
            c.put("k", "before")
            self.cluster.nodes[self.leader].stop(signal.SIGKILL)
            ts = c.put("k", "after")  # one call: its attempts find the leader
            self.assertNotEqual(c.current_server,
                                self.cluster.addresses[self.leader])
            kv = c.get("k")
            self.assertEqual((kv.value, kv.commit_ts), (b"after", ts))

    def test_a_stale_read_on_a_follower_returns_its_applied_timestamp(self):
        with self.cluster.client() as c:
            ts = c.put("s", "v")
        address = self.cluster.addresses[self.follower]
        with mvkv.Client(address, max_attempts=1) as f:
            # Linearizable: the follower refuses (one attempt: not followed).
            with self.assertRaises(mvkv.Unavailable):
                f.get("s")
            # The refusal made the leader current: a new client for the rest.
            self.assertNotEqual(f.current_server, address)
        with mvkv.Client(address) as f:
            # Stale: served here once the follower applied the put.
            kv, applied = harness.wait_for(
                lambda: self._stale(f, "s"), "the follower to apply the put")
            self.assertEqual((kv.value, kv.commit_ts), (b"v", ts))
            self.assertGreaterEqual(applied, ts)
            self.assertEqual(f.current_server, address)
            self.assertEqual([c.value for c in f.scan(consistency="stale")
                              if c.key == b"s"], [b"v"])

    @staticmethod
    def _stale(client, key):
        try:
            return client.get_stale(key)
        except mvkv.NotFound:
            return None

    def test_a_broken_write_is_not_sent_again_a_broken_read_is(self):
        leader = self.cluster.nodes[self.leader]
        with self.cluster.client(first=self.leader) as c:
            c.put("r", "read me")
            os.kill(leader.pid, signal.SIGSTOP)
            outcomes = {}

            def call(name, fn):
                try:
                    outcomes[name] = fn()
                except mvkv.MvkvError as e:
                    outcomes[name] = e

            # Each request reaches the stopped leader's socket, unread,
            # before the next call starts and before the kill.
            threads = []
            for name, fn in (("put", lambda: c.put("w", "once")),
                             ("get", lambda: c.get("r"))):
                before = unread_bytes(leader.port)
                threads.append(threading.Thread(target=call, args=(name, fn)))
                threads[-1].start()
                harness.wait_for(
                    lambda: unread_bytes(leader.port) > before,
                    f"the {name} to reach the stopped leader")
            leader.stop(signal.SIGKILL)
            for t in threads:
                t.join(30)
                self.assertFalse(t.is_alive())
        self.assertIsInstance(outcomes["put"], mvkv.Unavailable)
        self.assertEqual(outcomes["get"].value, b"read me")
        with self.cluster.client(first=self.follower) as c:
            with self.assertRaises(mvkv.NotFound):
                c.get("w")  # never committed: not sent elsewhere


if __name__ == "__main__":
    harness.main()
