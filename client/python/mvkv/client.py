"""Client: the connection to mvkv_server (one, or the nodes of a cluster)
and every call of mvkv.v1.KV.

The Python twin of the C++ client (client/client.h): the same calls, types
and words. proto/kv.proto is the wire contract behind it; every status code
the server returns is raised as the mvkv.errors class of that code.

  client = mvkv.Client("127.0.0.1:7070")
  client.put("alice", "100")
  with client.begin(mvkv.Isolation.SERIALIZABLE) as txn:   # commits at the end
      txn.put("bob", txn.get("alice").value)
  client.transact(lambda txn: txn.put("carol", "1"))       # retried on conflict

Transactions come in three forms, as on the wire:
  * Txn (begin, transact): interactive, on a Session stream; it lives as
    long as the stream;
  * TxnHandle (begin_handle): interactive through unary calls, kept alive
    by a lease that every call renews;
  * compare_and_commit: compares, then the operations of the branch they
    chose, in one serializable transaction the server retries.

Every call carries a deadline: `timeout` seconds for a unary call or a whole
scan, `txn_timeout` for a Txn's stream as a whole. Connection problems and a
server that is shutting down raise Unavailable, a passed deadline
DeadlineExceeded.

Given several servers (a cluster's nodes: "h1:p1,h2:p2,h3:p3"), the client
follows the leader as the C++ client does (mvkv._router): a node that does
not lead refuses with the leader's address, and the call goes there; a
server that cannot be reached is skipped; a broken call is sent again only
if it is a read. Unary calls follow these rules, at most `max_attempts`
attempts within one `timeout`. A Txn, TxnHandle, scan or watch stays on the
server it opened on. consistency="stale" lets get and scan read any node at
its applied state.

Server-streamed calls go through Client._stream, a generator that cancels
the call when it is closed early: scan_chunks and watch.

Thread safety: a Client is thread-safe (calls may run concurrently on its
one channel). A Txn or TxnHandle is used by one thread at a time.
"""

import dataclasses
import itertools
import threading
import time

import grpc

from mvkv import _router, _wire, data, errors, retry
from mvkv._proto import health_pb2, health_pb2_grpc, kv_pb2, kv_pb2_grpc
from mvkv.txn import Txn, TxnHandle

_KV_SERVICE = kv_pb2.DESCRIPTOR.services_by_name["KV"].full_name
_SERVING = health_pb2.HealthCheckResponse.SERVING
_CONSISTENCY = {"linearizable": kv_pb2.LINEARIZABLE, "stale": kv_pb2.STALE}


def _consistency(consistency):
    """The wire's Consistency for "linearizable" or "stale"."""
    try:
        return _CONSISTENCY[consistency]
    except (KeyError, TypeError):
        raise errors.InvalidArgument(
            f"consistency must be 'linearizable' or 'stale', got "
            f"{consistency!r}") from None


class _Stubs:
    """The stubs of one server's channel (an _router.Endpoint's)."""

    def __init__(self, channel):
        self.kv = kv_pb2_grpc.KVStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)


def _credentials(tls):
    """Channel credentials for Client's `tls` argument; None = plaintext."""
    if tls is None or tls is False:
        return None
    if isinstance(tls, grpc.ChannelCredentials):
        return tls
    if tls is True:
        return grpc.ssl_channel_credentials()
    try:
        with open(tls, "rb") as f:
            return grpc.ssl_channel_credentials(root_certificates=f.read())
    except (OSError, TypeError) as e:
        raise errors.InvalidArgument(
            f"cannot read the TLS CA file {tls!r}: {e}") from None


class Client:
    """A connection to mvkv_server at `server`: "HOST:PORT", or the nodes of
    a cluster, "HOST:PORT,HOST:PORT,..." (the client follows the leader; see
    the module comment).

    token: sent as "authorization: Bearer <token>" on every call; None = none
      (a server started with --auth_token answers Unauthenticated without).
    tls: None for plaintext; a path to the PEM file of the CA that signed the
      server's certificate; True for the system's trusted roots; or a
      grpc.ChannelCredentials, used as it is. tls_server_name overrides the
      name checked against the certificate (default: the host of address).
    timeout: seconds, the deadline of every unary call (all its attempts
      together) and of a whole scan.
    max_attempts: attempts of a unary call in all, >= 1 (see the module
      comment for when a call is sent again); 64 as in the C++ client
      (ClientOptions::max_attempts): with the back-off of 25 ms doubling to
      100 ms, about 6 s of pauses, enough to ride out an election.
    txn_timeout: seconds, the deadline of each Txn's stream as a whole.

    Creating a Client does no I/O: a wrong address shows on the first call
    (Unavailable). InvalidArgument for an empty address, max_attempts < 1
    or an unreadable CA file. close() (or `with Client(...) as client:`) closes the channel.
    """

    def __init__(self, server, token=None, tls=None, *, tls_server_name=None,
                 timeout=10.0, txn_timeout=60.0, max_attempts=64):
        if max_attempts < 1:
            raise errors.InvalidArgument(
                f"max_attempts must be at least 1, got {max_attempts}")
        # Stats and big values may exceed gRPC's default 4 MiB.
        options = [("grpc.max_receive_message_length", -1)]
        if tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        credentials = _credentials(tls)

        def make_channel(address):
            if credentials is None:
                return grpc.insecure_channel(address, options=options)
            return grpc.secure_channel(address, credentials, options=options)

        self._router = _router.Router(server, make_channel, _Stubs)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.address = server
        self.timeout = timeout
        self.txn_timeout = txn_timeout
        self.max_attempts = max_attempts

    @property
    def current_server(self):
        """The address calls go to now (changes as the client follows the
        leader)."""
        return self._router.current().address

    def close(self):
        self._router.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- Autocommit calls. ----

    def get(self, key, *, snapshot_ts=0, consistency="linearizable"):
        """The newest version of `key` as a KeyValue; NotFound if missing.
        snapshot_ts: 0 = the latest state (linearizable); otherwise served
        only if it is the latest visible timestamp (OutOfRange if not).
        consistency: "linearizable" (in a cluster, served by the leader) or
        "stale" (the current server answers at its applied state, which
        get_stale returns)."""
        return self.get_stale(key, snapshot_ts=snapshot_ts,
                              consistency=consistency)[0]

    def get_stale(self, key, *, snapshot_ts=0, consistency="stale"):
        """As get, but (KeyValue, snapshot_ts): the snapshot the read used
        (for a stale read, the applied commit timestamp of the node that
        answered; see GetResponse in proto/kv.proto)."""
        r = self._unary("Get", kv_pb2.GetRequest(
            key=_wire.to_bytes(key), snapshot_ts=snapshot_ts,
            consistency=_consistency(consistency)), idempotent=True)
        return _wire.kv_from_proto(r.kv), r.snapshot_ts

    def put(self, key, value):
        """Writes `key` in its own transaction; returns the commit timestamp
        once the write is visible and durable."""
        return self._unary("Put", kv_pb2.PutRequest(
            key=_wire.to_bytes(key),
            value=_wire.to_bytes(value, "value"))).commit_ts

    def delete(self, key):
        """Deletes `key` in its own transaction; a DeleteResult (existed is
        False, commit_ts 0, for a missing key)."""
        r = self._unary("Delete",
                        kv_pb2.DeleteRequest(key=_wire.to_bytes(key)))
        return data.DeleteResult(r.existed, r.commit_ts)

    def scan(self, start=b"", end=b"", limit=0, *, snapshot_ts=0,
             chunk_size=0, consistency="linearizable"):
        """A generator of the KeyValues with start <= key < end (empty = no
        bound) in key order, at most `limit` (0 = no limit), all read at one
        snapshot; the server streams them in chunks (scan_chunks), read as
        the generator is consumed. Closing the generator early cancels the
        stream. Errors are raised as the generator reaches them.
        consistency: as get's (a stale scan's chunks carry the node's
        applied timestamp as snapshot_ts). The stream stays on the server
        it opened on; a refusal before the first chunk is followed as a
        unary read's."""
        chunks = self.scan_chunks(start, end, limit, snapshot_ts=snapshot_ts,
                                  chunk_size=chunk_size,
                                  consistency=consistency)
        return (kv for chunk in chunks for kv in chunk.kvs)

    def scan_chunks(self, start=b"", end=b"", limit=0, *, snapshot_ts=0,
                    chunk_size=0, consistency="linearizable"):
        """As scan, but a generator of the streamed chunks, each a
        ScanResult (chunk_size pairs at most, 0 = the server's default;
        snapshot_ts is the scan's; the last chunk says `more` when the limit
        cut the range short). An empty range yields one empty chunk."""
        request = _wire.scan_request(start, end, limit,
                                     snapshot_ts=snapshot_ts,
                                     chunk_size=chunk_size,
                                     consistency=_consistency(consistency))
        return self._stream("Scan", request, _wire.scan_from_proto,
                            follow=True)

    def compare_and_commit(self, compares=(), success=(), failure=()):
        """Evaluates every Compare, then runs the Ops of `success` if all
        held, else those of `failure`, in one serializable transaction (the
        server retries its conflicts). A CompareAndCommitResult with one
        OpResult per op of the branch that ran. InvalidArgument for a bad
        key, value, range or compare; nothing is written then."""
        r = self._unary("CompareAndCommit",
                        _wire.compare_and_commit_request(compares, success,
                                                         failure))
        return _wire.compare_and_commit_result(
            r, list(success if r.succeeded else failure))

    def stats(self):
        """The server's statistics, a Stats mapping by field name."""
        return _wire.stats_from_proto(
            self._unary("Stats", kv_pb2.StatsRequest(), idempotent=True))

    def health(self):
        """Returns if the server answers the standard health check for
        mvkv.v1.KV with SERVING; raises Unavailable with the state
        otherwise. (Asks the current server; with several, one that cannot
        be reached is skipped.)"""
        r = self._unary("Check",
                        health_pb2.HealthCheckRequest(service=_KV_SERVICE),
                        idempotent=True, stub="health")
        if r.status != _SERVING:
            state = health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
            raise errors.Unavailable(f"server is {state}")

    # ---- Transactions. ----

    def begin(self, isolation=data.Isolation.SNAPSHOT):
        """Opens an interactive transaction on a new Session stream: a Txn,
        best used as `with client.begin(...) as txn:`. isolation: an
        Isolation or its name ("snapshot", "serializable",
        "read_committed"). ResourceExhausted past the server's
        --max_open_txns; InvalidArgument for a bad isolation level."""
        return Txn(self._router.current().stubs.kv, self._metadata,
                   self.txn_timeout, _wire.isolation(isolation))

    # `with client.transaction(isolation=...) as txn:` reads best.
    transaction = begin

    def begin_handle(self, isolation=data.Isolation.SNAPSHOT):
        """Opens a transaction handle (BeginTxn): a TxnHandle, also usable
        with `with`; it and its calls stay on the current server (one
        attempt each). Errors as begin."""
        endpoint = self._router.current()
        r = self._unary_on(endpoint, "BeginTxn", kv_pb2.BeginTxnRequest(
            isolation=_wire.isolation(isolation)))
        return TxnHandle(self, r, endpoint)

    def transact(self, fn, *, isolation=data.Isolation.SNAPSHOT,
                 retries=None):
        """Runs fn(txn) in a new interactive transaction and commits it;
        returns what fn returned. On a conflict or snapshot too old (raised
        by fn or by the commit; mvkv.retry.is_retryable) starts over with a
        new transaction after a jittered back-off. Anything else fn raises
        rolls back and propagates. When every attempt failed, raises the
        last error, its message prefixed "gave up after N attempts: ".

        retries: None for retry.TRANSACT_POLICY (10 attempts, 1 ms to 100 ms
        back-off, as the C++ client); an int n for that policy with n
        retries (n + 1 attempts); or a RetryPolicy. InvalidArgument for a
        bad policy.
        """
        policy = retries
        if policy is None:
            policy = retry.TRANSACT_POLICY
        elif isinstance(policy, int):
            policy = dataclasses.replace(retry.TRANSACT_POLICY,
                                         max_attempts=retries + 1)
        policy.validate()

        def attempt():
            with self.begin(isolation) as txn:
                return fn(txn)

        return retry.retry(policy, attempt)

    # ---- Watches. ----

    def watch(self, prefix=b"", *, key=None, start=None, end=b"",
              start_ts=0, keys_only=False, progress_interval_ms=0,
              max_resumes=10, max_commits_per_response=1024):
        """A generator of data.WatchEvent: every commit to the keys with
        `prefix` (or exactly `key`, or in [start, end)), in commit order,
        each exactly once, from the next commit on (or from commit
        `start_ts`); progress events every progress_interval_ms if set.

        Resumes by itself, from the last commit (or progress) returned + 1,
        when the stream drops (Unavailable) or the watcher fell behind
        (ResourceExhausted), up to max_resumes times in a row. Raises what a
        resume cannot fix: OutOfRange "compacted" (those commits are gone:
        re-read, then watch from the read's snapshot + 1), InvalidArgument,
        Unauthenticated, ... Closing the generator cancels the stream.
        The server may pack up to max_commits_per_response ready commits
        into one response (1 = one per response); they are still yielded
        one commit at a time.
        """
        create = kv_pb2.WatchCreateRequest(
            watch_id=1, keys_only=keys_only,
            progress_interval_ms=progress_interval_ms,
            max_commits_per_response=max_commits_per_response)
        if key is not None:
            create.key = _wire.to_bytes(key)
        elif start is not None:
            create.range.start = _wire.to_bytes(start, "start")
            create.range.end = _wire.to_bytes(end, "end")
        else:
            create.prefix = _wire.to_bytes(prefix, "prefix")
        next_ts, failures = start_ts, 0
        while True:
            create.start_ts = next_ts
            stop = threading.Event()

            def requests(first=kv_pb2.WatchRequest(create=create)):
                yield first
                stop.wait()  # half-closing would end the stream when idle

            error, commit = None, None
            try:
                for r in self._stream("Watch", requests(),
                                      lambda m: m, timeout=None):
                    kind = r.WhichOneof("event")
                    if kind == "created":
                        next_ts = r.created.start_ts
                    elif kind == "progress":
                        next_ts = max(next_ts, r.progress.ts + 1)
                        failures = 0
                        yield data.WatchEvent(r.progress.ts, progress=True)
                    elif kind == "commit":
                        if commit is None:
                            commit = data.WatchEvent(
                                r.commit.commit_ts,
                                commit_time_ns=r.commit.commit_time_unix_ns)
                        commit.changes.extend(
                            data.WatchChange(c.key, c.value, c.deleted)
                            for c in r.commit.changes)
                        if not r.commit.more:
                            next_ts, failures = commit.commit_ts + 1, 0
                            event, commit = commit, None
                            yield event
                    elif kind == "commits":  # whole commits, in order
                        for c in r.commits.commits:
                            next_ts, failures = c.commit_ts + 1, 0
                            yield data.WatchEvent(c.commit_ts, [
                                data.WatchChange(ch.key, ch.value, ch.deleted)
                                for ch in c.changes],
                                commit_time_ns=c.commit_time_unix_ns)
                    elif kind == "ended":
                        error = errors.from_status(r.ended.code,
                                                   r.ended.message)
                        break
                else:
                    error = errors.Unavailable("watch stream ended")
            except errors.Unavailable as e:
                error = e
            finally:
                stop.set()
            if not isinstance(error, (errors.Unavailable,
                                      errors.ResourceExhausted)):
                raise error
            failures += 1
            if failures > max_resumes:
                raise error
            time.sleep(min(0.01 * 2 ** failures, 1.0))

    # ---- The wire. ----

    def _unary(self, name, request, *, idempotent=False, stub="kv"):
        """Calls unary method `name` of the current server's `stub`,
        following the routing rules (mvkv._router) for at most max_attempts
        attempts within self.timeout. `idempotent`: a read, which may be
        sent again after the connection broke during the call."""
        deadline = time.monotonic() + self.timeout
        for attempt in itertools.count(1):
            endpoint = self._router.current()
            remaining = deadline - time.monotonic()
            # With one server the call is sent as it is (nowhere else to
            # go; a SIGSTOPped server must show as DeadlineExceeded).
            sent = self._router.single() or endpoint.reachable(remaining)
            try:
                if not sent:
                    raise errors.Unavailable(
                        f"cannot reach mvkv_server at {endpoint.address}")
                method = getattr(getattr(endpoint.stubs, stub), name)
                return method(request, timeout=max(remaining, 0.0),
                              metadata=self._metadata)
            except (grpc.RpcError, errors.Unavailable) as e:
                error = e if isinstance(e, errors.MvkvError) \
                    else errors.from_rpc_error(e)
                code = grpc.StatusCode.UNAVAILABLE if not sent else e.code()
                pause = self._router.after(
                    endpoint, code, _router.leader_of(e), sent, idempotent,
                    attempt, self.max_attempts)
                if pause is None or \
                        time.monotonic() + pause >= deadline:
                    raise error from None
            time.sleep(pause)

    def _unary_on(self, endpoint, name, request):
        """One attempt of `name` on `endpoint`'s KV stub (a TxnHandle's
        calls stay on the server that holds the transaction)."""
        try:
            return getattr(endpoint.stubs.kv, name)(
                request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from None

    def _stream(self, name, request, convert, timeout=..., follow=False):
        """A generator of convert(message) for each message the
        server-streamed KV method `name` sends (`timeout`: the whole
        call's, None = none; default the client's), on the current server.
        follow: a read that, failed before its first message, may be
        reopened where the routing rules say (bounded as a unary call: all
        attempts within the one timeout)."""
        timeout = self.timeout if timeout is ... else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in itertools.count(1):
            endpoint = self._router.current()
            remaining = None if deadline is None else \
                max(deadline - time.monotonic(), 0.0)
            call = getattr(endpoint.stubs.kv, name)(
                request, timeout=remaining, metadata=self._metadata)
            received = False
            try:
                for message in call:
                    received = True
                    yield convert(message)
                return
            except grpc.RpcError as e:
                pause = None
                if follow and not received:
                    pause = self._router.after(
                        endpoint, e.code(), _router.leader_of(e), True, True,
                        attempt, self.max_attempts)
                if pause is None or (deadline is not None and
                                     time.monotonic() + pause >= deadline):
                    raise errors.from_rpc_error(e) from None
            finally:
                call.cancel()  # a no-op once the stream has ended
            time.sleep(pause)
