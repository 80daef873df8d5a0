"""kafka-python against the broker. kafka-python opens every connection with
ApiVersions v0 and a pipelined Metadata v0, infers a broker release from the
advertised versions and then sends fixed low versions (Produce up to 7,
Fetch 4, Metadata 1, ListOffsets 1). Consumers have no group (group_id=None)."""

import time
import unittest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

TIMEOUT = 15


class KafkaPythonTest(harness.BrokerTestCase):

    def producer(self, broker, **conf):
        return KafkaProducer(bootstrap_servers=[broker.bootstrap], acks="all", linger_ms=10,
                             request_timeout_ms=10000, max_block_ms=TIMEOUT * 1000,
                             api_version_auto_timeout_ms=10000, retries=2, **conf)

    def consumer(self, broker):
        return KafkaConsumer(bootstrap_servers=[broker.bootstrap], group_id=None, enable_auto_commit=False,
                             request_timeout_ms=15000, api_version_auto_timeout_ms=10000, fetch_max_wait_ms=200,
                             reconnect_backoff_max_ms=1000)

    def send_all(self, broker, topic, records, **conf):
        producer = self.producer(broker, **conf)
        try:
            # kafka-python must have recognised a broker with record batch v2.
            self.assertGreaterEqual(producer.config["api_version"], (0, 11))
            futures = [producer.send(topic, key=r.get("key"), value=r["value"], headers=r.get("headers"),
                                     timestamp_ms=r.get("timestamp")) for r in records]
            producer.flush(timeout=TIMEOUT)
            return [f.get(timeout=TIMEOUT) for f in futures]
        finally:
            producer.close(timeout=5)

    def read_all(self, broker, topic, count, partition=0):
        consumer = self.consumer(broker)
        tp = TopicPartition(topic, partition)
        try:
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            got = []
            deadline = time.monotonic() + TIMEOUT
            while len(got) < count and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    got.extend(batch)
            self.assertEqual(len(got), count, "read %d of %d records" % (len(got), count))
            # Nothing more than what was sent.
            self.assertEqual(consumer.end_offsets([tp]), {tp: count})
            self.assertEqual(consumer.beginning_offsets([tp]), {tp: 0})
            self.assertEqual(consumer.poll(timeout_ms=300), {})
            return got
        finally:
            consumer.close(autocommit=False)

    def make_records(self, n, big_every=0):
        now = int(time.time() * 1000) - 10000
        records = []
        for i in range(n):
            value = ("kafka-python %d " % i).encode() * (1 + i % 30)
            if big_every and i % big_every == big_every - 1:
                value = bytes((i + j) % 256 for j in range(200000))
            records.append({"key": ("k%d" % (i % 6)).encode(), "value": value,
                            "headers": [("n", str(i).encode())], "timestamp": now + i})
        return records

    def check_round_trip(self, broker, topic, sent, metadata):
        self.assertEqual([(m.partition, m.offset) for m in metadata], [(0, i) for i in range(len(sent))])
        got = self.read_all(broker, topic, len(sent))
        for i, (rec, want) in enumerate(zip(got, sent)):
            self.assertEqual(rec.offset, i)
            self.assertEqual(rec.key, want["key"])
            self.assertEqual(rec.value, want["value"], "value at offset %d" % i)
            self.assertEqual(rec.timestamp, want["timestamp"])
            self.assertEqual(list(rec.headers), want["headers"])

    def test_produce_and_consume(self):
        broker = self.start_broker()
        sent = self.make_records(300, big_every=100)
        metadata = self.send_all(broker, "kp-plain", sent)
        self.check_round_trip(broker, "kp-plain", sent, metadata)
        batches = harness.read_batches(harness.segment_files(broker.data_dir, "kp-plain")[0])
        self.assertTrue(all(b["magic"] == 2 and b["codec"] == 0 for b in batches))

    def test_produce_and_consume_gzip(self):
        broker = self.start_broker()
        sent = self.make_records(300)
        metadata = self.send_all(broker, "kp-gzip", sent, compression_type="gzip")
        self.check_round_trip(broker, "kp-gzip", sent, metadata)
        batches = harness.read_batches(harness.segment_files(broker.data_dir, "kp-gzip")[0])
        self.assertEqual({b["codec"] for b in batches}, {harness.CODECS["gzip"]})

    def test_reads_what_librdkafka_wrote(self):
        # gzip batches from librdkafka, read by kafka-python's own decoder.
        broker = self.start_broker()
        sent = [{"key": b"c%d" % (i % 4), "value": b"from librdkafka %d " % i * 20} for i in range(200)]
        harness.produce(broker.bootstrap, "kp-cross", sent, compression_codec="gzip")
        got = self.read_all(broker, "kp-cross", len(sent))
        self.assertEqual([(r.offset, r.key, r.value) for r in got],
                         [(i, r["key"], r["value"]) for i, r in enumerate(sent)])

    def test_librdkafka_reads_what_kafka_python_wrote(self):
        broker = self.start_broker()
        sent = self.make_records(150)
        self.send_all(broker, "kp-cross-back", sent, compression_type="gzip")
        got = harness.consume(broker.bootstrap, "kp-cross-back", min_count=len(sent), timeout=TIMEOUT)
        self.assertEqual([(r.offset, r.key, r.value, r.headers) for r in got],
                         [(i, r["key"], r["value"], r["headers"]) for i, r in enumerate(sent)])


if __name__ == "__main__":
    unittest.main()
