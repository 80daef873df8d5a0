"""kafkajs (the Node.js client) produces through kafkajs_produce.js; the
records are read back with confluent-kafka and compared. kafkajs comes from
tests/e2e/node_modules (`npm ci` in tests/e2e, which `make check` runs)."""

import json
import os
import shutil
import unittest

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

NODE = shutil.which("node") or shutil.which("nodejs")
SCRIPT = os.path.join(harness.E2E_DIR, "kafkajs_produce.js")
KAFKAJS = os.path.join(harness.E2E_DIR, "node_modules", "kafkajs")
TIMEOUT = 60


def expected_record(i, keys):
    return (b"key-%d" % (i % keys), b"kafkajs record %d" % i, [("seq", str(i).encode())])


@unittest.skipIf(NODE is None, "node is not installed")
class KafkajsTest(harness.BrokerTestCase):

    def setUp(self):
        if not os.path.isdir(KAFKAJS):
            self.fail("kafkajs is not installed: run `npm ci` in tests/e2e")

    def run_producer(self, broker, topic, count, *args):
        env = dict(os.environ, KAFKAJS_NO_PARTITIONER_WARNING="1")
        proc = harness.run_process([NODE, SCRIPT, "--brokers", broker.bootstrap, "--topic", topic,
                                    "--count", str(count)] + list(args), TIMEOUT, env=env, cwd=harness.E2E_DIR)
        if proc.returncode != 0:
            self.fail("kafkajs producer exited with %d:\n%s" % (proc.returncode,
                                                               proc.stderr.decode(errors="replace")[-4000:]))
        return json.loads(proc.stdout.decode().strip().splitlines()[-1])

    def test_produce_single_partition(self):
        broker = self.start_broker()
        count, keys = 500, 7
        acks = self.run_producer(broker, "kjs-single", count, "--keys", str(keys), "--batch", "50")
        # One acknowledgement per send of 50, each batch right after the last.
        self.assertEqual(acks, [{"partition": 0, "baseOffset": b} for b in range(0, count, 50)])
        got = harness.consume(broker.bootstrap, "kjs-single", 0, min_count=count, timeout=20)
        self.assertEqual([(r.key, r.value, r.headers) for r in got], [expected_record(i, keys) for i in range(count)])
        self.assertEqual([r.offset for r in got], list(range(count)))

    def test_produce_gzip_to_created_topic(self):
        broker = self.start_broker()
        count, keys, partitions = 600, 11, 3
        self.run_producer(broker, "kjs-gzip", count, "--keys", str(keys), "--batch", "100",
                          "--compression", "gzip", "--partitions", str(partitions))
        seen = {}
        seqs = []
        for p in range(partitions):
            got = harness.consume(broker.bootstrap, "kjs-gzip", p, timeout=20)
            self.assertEqual([r.offset for r in got], list(range(len(got))))
            last_seq = {}
            for r in got:
                seq = int(r.value.rsplit(b" ", 1)[1])
                self.assertEqual((r.key, r.value, r.headers), expected_record(seq, keys))
                # Each key lives on one partition, in the order it was sent.
                self.assertEqual(seen.setdefault(r.key, p), p, "key %r on two partitions" % r.key)
                self.assertGreater(seq, last_seq.get(r.key, -1))
                last_seq[r.key] = seq
                seqs.append(seq)
            for segment in harness.segment_files(broker.data_dir, "kjs-gzip", p):
                for b in harness.read_batches(segment):
                    self.assertEqual(b["codec"], harness.CODECS["gzip"])
        self.assertEqual(sorted(seqs), list(range(count)))
        self.assertEqual(len(seen), keys)
        self.assertGreater(len(set(seen.values())), 1, "every key landed on one partition")


if __name__ == "__main__":
    unittest.main()
