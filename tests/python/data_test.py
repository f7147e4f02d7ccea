"""mvkv.data and its wire conversions: Stats by field name (every field, in
the server's order, nested and repeated ones named by path), Compare's
target chosen by its operand, isolation names."""

import unittest

import harness
import mvkv
from mvkv import _wire
from mvkv._proto import kv_pb2


class DataTest(unittest.TestCase):

    def test_stats_lists_every_field_in_declared_order_unset_ones_too(self):
        response = kv_pb2.StatsResponse(commits=7, open_handles=2,
                                        oldest_snapshot_holder="session")
        stats = _wire.stats_from_proto(response)
        self.assertEqual(list(stats),
                         [f.name for f in response.DESCRIPTOR.fields])
        self.assertEqual(stats["commits"], 7)
        self.assertEqual(stats.number("open_handles"), 2)
        self.assertEqual(stats.number("live_keys"), 0)
        self.assertEqual(stats.text("oldest_snapshot_holder"), "session")
        self.assertEqual(stats.number("oldest_snapshot_holder"), 0)
        self.assertEqual(stats.text("commits"), "")
        self.assertEqual(stats.number("no_such_field"), 0)
        self.assertNotIn("no_such_field", stats)

    def test_nested_and_repeated_fields_are_named_by_path(self):
        message = kv_pb2.ScanResponse(
            kvs=[kv_pb2.KeyValue(key=b"a", commit_ts=3),
                 kv_pb2.KeyValue(key=b"b")], more=True)
        entries = []
        _wire._flatten(message, "", entries)
        names = dict(entries)
        self.assertEqual(names["kvs.0.key"], b"a")
        self.assertEqual(names["kvs.0.commit_ts"], 3)
        self.assertEqual(names["kvs.1.key"], b"b")
        self.assertEqual(names["more"], 1)
        self.assertNotIn("kvs.2.key", names)

    def test_compare_takes_its_target_from_its_one_operand(self):
        self.assertIs(mvkv.Compare("k", value=b"v").target,
                      mvkv.Compare.Target.VALUE)
        c = mvkv.Compare("k", version=5, result=mvkv.Compare.Result.GREATER)
        self.assertIs(c.target, mvkv.Compare.Target.VERSION)
        self.assertEqual(c.version, 5)
        self.assertIs(c.result, mvkv.Compare.Result.GREATER)
        self.assertIs(mvkv.Compare("k", exists=False).target,
                      mvkv.Compare.Target.EXISTS)
        with self.assertRaises(TypeError):
            mvkv.Compare("k")
        with self.assertRaises(TypeError):
            mvkv.Compare("k", value=b"v", version=1)

    def test_keys_are_bytes_or_utf8_text(self):
        self.assertEqual(_wire.to_bytes("é"), "é".encode())
        self.assertEqual(_wire.to_bytes(bytearray(b"\x00\xff")), b"\x00\xff")
        with self.assertRaisesRegex(TypeError, "key must be bytes or str"):
            _wire.to_bytes(5)

    def test_isolation_by_name(self):
        self.assertIs(mvkv.parse_isolation("read_committed"),
                      mvkv.Isolation.READ_COMMITTED)
        self.assertEqual(_wire.isolation("serializable"), 1)
        with self.assertRaisesRegex(mvkv.InvalidArgument, "repeatable"):
            mvkv.parse_isolation("repeatable")


if __name__ == "__main__":
    harness.main()
