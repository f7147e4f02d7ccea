"""Private: conversions between the client's types (mvkv.data) and the
generated wire messages (mvkv._proto, generated from proto/kv.proto), as
client/wire.h does for the C++ client."""

from google.protobuf import descriptor as _descriptor

from mvkv import data
from mvkv._proto import kv_pb2

_BYTES_LIKE = (bytes, bytearray, memoryview)


def to_bytes(x, what="key"):
    """bytes of a key or value given as bytes-like or str (UTF-8)."""
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, _BYTES_LIKE):
        return bytes(x)
    raise TypeError(f"{what} must be bytes or str, not {type(x).__name__}")


def isolation(level):
    """The wire's isolation number: an Isolation, its name, or any int
    (passed through: the server judges it)."""
    if isinstance(level, str):
        return int(data.parse_isolation(level))
    return int(level)


def kv_from_proto(kv):
    return data.KeyValue(kv.key, kv.value, kv.commit_ts)


def scan_from_proto(response):
    return data.ScanResult([kv_from_proto(kv) for kv in response.kvs],
                           response.snapshot_ts, response.more,
                           response.resume_key)


def scan_request(start, end, limit, **more):
    return kv_pb2.ScanRequest(start=to_bytes(start, "start"),
                              end=to_bytes(end, "end"), limit=limit, **more)


def _compare_to_proto(c):
    return kv_pb2.Compare(key=to_bytes(c.key), target=int(c.target),
                          result=int(c.result), value=to_bytes(c.value, "value"),
                          version=c.version, exists=c.exists)


def _op_to_proto(op):
    kind = data.Op.Kind
    if op.kind is kind.GET:
        return kv_pb2.Op(get=kv_pb2.GetRequest(key=to_bytes(op.key)))
    if op.kind is kind.PUT:
        return kv_pb2.Op(put=kv_pb2.PutRequest(
            key=to_bytes(op.key), value=to_bytes(op.value, "value")))
    if op.kind is kind.DELETE:
        return kv_pb2.Op(delete=kv_pb2.DeleteRequest(key=to_bytes(op.key)))
    return kv_pb2.Op(scan=scan_request(op.key, op.end, op.limit))


def compare_and_commit_request(compares, success, failure):
    return kv_pb2.CompareAndCommitRequest(
        compares=[_compare_to_proto(c) for c in compares],
        success=[_op_to_proto(op) for op in success],
        failure=[_op_to_proto(op) for op in failure])


def compare_and_commit_result(response, ops):
    """The result of `response`, whose branch ran `ops`."""
    results = []
    for i, r in enumerate(response.results):
        kind = ops[i].kind if i < len(ops) else data.Op.Kind.GET
        result = data.OpResult(kind)
        if r.HasField("get"):
            result.found = True
            result.kv = kv_from_proto(r.get.kv)
        if r.HasField("delete"):
            result.existed = r.delete.existed
        if r.HasField("scan"):
            result.scan = scan_from_proto(r.scan)
        results.append(result)
    return data.CompareAndCommitResult(response.succeeded, results,
                                       response.commit_ts)


_INTEGERS = (_descriptor.FieldDescriptor.CPPTYPE_INT32,
             _descriptor.FieldDescriptor.CPPTYPE_INT64,
             _descriptor.FieldDescriptor.CPPTYPE_UINT32,
             _descriptor.FieldDescriptor.CPPTYPE_UINT64,
             _descriptor.FieldDescriptor.CPPTYPE_BOOL)


def _field_value(field, value):
    cpp = field.cpp_type
    if cpp in _INTEGERS:
        return int(value)
    if cpp == _descriptor.FieldDescriptor.CPPTYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    return value  # str, bytes, float


def _flatten(message, prefix, out):
    """Appends (name, value) for every field of `message`, declared order,
    unset ones included (as the C++ client's wire.cc)."""
    for field in message.DESCRIPTOR.fields:
        name = prefix + field.name
        value = getattr(message, field.name)
        repeated = field.label == _descriptor.FieldDescriptor.LABEL_REPEATED
        items = [(f"{name}.{j}", v) for j, v in enumerate(value)] \
            if repeated else [(name, value)]
        for item, v in items:
            if field.cpp_type == _descriptor.FieldDescriptor.CPPTYPE_MESSAGE:
                _flatten(v, item + ".", out)
            else:
                out.append((item, _field_value(field, v)))


def stats_from_proto(response):
    entries = []
    _flatten(response, "", entries)
    return data.Stats(entries)
