"""The client's own data types; no generated protobuf type appears in the API.

They mirror client/client.h one to one (KeyValue, ScanResult, DeleteResult,
Stats, Compare, Op, OpResult, CompareAndCommitResult, Isolation), so a user
of both libraries meets the same words. Keys and values are raw bytes: every
argument taking one accepts bytes (or bytearray, memoryview) or str (sent as
UTF-8), and every result holds bytes.

Thread safety: plain values; Compare and Op are immutable.
"""

import collections.abc
import dataclasses
import enum
from typing import List, Optional

from mvkv import errors


class Isolation(enum.IntEnum):
    """The engine's isolation levels (mvcc/db.h explains each); the values
    are the wire's."""

    SNAPSHOT = 0
    SERIALIZABLE = 1
    READ_COMMITTED = 2


def parse_isolation(name):
    """Isolation for "snapshot", "serializable" or "read_committed";
    InvalidArgument otherwise."""
    try:
        return Isolation[name.upper()]
    except KeyError:
        raise errors.InvalidArgument(
            f'unknown isolation level "{name}" '
            "(snapshot, serializable or read_committed)") from None


@dataclasses.dataclass
class KeyValue:
    key: bytes
    value: bytes
    # Commit timestamp of the version read; 0 for a txn's own uncommitted
    # write.
    commit_ts: int = 0


@dataclasses.dataclass
class ScanResult:
    """One scan response (a streamed chunk, or a txn's capped scan).

    Iterating it iterates its pairs.
    """

    kvs: List[KeyValue] = dataclasses.field(default_factory=list)
    snapshot_ts: int = 0
    # More pairs exist in the range than were returned (the limit, or the
    # server's response size cap for one-response scans, cut it short); a
    # scan that goes on starts at resume_key.
    more: bool = False
    resume_key: bytes = b""

    def __iter__(self):
        return iter(self.kvs)

    def __len__(self):
        return len(self.kvs)


@dataclasses.dataclass
class WatchChange:
    key: bytes
    value: bytes = b""  # empty for a delete or a keys_only watch
    deleted: bool = False


@dataclasses.dataclass
class WatchEvent:
    """One commit to a watched range (all its changes there, in key order),
    or, with progress set, word that every commit <= commit_ts was
    returned. commit_time_ns: the server's clock (ns since the Unix epoch)
    when the commit entered its change buffer, so time.time_ns() - it is the
    event's age on a synced clock; 0 for a progress event."""

    commit_ts: int
    changes: List[WatchChange] = dataclasses.field(default_factory=list)
    progress: bool = False
    commit_time_ns: int = 0


@dataclasses.dataclass
class DeleteResult:
    existed: bool = False
    commit_ts: int = 0  # 0 when nothing existed


class Stats(collections.abc.Mapping):
    """The server's statistics (proto/kv.proto, StatsResponse), by field
    name, in the server's order: counters are ints, a few are text (who holds
    the oldest snapshot, ...). A mapping: stats["open_handles"], dict(stats).
    A nested message's fields are named "outer.inner", a repeated field's
    items "name.0", "name.1", ..."""

    def __init__(self, entries):
        # [(name, value)] in the server's order.
        self.entries = list(entries)
        self._by_name = dict(self.entries)

    def __getitem__(self, name):
        return self._by_name[name]

    def __iter__(self):
        return (name for name, _ in self.entries)

    def __len__(self):
        return len(self.entries)

    def number(self, name):
        """The named number; 0 if absent or text (as C++ Stats::Number)."""
        value = self._by_name.get(name)
        return value if isinstance(value, (int, float)) else 0

    def text(self, name):
        """The named text; "" if absent or a number (as Stats::Text)."""
        value = self._by_name.get(name)
        return value if isinstance(value, str) else ""

    def __repr__(self):
        return f"Stats({self.entries!r})"


class Compare:
    """One condition of a CompareAndCommit, on one key. Give exactly one
    operand, which chooses the target:

      Compare(key, value=b"x")   the value bytes (bytewise order; a missing
                                 key never satisfies a value compare)
      Compare(key, version=ts)   the commit_ts of the key's newest live
                                 version, 0 if absent
      Compare(key, exists=True)  whether the key has a live version
                                 (EQUAL and NOT_EQUAL only)

    and `result` (default EQUAL) how the key's side relates to the operand.
    """

    class Target(enum.IntEnum):
        VALUE = 0
        VERSION = 1
        EXISTS = 2

    class Result(enum.IntEnum):
        EQUAL = 0
        NOT_EQUAL = 1
        LESS = 2     # the key's value/version < the operand
        GREATER = 3  # the key's value/version > the operand

    __slots__ = ("key", "target", "result", "value", "version", "exists")

    def __init__(self, key, *, value=None, version=None, exists=None,
                 result=Result.EQUAL):
        given = [name for name, operand in (("value", value),
                                            ("version", version),
                                            ("exists", exists))
                 if operand is not None]
        if len(given) != 1:
            raise TypeError("Compare needs exactly one of value=, version=, "
                            f"exists=; got {given or 'none'}")
        self.key = key
        self.target = Compare.Target[given[0].upper()]
        self.result = Compare.Result(result)
        self.value = b"" if value is None else value
        self.version = 0 if version is None else version
        self.exists = bool(exists)

    def __repr__(self):
        operand = getattr(self, self.target.name.lower())
        return (f"Compare({self.key!r}, {self.target.name.lower()}="
                f"{operand!r}, result={self.result.name})")


@dataclasses.dataclass(frozen=True)
class Op:
    """One operation of a CompareAndCommit branch. Build with the factories
    Op.get(key), Op.put(key, value), Op.delete(key),
    Op.scan(start, end=b"", limit=0)."""

    class Kind(enum.Enum):
        GET = "get"
        PUT = "put"
        DELETE = "delete"
        SCAN = "scan"

    kind: Kind
    key: bytes = b""    # GET, PUT, DELETE; SCAN's start
    value: bytes = b""  # PUT
    end: bytes = b""    # SCAN (empty = to the last key)
    limit: int = 0      # SCAN (0 = no limit)

    @classmethod
    def get(cls, key):
        return cls(Op.Kind.GET, key)

    @classmethod
    def put(cls, key, value):
        return cls(Op.Kind.PUT, key, value)

    @classmethod
    def delete(cls, key):
        return cls(Op.Kind.DELETE, key)

    @classmethod
    def scan(cls, start=b"", end=b"", limit=0):
        return cls(Op.Kind.SCAN, start, end=end, limit=limit)


@dataclasses.dataclass
class OpResult:
    """The result of one Op, at the Op's index in its branch."""

    kind: Op.Kind
    found: bool = False               # GET: the key had a live version
    kv: Optional[KeyValue] = None     # GET, when found
    existed: bool = False             # DELETE
    scan: Optional[ScanResult] = None  # SCAN


@dataclasses.dataclass
class CompareAndCommitResult:
    succeeded: bool = False  # every compare held and `success` ran
    results: List[OpResult] = dataclasses.field(default_factory=list)
    commit_ts: int = 0       # 0 if the branch wrote nothing
