"""confluent-kafka (Python over librdkafka) against the broker: produce with
each acks setting and with idempotence, read back with assign(), topic
administration, keyed partitioning, ListOffsets, restart and out-of-range
fetches. No consumer groups: every consumer uses assign()."""

import os
import random
import tempfile
import time
import unittest

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer, TopicPartition,
                             TIMESTAMP_CREATE_TIME)
from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

TIMEOUT = 15


def make_records(n, keys=None, prefix="value", with_headers=False, timestamp_base=None):
    records = []
    for i in range(n):
        r = {"value": ("%s-%05d|" % (prefix, i)).encode() + bytes(range(i % 50))}
        if keys:
            r["key"] = ("key-%d" % (i % keys)).encode()
        if with_headers:
            r["headers"] = [("seq", str(i).encode()), ("kind", b"e2e")]
        if timestamp_base is not None:
            r["timestamp"] = timestamp_base + i
        records.append(r)
    return records


class ConfluentKafkaTest(harness.BrokerTestCase):

    def assert_read_back(self, broker, topic, sent, partition=0, first_offset=0):
        got = harness.consume(broker.bootstrap, topic, partition, min_count=len(sent), timeout=TIMEOUT)
        self.assertEqual(len(got), len(sent), "read %d records, sent %d" % (len(got), len(sent)))
        for i, (rec, want) in enumerate(zip(got, sent)):
            self.assertEqual(rec.offset, first_offset + i)
            self.assertEqual(rec.value, want["value"], "value at offset %d" % rec.offset)
            self.assertEqual(rec.key, want.get("key"), "key at offset %d" % rec.offset)
            if "timestamp" in want:
                self.assertEqual((rec.timestamp_type, rec.timestamp), (TIMESTAMP_CREATE_TIME, want["timestamp"]))
            if "headers" in want:
                self.assertEqual(rec.headers, want["headers"])
        return got

    # -- produce / consume ----------------------------------------------------

    def test_acks_all_round_trip_in_order(self):
        broker = self.start_broker()
        sent = make_records(500, keys=10, with_headers=True, timestamp_base=int(time.time() * 1000) - 60000)
        reports = harness.produce(broker.bootstrap, "ck-acks-all", sent, acks="all")
        self.assertEqual(reports, [(0, i) for i in range(len(sent))])
        self.assert_read_back(broker, "ck-acks-all", sent)

    def test_acks_1_round_trip(self):
        broker = self.start_broker()
        sent = make_records(300, keys=3)
        reports = harness.produce(broker.bootstrap, "ck-acks-1", sent, acks=1)
        self.assertEqual(reports, [(0, i) for i in range(len(sent))])
        self.assert_read_back(broker, "ck-acks-1", sent)

    def test_idempotent_producer(self):
        broker = self.start_broker()
        sent = make_records(400, keys=4)
        reports = harness.produce(broker.bootstrap, "ck-idempotent", sent, **{"enable.idempotence": True})
        self.assertEqual(reports, [(0, i) for i in range(len(sent))])
        self.assert_read_back(broker, "ck-idempotent", sent)
        # The batches carry the producer id the broker handed out (InitProducerId)
        # and sequence numbers that continue from batch to batch.
        batches = harness.read_batches(harness.segment_files(broker.data_dir, "ck-idempotent")[0])
        self.assertTrue(batches)
        self.assertEqual({b["producer_id"] for b in batches} - {-1}, {batches[0]["producer_id"]})
        self.assertGreaterEqual(batches[0]["producer_id"], 0)
        expected_sequence = 0
        for b in batches:
            self.assertEqual(b["base_sequence"], expected_sequence)
            expected_sequence += b["records_count"]

    def test_consumer_waits_for_new_records(self):
        # A fetch parked at the end of the log is answered when a produce lands.
        broker = self.start_broker()
        harness.produce(broker.bootstrap, "ck-live", make_records(3))
        consumer = Consumer(harness.client_config(broker.bootstrap, **{
            "group.id": "strand-e2e-assign", "enable.auto.commit": False, "fetch.wait.max.ms": 9000,
            "socket.timeout.ms": 15000}))
        try:
            consumer.assign([TopicPartition("ck-live", 0, 3)])
            self.assertIsNone(self.poll_record(consumer, 1.0), "record beyond the end of the log")
            start = time.monotonic()
            harness.produce(broker.bootstrap, "ck-live", [{"value": b"late"}])
            msg = self.poll_record(consumer, TIMEOUT)
            self.assertIsNotNone(msg, "the new record never arrived")
            self.assertEqual((msg.offset(), msg.value()), (3, b"late"))
            # Woken by the produce, not by the 9 s fetch.wait.max.ms.
            self.assertLess(time.monotonic() - start, 4.0)
        finally:
            consumer.close()

    @staticmethod
    def poll_record(consumer, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.topic() is None or msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            return msg
        return None

    # -- administration -----------------------------------------------------------

    def test_admin_create_list_delete(self):
        broker = self.start_broker()
        admin = harness.admin(broker.bootstrap)
        fs = admin.create_topics([NewTopic("ck-admin", num_partitions=4, replication_factor=1),
                                  NewTopic("ck-admin-two", num_partitions=1, replication_factor=1)],
                                 operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
        for f in fs.values():
            f.result(timeout=TIMEOUT)
        md = admin.list_topics(timeout=TIMEOUT)
        self.assertIn("ck-admin", md.topics)
        self.assertIn("ck-admin-two", md.topics)
        self.assertEqual(sorted(md.topics["ck-admin"].partitions), [0, 1, 2, 3])
        self.assertEqual(len(md.brokers), 1)
        broker_id = next(iter(md.brokers))
        self.assertEqual("%s:%d" % (md.brokers[broker_id].host, md.brokers[broker_id].port), broker.bootstrap)
        for p in md.topics["ck-admin"].partitions.values():
            self.assertEqual(p.leader, broker_id)
            self.assertIsNone(p.error)

        # Creating it again is refused with TOPIC_ALREADY_EXISTS.
        fs = admin.create_topics([NewTopic("ck-admin", num_partitions=2, replication_factor=1)],
                                 request_timeout=TIMEOUT)
        with self.assertRaises(KafkaException) as ctx:
            fs["ck-admin"].result(timeout=TIMEOUT)
        self.assertEqual(ctx.exception.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS)
        self.assertEqual(len(admin.list_topics(timeout=TIMEOUT).topics["ck-admin"].partitions), 4)

        # Every one of the four partitions takes records.
        for p in range(4):
            sent = make_records(5, prefix="p%d" % p)
            for r in sent:
                r["partition"] = p
            self.assertEqual(harness.produce(broker.bootstrap, "ck-admin", sent), [(p, i) for i in range(5)])
            self.assert_read_back(broker, "ck-admin", sent, partition=p)

        fs = admin.delete_topics(["ck-admin"], operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
        fs["ck-admin"].result(timeout=TIMEOUT)
        topics = admin.list_topics(timeout=TIMEOUT).topics
        self.assertNotIn("ck-admin", topics)
        self.assertIn("ck-admin-two", topics)

        # Deleting an unknown topic is an error, not a success.
        fs = admin.delete_topics(["ck-no-such-topic"], request_timeout=TIMEOUT)
        with self.assertRaises(KafkaException) as ctx:
            fs["ck-no-such-topic"].result(timeout=TIMEOUT)
        self.assertEqual(ctx.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

        # A new topic under the deleted name starts empty.
        fs = admin.create_topics([NewTopic("ck-admin", num_partitions=2, replication_factor=1)],
                                 request_timeout=TIMEOUT)
        fs["ck-admin"].result(timeout=TIMEOUT)
        self.assertEqual(len(admin.list_topics(timeout=TIMEOUT).topics["ck-admin"].partitions), 2)
        for p in range(2):
            self.assertEqual(harness.watermarks(broker.bootstrap, "ck-admin", p), (0, 0))

    def test_create_topic_with_broker_default_partitions(self):
        broker = self.start_broker(num_partitions=3)
        admin = harness.admin(broker.bootstrap)
        fs = admin.create_topics([NewTopic("ck-default-partitions", num_partitions=-1, replication_factor=-1)],
                                 request_timeout=TIMEOUT)
        fs["ck-default-partitions"].result(timeout=TIMEOUT)
        md = admin.list_topics(timeout=TIMEOUT)
        self.assertEqual(sorted(md.topics["ck-default-partitions"].partitions), [0, 1, 2])

    def test_create_topic_with_invalid_partition_count(self):
        broker = self.start_broker()
        admin = harness.admin(broker.bootstrap)
        fs = admin.create_topics([NewTopic("ck-bad-partitions", num_partitions=0, replication_factor=1)],
                                 request_timeout=TIMEOUT)
        with self.assertRaises(KafkaException) as ctx:
            fs["ck-bad-partitions"].result(timeout=TIMEOUT)
        self.assertEqual(ctx.exception.args[0].code(), KafkaError.INVALID_PARTITIONS)
        self.assertNotIn("ck-bad-partitions", admin.list_topics(timeout=TIMEOUT).topics)

    # -- keys and partitions ---------------------------------------------------

    def test_keyed_records_keep_partition_and_order(self):
        broker = self.start_broker()
        harness.create_topic(broker.bootstrap, "ck-keyed", partitions=4)
        keys = ["user-%d" % k for k in range(20)]
        sent = []
        for i in range(400):
            key = keys[(i * 7) % len(keys)]
            sent.append({"key": key.encode(), "value": ("%s seq %d" % (key, i)).encode()})
        reports = harness.produce(broker.bootstrap, "ck-keyed", sent, linger_ms=20)
        partition_of = {}
        for r, (partition, _) in zip(sent, reports):
            partition_of.setdefault(r["key"], set()).add(partition)
        for key, parts in partition_of.items():
            self.assertEqual(len(parts), 1, "key %r went to partitions %s" % (key, parts))
        used = {next(iter(p)) for p in partition_of.values()}
        self.assertGreater(len(used), 1, "all keys hashed to one partition")

        total = 0
        for p in range(4):
            got = harness.consume(broker.bootstrap, "ck-keyed", p, timeout=TIMEOUT)
            want = [r for r, (partition, _) in zip(sent, reports) if partition == p]
            self.assertEqual([(g.key, g.value) for g in got], [(w["key"], w["value"]) for w in want])
            self.assertEqual([g.offset for g in got], list(range(len(want))))
            # Records of one key come back in the order they were sent.
            last = {}
            for g in got:
                seq = int(g.value.split(b" seq ")[1])
                self.assertGreater(seq, last.get(g.key, -1))
                last[g.key] = seq
            total += len(got)
        self.assertEqual(total, len(sent))

    # -- ListOffsets -----------------------------------------------------------------

    def test_watermarks_and_offsets_for_times(self):
        broker = self.start_broker()
        base = int(time.time() * 1000) - 3600 * 1000
        # One batch per record, timestamps 10 s apart.
        sent = [{"value": b"t%d" % i, "timestamp": base + 10000 * i} for i in range(10)]
        harness.produce(broker.bootstrap, "ck-times", sent, flush_each=True)
        self.assertEqual(harness.watermarks(broker.bootstrap, "ck-times"), (0, 10))
        self.assertEqual(self.offset_for_time(broker, "ck-times", base), 0)
        self.assertEqual(self.offset_for_time(broker, "ck-times", base + 10000 * 4), 4)
        self.assertEqual(self.offset_for_time(broker, "ck-times", base + 10000 * 4 + 1), 5)
        self.assertEqual(self.offset_for_time(broker, "ck-times", base - 99999), 0)
        self.assertEqual(self.offset_for_time(broker, "ck-times", base + 10000 * 9), 9)
        # Past the newest record there is no such offset.
        self.assertEqual(self.offset_for_time(broker, "ck-times", base + 10000 * 9 + 1), -1)

    def test_offsets_for_times_inside_one_batch(self):
        broker = self.start_broker()
        base = int(time.time() * 1000) - 3600 * 1000
        sent = [{"value": b"t%d" % i, "timestamp": base + 1000 * i} for i in range(20)]
        harness.produce(broker.bootstrap, "ck-times-batch", sent, linger_ms=1000)
        batches = harness.read_batches(harness.segment_files(broker.data_dir, "ck-times-batch")[0])
        self.assertLess(len(batches), 20, "records were not batched; the test needs multi-record batches")
        self.assertEqual(harness.watermarks(broker.bootstrap, "ck-times-batch"), (0, 20))
        for i in (0, 1, 7, 13, 19):
            self.assertEqual(self.offset_for_time(broker, "ck-times-batch", base + 1000 * i), i)
            self.assertEqual(self.offset_for_time(broker, "ck-times-batch", base + 1000 * i - 500), i)

    def test_offsets_for_times_inside_compressed_batches(self):
        broker = self.start_broker()
        base = int(time.time() * 1000) - 3600 * 1000
        for codec, codec_id in (("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)):
            topic = "ck-times-" + codec
            sent = [{"value": b"compressible value %d " % i * 8, "timestamp": base + 1000 * i}
                    for i in range(30)]
            harness.produce(broker.bootstrap, topic, sent, linger_ms=1000, compression_type=codec)
            batches = harness.read_batches(harness.segment_files(broker.data_dir, topic)[0])
            self.assertTrue(any(b["codec"] == codec_id and b["records_count"] > 1 for b in batches),
                            "no multi-record %s batch was stored" % codec)
            for i in (0, 1, 11, 29):
                self.assertEqual(self.offset_for_time(broker, topic, base + 1000 * i - 500), i, codec)

    def offset_for_time(self, broker, topic, ts):
        c = Consumer(harness.client_config(broker.bootstrap, **{"group.id": "strand-e2e-assign"}))
        try:
            res = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=TIMEOUT)
        finally:
            c.close()
        self.assertEqual(len(res), 1)
        self.assertIsNone(res[0].error)
        return res[0].offset

    def test_watermarks_of_empty_topic(self):
        broker = self.start_broker()
        harness.create_topic(broker.bootstrap, "ck-empty", partitions=2)
        self.assertEqual(harness.watermarks(broker.bootstrap, "ck-empty", 0), (0, 0))
        self.assertEqual(harness.watermarks(broker.bootstrap, "ck-empty", 1), (0, 0))

    # -- segments and limits -----------------------------------------------------------

    def test_segments_roll_and_reads_cross_them(self):
        broker = self.start_broker(log_segment_bytes=16384)
        base = int(time.time() * 1000) - 600000
        sent = make_records(1000, keys=5, timestamp_base=base)
        harness.produce(broker.bootstrap, "ck-segments", sent, batch_num_messages=20)
        segments = harness.segment_files(broker.data_dir, "ck-segments")
        self.assertGreater(len(segments), 3, "log.segment.bytes=16384 did not roll segments")
        next_offset = 0
        for path in segments:
            batches = harness.read_batches(path)
            self.assertTrue(batches, "empty segment %s" % path)
            # Named by the offset of its first batch, continuing the previous one.
            self.assertEqual(int(os.path.basename(path)[:20]), batches[0]["base_offset"])
            self.assertEqual(batches[0]["base_offset"], next_offset)
            self.assertLessEqual(os.path.getsize(path), 16384)
            next_offset = batches[-1]["last_offset"] + 1
        self.assertEqual(next_offset, len(sent))

        self.assert_read_back(broker, "ck-segments", sent)
        # Reads and time lookups that start inside a later segment.
        middle = 777
        got = harness.consume(broker.bootstrap, "ck-segments", offset=middle, min_count=len(sent) - middle,
                              timeout=TIMEOUT)
        self.assertEqual([r.offset for r in got], list(range(middle, len(sent))))
        self.assertEqual(self.offset_for_time(broker, "ck-segments", base + middle), middle)

        broker.restart()
        self.assertEqual(harness.watermarks(broker.bootstrap, "ck-segments"), (0, len(sent)))
        self.assert_read_back(broker, "ck-segments", sent)
        more = make_records(5, prefix="after")
        self.assertEqual(harness.produce(broker.bootstrap, "ck-segments", more),
                         [(0, len(sent) + i) for i in range(5)])

    def test_record_larger_than_message_max_bytes_is_rejected(self):
        broker = self.start_broker(message_max_bytes=20000)
        harness.create_topic(broker.bootstrap, "ck-too-large")
        # The client's own limit is higher, so the broker is the one that refuses.
        producer = Producer(harness.client_config(broker.bootstrap, acks="all", message_max_bytes=1000000,
                                                  message_timeout_ms=TIMEOUT * 1000))
        results = []
        big = random.Random(3).randbytes(50000)
        producer.produce("ck-too-large", big, on_delivery=lambda err, msg: results.append(err))
        self.assertEqual(producer.flush(TIMEOUT), 0)
        self.assertEqual(len(results), 1)
        self.assertIsNotNone(results[0], "a 50000-byte record was accepted with message.max.bytes=20000")
        self.assertEqual(results[0].code(), KafkaError.MSG_SIZE_TOO_LARGE)
        # Nothing was stored, and records under the limit still go in.
        self.assertEqual(harness.watermarks(broker.bootstrap, "ck-too-large"), (0, 0))
        small = [{"value": b"small enough"}]
        self.assertEqual(harness.produce(broker.bootstrap, "ck-too-large", small), [(0, 0)])

    def test_describe_configs(self):
        broker = self.start_broker(log_segment_bytes=1048576)
        harness.create_topic(broker.bootstrap, "ck-configs", config={"retention.ms": "3600000"})
        admin = harness.admin(broker.bootstrap)
        resource = ConfigResource("topic", "ck-configs")
        configs = admin.describe_configs([resource], request_timeout=TIMEOUT)[resource].result(timeout=TIMEOUT)
        # Set on the topic.
        self.assertEqual(configs["retention.ms"].value, "3600000")
        self.assertEqual(configs["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        # Inherited from the broker's log.segment.bytes.
        self.assertEqual(configs["segment.bytes"].value, "1048576")
        self.assertEqual(configs["segment.bytes"].source, ConfigSource.STATIC_BROKER_CONFIG.value)
        # Kafka's default.
        self.assertEqual(configs["cleanup.policy"].value, "delete")
        self.assertEqual(configs["cleanup.policy"].source, ConfigSource.DEFAULT_CONFIG.value)

        missing = ConfigResource("topic", "ck-no-such-topic")
        with self.assertRaises(KafkaException) as ctx:
            admin.describe_configs([missing], request_timeout=TIMEOUT)[missing].result(timeout=TIMEOUT)
        self.assertEqual(ctx.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

    def test_config_file(self):
        fd, path = tempfile.mkstemp(prefix="strand-e2e-", suffix=".properties")
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, "w") as f:
            f.write("# broker settings for this test\nnum.partitions=5\n\nauto.create.topics.enable = true\n")
        broker = self.start_broker(args=["--config", path])
        harness.produce(broker.bootstrap, "ck-config-file", [{"value": b"x"}])
        md = harness.admin(broker.bootstrap).list_topics(timeout=TIMEOUT)
        self.assertEqual(sorted(md.topics["ck-config-file"].partitions), [0, 1, 2, 3, 4])

    def test_auto_create_disabled(self):
        broker = self.start_broker(auto_create_topics_enable="false")
        producer = Producer(harness.client_config(broker.bootstrap, message_timeout_ms=3000))
        results = []
        producer.produce("ck-not-created", b"x", on_delivery=lambda err, msg: results.append(err))
        producer.flush(10)
        self.assertEqual(len(results), 1)
        self.assertIsNotNone(results[0], "produce to a missing topic succeeded with auto-create off")
        self.assertIn(results[0].code(), (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._MSG_TIMED_OUT,
                                          KafkaError._UNKNOWN_TOPIC))
        self.assertNotIn("ck-not-created", harness.admin(broker.bootstrap).list_topics(timeout=TIMEOUT).topics)
        self.assertFalse(os.path.exists(harness.partition_dir(broker.data_dir, "ck-not-created")))

    # -- restart -----------------------------------------------------------------------

    def test_restart_keeps_topics_and_records(self):
        broker = self.start_broker()
        harness.create_topic(broker.bootstrap, "ck-restart-four", partitions=4)
        sent4 = {p: make_records(30 + p, keys=3, prefix="four-p%d" % p) for p in range(4)}
        for p, records in sent4.items():
            for r in records:
                r["partition"] = p
            harness.produce(broker.bootstrap, "ck-restart-four", records)
        sent1 = make_records(200, keys=5, with_headers=True, timestamp_base=int(time.time() * 1000) - 5000)
        harness.produce(broker.bootstrap, "ck-restart-auto", sent1, acks=1)

        broker.restart()

        md = harness.admin(broker.bootstrap).list_topics(timeout=TIMEOUT)
        self.assertEqual(sorted(md.topics["ck-restart-four"].partitions), [0, 1, 2, 3])
        self.assertEqual(sorted(md.topics["ck-restart-auto"].partitions), [0])
        for p, records in sent4.items():
            self.assertEqual(harness.watermarks(broker.bootstrap, "ck-restart-four", p), (0, len(records)))
            self.assert_read_back(broker, "ck-restart-four", records, partition=p)
        self.assert_read_back(broker, "ck-restart-auto", sent1)
        # New records continue after the old ones.
        more = make_records(10, prefix="after-restart")
        self.assertEqual(harness.produce(broker.bootstrap, "ck-restart-auto", more),
                         [(0, len(sent1) + i) for i in range(10)])
        self.assert_read_back(broker, "ck-restart-auto", sent1 + more)

    # -- out of range --------------------------------------------------------------------

    def test_offset_out_of_range_with_reset_error(self):
        broker = self.start_broker()
        harness.produce(broker.bootstrap, "ck-oor", make_records(5))
        consumer = Consumer(harness.client_config(broker.bootstrap, **{
            "group.id": "strand-e2e-assign", "enable.auto.commit": False, "auto.offset.reset": "error"}))
        try:
            consumer.assign([TopicPartition("ck-oor", 0, 100)])
            deadline = time.monotonic() + TIMEOUT
            error = None
            while error is None and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                self.assertIsNotNone(msg.error(), "got a record at offset %d" % msg.offset())
                if msg.topic() == "ck-oor":
                    error = msg.error()
            self.assertIsNotNone(error, "no error surfaced for offset 100 of a 5-record log")
            # librdkafka wraps the broker's OFFSET_OUT_OF_RANGE in _AUTO_OFFSET_RESET.
            self.assertIn(error.code(), (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE))
            self.assertIn("out of range", error.str().lower())
        finally:
            consumer.close()

    def test_offset_out_of_range_resets_to_earliest(self):
        broker = self.start_broker()
        sent = make_records(5)
        harness.produce(broker.bootstrap, "ck-oor-reset", sent)
        got = harness.consume(broker.bootstrap, "ck-oor-reset", offset=100, min_count=5, timeout=TIMEOUT,
                              auto_offset_reset="earliest")
        self.assertEqual([(r.offset, r.value) for r in got], [(i, r["value"]) for i, r in enumerate(sent)])


if __name__ == "__main__":
    unittest.main()
