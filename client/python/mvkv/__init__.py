"""mvkv: the Python client of mvkv_server (proto/kv.proto, service mvkv.v1.KV).

  import mvkv
  client = mvkv.Client("127.0.0.1:7070")
  client.put("alice", "100")
  with client.transaction(isolation=mvkv.Isolation.SERIALIZABLE) as txn:
      txn.put("bob", txn.get("alice").value)

mvkv.client documents the calls, mvkv.txn the transactions, mvkv.errors the
exception of each status code, mvkv.retry the retry policy of transact(),
mvkv.data the types. client/python/README.md shows how to build and use it.
"""

from mvkv.client import Client
from mvkv.data import (CompareAndCommitResult, Compare, DeleteResult,
                       Isolation, KeyValue, Op, OpResult, ScanResult, Stats,
                       WatchChange, WatchEvent, parse_isolation)
from mvkv.errors import (Aborted, AlreadyExists, Cancelled, DataLoss,
                         DeadlineExceeded, FailedPrecondition, Internal,
                         InvalidArgument, MvkvError, NotFound, OutOfRange,
                         PermissionDenied, ResourceExhausted, SnapshotTooOld,
                         Unauthenticated, Unavailable, Unimplemented, Unknown)
from mvkv.retry import RetryPolicy
from mvkv.txn import Txn, TxnHandle
