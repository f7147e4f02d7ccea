"""Interactive transactions: Txn on a Session stream, TxnHandle over unary
calls (proto/kv.proto, groups 3 and 4). Client.begin and Client.begin_handle
make them; as in the C++ client (client/client.h), a Txn lives as long as
its stream and a TxnHandle as long as its lease.

Both are context managers: leaving the `with` block commits the txn when
the block ended normally and rolls it back when it raised (the exception
goes on; a failed commit raises, e.g. Aborted). A txn already committed or
rolled back inside the block is left as it is.

Errors are those of mvkv.errors, whether the server reported them in band
(a Session operation) or as the call's status (a handle RPC, a broken
stream): the codes of SessionRequest and of the handle RPCs in
proto/kv.proto.

Thread safety: a Txn or TxnHandle is used by one thread at a time.
"""

import queue

import grpc

from mvkv import _wire, errors
from mvkv._proto import kv_pb2

# The request iterator's end: the stream is half-closed when it is taken.
_HALF_CLOSE = object()


class _Scoped:
    """The context-manager behaviour Txn and TxnHandle share."""

    # True once commit(), rollback() or close() was called.
    _finished = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if not self._finished:
                if exc_type is None:
                    self.commit()
                else:
                    self._rollback_quietly()
        finally:
            self._release()
        return False

    def _rollback_quietly(self):
        try:
            self.rollback()
        except errors.MvkvError:
            pass  # already gone (rolled back by the server, stream broken)

    def _release(self):
        """Frees what the object holds (overridden by Txn)."""


class Txn(_Scoped):
    """An interactive transaction on its own Session stream.

    Closing the stream (close(), the end of a `with` block, or dropping the
    object) rolls back whatever is still open, and so does the server when
    the connection is lost or the stream's deadline (the client's
    txn_timeout) passes. A broken stream raises its final status (or
    Unavailable), and every later call raises Unavailable.

    Attributes: id, the txn_id the server names this txn by (messages,
    Stats.oldest_snapshot_txn_id); snapshot_ts (0 for READ_COMMITTED).
    """

    def __init__(self, stub, metadata, timeout, isolation):
        """Internal: use Client.begin."""
        self._requests = queue.SimpleQueue()
        self._responses = stub.Session(iter(self._requests.get, _HALF_CLOSE),
                                       timeout=timeout, metadata=metadata)
        try:
            begin = self._call(
                kv_pb2.SessionRequest(
                    begin=kv_pb2.BeginRequest(isolation=isolation)), "begin")
        except BaseException:
            self.close()
            raise
        self.id = begin.txn_id
        self.snapshot_ts = begin.snapshot_ts

    def get(self, key):
        """The txn's view of `key` as a KeyValue; NotFound if missing."""
        r = self._call(kv_pb2.SessionRequest(
            get=kv_pb2.GetRequest(key=_wire.to_bytes(key))), "get")
        return _wire.kv_from_proto(r.kv)

    def put(self, key, value):
        self._call(kv_pb2.SessionRequest(put=kv_pb2.PutRequest(
            key=_wire.to_bytes(key), value=_wire.to_bytes(value, "value"))),
            "put")

    def delete(self, key):
        self._call(kv_pb2.SessionRequest(
            delete=kv_pb2.DeleteRequest(key=_wire.to_bytes(key))), "delete")

    def scan(self, start=b"", end=b"", limit=0):
        """One ScanResult: the pairs with start <= key < end (empty = no
        bound), at most `limit` (0 = no limit) and the server's size cap;
        `more` and `resume_key` say whether and where to go on."""
        r = self._call(kv_pb2.SessionRequest(
            scan=_wire.scan_request(start, end, limit)), "scan")
        return _wire.scan_from_proto(r)

    def commit(self):
        """Commits; returns the commit timestamp (0 if nothing was written).
        Aborted on a conflict. Ends the txn on any outcome."""
        self._finished = True
        r = self._call(kv_pb2.SessionRequest(commit=kv_pb2.CommitRequest()),
                       "commit")
        return r.commit_ts

    def rollback(self):
        self._finished = True
        self._call(kv_pb2.SessionRequest(rollback=kv_pb2.RollbackRequest()),
                   "rollback")

    def close(self):
        """Half-closes the stream (the server rolls back what is open) and
        waits, up to the stream's deadline, for the server to end it.
        Idempotent."""
        responses, self._responses = self._responses, None
        if responses is None:
            return
        self._finished = True
        self._requests.put(_HALF_CLOSE)
        try:
            for _ in responses:
                pass  # nothing is pending: the server ends the stream
        except grpc.RpcError:
            pass  # ended with an error: ended all the same

    _release = close

    def __del__(self):
        # Dropped unclosed: half-close without waiting. The request queue's
        # reader (gRPC's thread) must be let go in any case; gRPC cancels
        # the call when the response iterator is collected.
        if getattr(self, "_responses", None) is not None:
            self._requests.put(_HALF_CLOSE)

    def _call(self, request, result):
        """Sends one request, reads its response, raises its in-band error;
        returns the response's `result` field."""
        if self._responses is None:
            raise errors.Unavailable("transaction stream closed")
        self._requests.put(request)
        try:
            response = next(self._responses)
        except StopIteration:
            self._broken()
            raise errors.Unavailable("transaction stream ended") from None
        except grpc.RpcError as e:
            self._broken()
            raise errors.from_rpc_error(e) from None
        if response.code != 0:
            raise errors.from_status(response.code, response.message)
        return getattr(response, result)

    def _broken(self):
        # Not _finished: a `with` block that goes on to end normally must
        # not pass for committed (its commit raises Unavailable).
        self._responses = None
        self._requests.put(_HALF_CLOSE)


class TxnHandle(_Scoped):
    """A transaction handle: an interactive transaction through unary
    calls, rolled back by the server when no call arrives for `lease`
    seconds (every call, and keep_alive(), renews it). Dropping the object
    without commit or rollback leaves the handle to its lease.

    Errors besides each operation's own: NotFound for a handle the server
    forgot, Aborted for one it rolled back (the message says why),
    FailedPrecondition after commit or rollback or while a commit is in
    progress.

    Attributes: id (the txn_id), snapshot_ts, lease (seconds).
    """

    def __init__(self, client, response, endpoint=None):
        """Internal: use Client.begin_handle. endpoint: the server holding
        the txn (default: the client's current one)."""
        self._client = client
        self._endpoint = endpoint or client._router.current()
        self.id = response.txn_id
        self.snapshot_ts = response.snapshot_ts
        self.lease = response.lease_ms / 1000.0

    def get(self, key):
        """The txn's view of `key` as a KeyValue; NotFound if missing."""
        r = self._unary("TxnGet", kv_pb2.TxnGetRequest(
            txn_id=self.id, key=_wire.to_bytes(key)))
        return _wire.kv_from_proto(r.kv)

    def put(self, key, value):
        self._unary("TxnPut", kv_pb2.TxnPutRequest(
            txn_id=self.id, key=_wire.to_bytes(key),
            value=_wire.to_bytes(value, "value")))

    def delete(self, key):
        self._unary("TxnDelete", kv_pb2.TxnDeleteRequest(
            txn_id=self.id, key=_wire.to_bytes(key)))

    def scan(self, start=b"", end=b"", limit=0):
        """As Txn.scan: one capped ScanResult."""
        r = self._unary("TxnScan", kv_pb2.TxnScanRequest(
            txn_id=self.id, start=_wire.to_bytes(start, "start"),
            end=_wire.to_bytes(end, "end"), limit=limit))
        return _wire.scan_from_proto(r)

    def keep_alive(self):
        """Renews the lease."""
        self._unary("KeepAlive", kv_pb2.KeepAliveRequest(txn_id=self.id))

    def commit(self):
        """Commits and ends the handle (on any outcome); returns the commit
        timestamp (0 if nothing was written). Aborted on a conflict."""
        self._finished = True
        return self._unary("CommitTxn", kv_pb2.CommitTxnRequest(
            txn_id=self.id)).commit_ts

    def rollback(self):
        self._finished = True
        self._unary("RollbackTxn", kv_pb2.RollbackTxnRequest(txn_id=self.id))

    def _unary(self, method, request):
        return self._client._unary_on(self._endpoint, method, request)
