"""Retention, log compaction and topic config changes against the real
broker: a compacted topic keeps only the newest value per key (offsets
unchanged) and drops tombstones after delete.retention.ms; keyless records
are refused on it; retention.ms removes old segments and moves the earliest
offset; DeleteRecords moves it too and survives a restart; AlterConfigs and
IncrementalAlterConfigs show in DescribeConfigs, survive a restart, and a
bad value gets INVALID_CONFIG naming the property. Clients: confluent-kafka
(assign() only) and hand-built frames for the APIs its 1.7 admin client
lacks (IncrementalAlterConfigs, DeleteRecords)."""

import time
import unittest

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import ConfigResource, ConfigSource

try:
    from . import harness
    from .test_protocol_errors import Connection, i8, i16, i32, i64, request, string
except ImportError:  # run from inside tests/e2e
    import harness
    from test_protocol_errors import Connection, i8, i16, i32, i64, request, string

TIMEOUT = 15
INVALID_CONFIG = 40
INVALID_RECORD = 87
RESOURCE_TOPIC = 2
OP_SET, OP_DELETE, OP_APPEND, OP_SUBTRACT = 0, 1, 2, 3

# Segments roll within a second and the cleaner looks at every tick.
COMPACT_CONFIG = {
    "cleanup.policy": "compact",
    "segment.bytes": "2048",
    "segment.ms": "200",
    "min.cleanable.dirty.ratio": "0.01",
}


def latest_per_key(records):
    """offset -> (key, value) of the newest record of each key."""
    newest = {}
    for offset, key, value in records:
        newest[key] = (offset, value)
    return sorted((offset, key, value) for key, (offset, value) in newest.items())


def incremental_alter(broker, topic, ops, validate_only=False):
    """IncrementalAlterConfigs v0 for one topic; ops = [(name, op, value)].
    Returns (error_code, error_message)."""
    body = i32(1) + i8(RESOURCE_TOPIC) + string(topic.encode()) + i32(len(ops))
    for name, op, value in ops:
        body += string(name.encode()) + i8(op) + string(None if value is None else value.encode())
    body += i8(1 if validate_only else 0)
    conn = Connection(broker)
    try:
        conn.send(request(44, 0, 7, body))
        r = conn.read_response(7)
        r.i32()  # throttle
        assert r.i32() == 1
        code = r.i16()
        message = r.string()
        return code, message.decode() if message is not None else None
    finally:
        conn.close()


def delete_records(broker, topic, partition, offset):
    """DeleteRecords v0; returns (error_code, low_watermark)."""
    body = i32(1) + string(topic.encode()) + i32(1) + i32(partition) + i64(offset) + i32(5000)
    conn = Connection(broker)
    try:
        conn.send(request(21, 0, 9, body))
        r = conn.read_response(9)
        r.i32()  # throttle
        assert r.i32() == 1
        r.string()
        assert r.i32() == 1
        assert r.i32() == partition
        low = r.i64()
        return r.i16(), low
    finally:
        conn.close()


class RetentionCompactionTest(harness.BrokerTestCase):

    broker_props = {"log.cleaner.backoff.ms": 100, "log.retention.check.interval.ms": 200}

    def produce_keyed(self, broker, topic, pairs, **conf):
        records = [{"key": k, "value": v} for k, v in pairs]
        reports = harness.produce(broker.bootstrap, topic, records, **conf)
        return [(offset, k, v) for (_, offset), (k, v) in zip(reports, pairs)]

    def read_all(self, broker, topic):
        return [(r.offset, r.key, r.value)
                for r in harness.consume(broker.bootstrap, topic, timeout=TIMEOUT)]

    def describe(self, broker, topic):
        admin = harness.admin(broker.bootstrap)
        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        return admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)

    # -- compaction ---------------------------------------------------------------

    def test_compaction_keeps_newest_per_key(self):
        broker = self.start_broker()
        topic = "rc-compact"
        harness.create_topic(broker.bootstrap, topic, config=COMPACT_CONFIG)
        pairs = [(b"key-%02d" % k, b"value-%02d-%03d-%s" % (k, r, b"x" * 40))
                 for r in range(10) for k in range(20)]
        sent = self.produce_keyed(broker, topic, pairs, linger_ms=0, batch_num_messages=5)
        want = latest_per_key(sent)
        self.assertEqual(len(want), 20)
        end = sent[-1][0] + 1

        got = self.wait_until(lambda: (lambda rs: rs if rs == want else None)(self.read_all(broker, topic)),
                              TIMEOUT, "the cleaner to leave only the newest value per key")
        # Offsets are unchanged: each kept record has the offset it was given.
        self.assertEqual([o for o, _, _ in got], [o for o, _, _ in want])
        low, high = harness.watermarks(broker.bootstrap, topic)
        self.assertEqual((low, high), (0, end))
        # Produce goes on at the same end offset, and a restart changes nothing.
        more = self.produce_keyed(broker, topic, [(b"key-00", b"after")])
        self.assertEqual(more[0][0], end)
        broker.restart()
        got = self.read_all(broker, topic)
        self.assertEqual(got[-1], (end, b"key-00", b"after"))
        # The older key-00 goes once the cleaner has seen the new one.
        self.assertIn(got[:-1], (want, [r for r in want if r[1] != b"key-00"]))

    def test_tombstones_kept_then_dropped(self):
        broker = self.start_broker()
        topic = "rc-tombstones"
        config = dict(COMPACT_CONFIG)
        config["delete.retention.ms"] = "5000"
        harness.create_topic(broker.bootstrap, topic, config=config)
        pairs = [(b"k%d" % k, b"v%d-%d" % (k, r)) for r in range(3) for k in range(5)]
        pairs += [(b"k1", None), (b"k3", None)]
        sent = self.produce_keyed(broker, topic, pairs, linger_ms=0)
        want = latest_per_key(sent)
        self.assertEqual(sum(1 for _, _, v in want if v is None), 2)

        self.wait_until(lambda: self.read_all(broker, topic) == want, TIMEOUT,
                        "the tombstones to be the only records left of k1 and k3")
        without = [r for r in want if r[2] is not None]
        self.wait_until(lambda: self.read_all(broker, topic) == without, TIMEOUT,
                        "the tombstones to go after delete.retention.ms")

    def test_keyless_record_refused_on_compacted_topic(self):
        broker = self.start_broker()
        topic = "rc-keyless"
        harness.create_topic(broker.bootstrap, topic, config={"cleanup.policy": "compact"})
        for codec in ("none", "gzip", "lz4"):
            errors = []
            producer = Producer(harness.client_config(broker.bootstrap, **{
                "acks": "all", "message.timeout.ms": 10000, "retries": 0, "compression.codec": codec}))
            producer.produce(topic, b"no key here", on_delivery=lambda err, msg: errors.append(err))
            self.assertEqual(producer.flush(TIMEOUT), 0)
            self.assertEqual(len(errors), 1)
            self.assertIsNotNone(errors[0], codec)
            self.assertEqual(errors[0].code(), INVALID_RECORD, "%s: %s" % (codec, errors[0]))
        # With a key it is accepted.
        sent = self.produce_keyed(broker, topic, [(b"k", b"v")])
        self.assertEqual(sent[0][0], 0)

    # -- retention ----------------------------------------------------------------

    def test_retention_ms_removes_old_segments(self):
        broker = self.start_broker()
        topic = "rc-retention"
        harness.create_topic(broker.bootstrap, topic,
                             config={"segment.bytes": "2048", "retention.ms": "60000"})
        old = int(time.time() * 1000) - 3600 * 1000
        records = [{"key": b"k", "value": b"old-%04d-%s" % (i, b"y" * 50), "timestamp": old + i}
                   for i in range(200)]
        harness.produce(broker.bootstrap, topic, records, linger_ms=0)
        fresh = [{"key": b"k", "value": b"fresh-%d" % i} for i in range(5)]
        harness.produce(broker.bootstrap, topic, fresh)
        end = 205
        low = self.wait_until(lambda: (lambda w: w[0] if w[0] > 0 else None)(
            harness.watermarks(broker.bootstrap, topic)), TIMEOUT, "retention to move the earliest offset")
        self.assertLessEqual(low, 200)
        self.assertGreater(low, 100)
        got = harness.consume(broker.bootstrap, topic, timeout=TIMEOUT)
        self.assertEqual(got[0].offset, low)
        self.assertEqual(got[-1].offset, end - 1)
        self.assertEqual(len(harness.segment_files(broker.data_dir, topic)),
                         len(set(harness.segment_files(broker.data_dir, topic))))

    def test_delete_records_survives_restart(self):
        broker = self.start_broker()
        topic = "rc-delete-records"
        harness.create_topic(broker.bootstrap, topic, config={"segment.bytes": "2048"})
        harness.produce(broker.bootstrap, topic, [{"value": b"r-%03d-%s" % (i, b"z" * 40)} for i in range(100)],
                        linger_ms=0)
        self.assertEqual(delete_records(broker, topic, 0, 37), (0, 37))
        self.assertEqual(harness.watermarks(broker.bootstrap, topic), (37, 100))
        self.assertEqual(delete_records(broker, topic, 0, 101)[0], 1)  # OFFSET_OUT_OF_RANGE
        self.assertEqual(delete_records(broker, "rc-no-such-topic", 0, 1)[0], 3)
        got = harness.consume(broker.bootstrap, topic, timeout=TIMEOUT)
        self.assertEqual([r.offset for r in got], list(range(37, 100)))
        broker.restart()
        self.assertEqual(harness.watermarks(broker.bootstrap, topic), (37, 100))
        got = harness.consume(broker.bootstrap, topic, timeout=TIMEOUT)
        self.assertEqual(got[0].offset, 37)

    # -- config changes -----------------------------------------------------------

    def test_alter_configs_visible_and_persisted(self):
        broker = self.start_broker()
        topic = "rc-configs"
        harness.create_topic(broker.bootstrap, topic)
        admin = harness.admin(broker.bootstrap)
        res = ConfigResource(ConfigResource.Type.TOPIC, topic,
                             set_config={"retention.ms": "123456", "segment.bytes": "1048576"})
        admin.alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
        configs = self.describe(broker, topic)
        self.assertEqual(configs["retention.ms"].value, "123456")
        self.assertEqual(configs["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        self.assertEqual(configs["segment.bytes"].value, "1048576")

        # Incremental: APPEND to cleanup.policy, DELETE an override, SET one.
        code, message = incremental_alter(broker, topic, [("cleanup.policy", OP_APPEND, "compact"),
                                                          ("segment.bytes", OP_DELETE, None),
                                                          ("delete.retention.ms", OP_SET, "5000")])
        self.assertEqual(code, 0, message)
        configs = self.describe(broker, topic)
        self.assertEqual(configs["cleanup.policy"].value, "delete,compact")
        self.assertEqual(configs["segment.bytes"].value, "1073741824")
        self.assertTrue(configs["segment.bytes"].is_default)
        self.assertEqual(configs["delete.retention.ms"].value, "5000")
        self.assertEqual(configs["retention.ms"].value, "123456")
        # validate_only changes nothing.
        code, _ = incremental_alter(broker, topic, [("retention.ms", OP_SET, "1")], validate_only=True)
        self.assertEqual(code, 0)
        self.assertEqual(self.describe(broker, topic)["retention.ms"].value, "123456")

        broker.restart()
        configs = self.describe(broker, topic)
        self.assertEqual(configs["cleanup.policy"].value, "delete,compact")
        self.assertEqual(configs["delete.retention.ms"].value, "5000")
        self.assertEqual(configs["retention.ms"].value, "123456")

        # AlterConfigs replaces every override.
        admin = harness.admin(broker.bootstrap)
        res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "999"})
        admin.alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
        configs = self.describe(broker, topic)
        self.assertEqual(configs["retention.ms"].value, "999")
        self.assertTrue(configs["cleanup.policy"].is_default)

    def test_bad_config_is_invalid_config(self):
        broker = self.start_broker()
        topic = "rc-bad-config"
        harness.create_topic(broker.bootstrap, topic)
        admin = harness.admin(broker.bootstrap)
        for name, value in (("retention.ms", "soon"), ("cleanup.policy", "sometimes"),
                            ("min.cleanable.dirty.ratio", "1.5"), ("no.such.config", "1")):
            res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={name: value})
            with self.assertRaises(KafkaException) as ctx:
                admin.alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
            err = ctx.exception.args[0]
            self.assertEqual(err.code(), KafkaError.INVALID_CONFIG, str(err))
            self.assertIn(name, err.str())
            code, message = incremental_alter(broker, topic, [(name, OP_SET, value)])
            self.assertEqual(code, INVALID_CONFIG)
            self.assertIn(name, message)
        # APPEND to a config that is not a list.
        code, message = incremental_alter(broker, topic, [("retention.ms", OP_APPEND, "5")])
        self.assertEqual(code, INVALID_CONFIG)
        self.assertIn("retention.ms", message)
        # Nothing was changed.
        self.assertTrue(self.describe(broker, topic)["retention.ms"].is_default)


if __name__ == "__main__":
    unittest.main()
