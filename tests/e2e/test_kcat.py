"""kcat (librdkafka's command-line client) against the broker: metadata,
a keyed round trip, and each compression codec stored as sent and read back."""

import json
import shutil
import unittest

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
CLIENT_TIMEOUT = 30
COMMON = ["-X", "socket.timeout.ms=10000", "-X", "message.timeout.ms=20000", "-X", "topic.metadata.refresh.interval.ms=5000"]


@unittest.skipIf(KCAT is None, "kcat is not installed")
class KcatTest(harness.BrokerTestCase):

    def kcat(self, broker, *args, input=None):
        proc = harness.run_process([KCAT, "-b", broker.bootstrap] + COMMON + list(args), CLIENT_TIMEOUT, input=input)
        if proc.returncode != 0:
            self.fail("kcat %s exited with %d\nstderr: %s" % (" ".join(args), proc.returncode,
                                                              proc.stderr.decode(errors="replace")[-3000:]))
        return proc.stdout

    def produce_lines(self, broker, topic, lines, *args):
        self.kcat(broker, "-P", "-t", topic, *args, input=("\n".join(lines) + "\n").encode())

    def consume_lines(self, broker, topic, fmt, *args):
        out = self.kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-f", fmt, *args)
        return out.decode().splitlines()

    def test_metadata_lists_broker_and_topics(self):
        broker = self.start_broker(num_partitions=3)
        self.produce_lines(broker, "kcat-meta-a", ["one", "two"])
        self.produce_lines(broker, "kcat-meta-b", ["three"])
        meta = json.loads(self.kcat(broker, "-L", "-J", "-m", "10"))
        brokers = meta["brokers"]
        self.assertEqual(len(brokers), 1, brokers)
        self.assertEqual(brokers[0]["name"], broker.bootstrap)
        broker_id = brokers[0]["id"]
        topics = {t["topic"]: t for t in meta["topics"]}
        for name in ("kcat-meta-a", "kcat-meta-b"):
            self.assertIn(name, topics)
            topic = topics[name]
            self.assertNotIn("error", topic, topic)
            # Auto-created topics get num.partitions partitions, all led by us.
            self.assertEqual(sorted(p["partition"] for p in topic["partitions"]), [0, 1, 2])
            for p in topic["partitions"]:
                self.assertEqual(p["leader"], broker_id, p)
        # A metadata request naming one topic answers for that topic only.
        meta = json.loads(self.kcat(broker, "-L", "-J", "-m", "10", "-t", "kcat-meta-b"))
        self.assertEqual([t["topic"] for t in meta["topics"]], ["kcat-meta-b"])
        self.assertEqual(len(meta["topics"][0]["partitions"]), 3)

    def test_keyed_round_trip(self):
        broker = self.start_broker()
        sent = ["key-%d:value %d, with some text: and a colon" % (i % 7, i) for i in range(300)]
        self.produce_lines(broker, "kcat-keyed", sent, "-K:")
        got = self.consume_lines(broker, "kcat-keyed", "%o|%k:%s\n")
        self.assertEqual(len(got), len(sent))
        for i, (line, original) in enumerate(zip(got, sent)):
            self.assertEqual(line, "%d|%s" % (i, original))
        batches = harness.read_batches(harness.segment_files(broker.data_dir, "kcat-keyed")[0])
        self.assertEqual(sum(b["records_count"] for b in batches), len(sent))
        self.assertTrue(all(b["magic"] == 2 and b["codec"] == 0 for b in batches), batches[:3])

    def roundtrip_codec(self, codec):
        broker = self.start_broker()
        topic = "kcat-" + codec
        # Repetitive payloads so that every batch really compresses (librdkafka
        # sends a batch uncompressed when compression does not make it smaller).
        sent = ["k%d:%s" % (i % 5, ("record %05d " % i) * (5 + i % 40)) for i in range(400)]
        self.produce_lines(broker, topic, sent, "-K:", "-z", codec, "-X", "linger.ms=20")
        got = self.consume_lines(broker, topic, "%k:%s\n")
        self.assertEqual(len(got), len(sent))
        self.assertEqual(got, sent)
        segments = harness.segment_files(broker.data_dir, topic)
        self.assertTrue(segments, "no segment files under %s" % broker.data_dir)
        batches = [b for s in segments for b in harness.read_batches(s)]
        self.assertEqual(sum(b["records_count"] for b in batches), len(sent))
        # Batches are stored as the client sent them: still compressed. When
        # they are not, librdkafka chose not to compress: version 2.0.2 sends
        # gzip, snappy and lz4 only to a broker whose Produce range includes
        # v0 (lz4 also needs FindCoordinator), and zstd only with Produce 7 and
        # Fetch 10 ("Broker does not support compression type" in its debug log).
        self.assertEqual({b["codec"] for b in batches}, {harness.CODECS[codec]},
                         "librdkafka did not compress with %s; see the comment above" % codec)

    def test_compression_gzip(self):
        self.roundtrip_codec("gzip")

    def test_compression_snappy(self):
        self.roundtrip_codec("snappy")

    def test_compression_lz4(self):
        self.roundtrip_codec("lz4")

    def test_compression_zstd(self):
        self.roundtrip_codec("zstd")


if __name__ == "__main__":
    unittest.main()
