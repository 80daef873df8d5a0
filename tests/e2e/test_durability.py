"""Durability and recovery: no acknowledged (acks=all) record is lost when the
broker is killed with SIGKILL mid-stream, and after an unclean shutdown a
damaged segment is truncated at the first bad batch, with a WARN line, and
the broker keeps accepting records.

Run as a script with --produce-stream, this file is the background producer
of the kill -9 test (a separate process, so killing things cannot hang the
test process)."""

import os
import random
import re
import subprocess
import sys
import unittest

from confluent_kafka import Consumer, TopicPartition, OFFSET_END

try:
    from . import harness
except ImportError:  # run as a script or from inside tests/e2e
    import harness

TIMEOUT = 20
# What the broker writes into its data directory on a clean shutdown.
CLEAN_SHUTDOWN_MARKER = ".strand-clean-shutdown"
WARN_LINE = re.compile(r"\bWARN\b")


def produce_stream(bootstrap, topic, ack_path, first_seq):
    """Produces values durable-<seq> with acks=all until killed, appending
    "<offset> <value>" to ack_path as each delivery report arrives."""
    from confluent_kafka import Producer
    producer = Producer(harness.client_config(bootstrap, **{
        "acks": "all", "linger.ms": 1, "message.timeout.ms": 60000,
        "queue.buffering.max.messages": 2000}))
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def on_delivery(err, msg):
        if err is None:
            os.write(fd, b"%d %s\n" % (msg.offset(), msg.value()))

    seq = first_seq
    while True:
        try:
            producer.produce(topic, b"durable-%010d" % seq, on_delivery=on_delivery)
            seq += 1
        except BufferError:
            producer.poll(0.01)
        producer.poll(0)


def read_acks(path):
    """Acknowledged (offset, value) pairs; a last line cut short by the kill is ignored."""
    with open(path, "rb") as f:
        data = f.read()
    acks = []
    for line in data.split(b"\n")[:-1]:
        offset, value = line.split(b" ")
        acks.append((int(offset), value))
    return acks


class DurabilityTest(harness.BrokerTestCase):

    def start_stream(self, broker, topic, name, first_seq):
        """Starts the background producer; returns (process, path of its acknowledgement file)."""
        ack_path = os.path.join(broker.tmp_dir, "acks-%s.txt" % name)
        open(ack_path, "wb").close()
        with open(os.path.join(broker.tmp_dir, "producer-%s.log" % name), "wb") as log:
            producer = subprocess.Popen(
                [harness.PYTHON, os.path.abspath(__file__), "--produce-stream", broker.bootstrap, topic, ack_path,
                 str(first_seq)], stdout=log, stderr=subprocess.STDOUT, cwd=harness.REPO_ROOT)
        self.addCleanup(lambda: producer.poll() is None and (producer.kill(), producer.wait()))
        return producer, ack_path

    def wait_for_acks(self, producer, ack_path, count):
        def enough():
            if producer.poll() is not None:
                self.fail("producer exited with %s (see its log beside %s)" % (producer.returncode, ack_path))
            with open(ack_path, "rb") as f:
                return f.read().count(b"\n") >= count
        self.wait_until(enough, TIMEOUT, "%d acknowledged records" % count)

    def check_acks_stored(self, broker, topic, acks):
        """Every acknowledged record is at its offset; offsets are contiguous; no duplicates."""
        end = harness.watermarks(broker.bootstrap, topic)[1]
        got = harness.consume(broker.bootstrap, topic, min_count=end, timeout=TIMEOUT)
        self.assertEqual([r.offset for r in got], list(range(end)), "offsets are not contiguous")
        stored = {r.offset: r.value for r in got}
        lost = [(o, v) for o, v in acks if stored.get(o) != v]
        self.assertEqual(lost[:10], [], "%d of %d acknowledged records missing or changed" % (len(lost), len(acks)))
        # No record was stored twice (the producer never retried into the new broker).
        values = [r.value for r in got]
        self.assertEqual(len(values), len(set(values)))
        return end

    def test_kill9_loses_no_acknowledged_record(self):
        # Small segments, so that the crash finds several and recovery has to pick the right ones.
        broker = self.start_broker(log_segment_bytes=65536)
        topic = "dur-stream"
        harness.create_topic(broker.bootstrap, topic)
        all_acks = []
        for round_no in range(2):
            producer, ack_path = self.start_stream(broker, topic, str(round_no), round_no * 10 ** 8)
            try:
                self.wait_for_acks(producer, ack_path, 600)
                broker.kill9()
            finally:
                producer.kill()
                producer.wait()
            acks = read_acks(ack_path)
            self.assertGreaterEqual(len(acks), 600)
            all_acks.extend(acks)
            broker.start()
            self.check_acks_stored(broker, topic, all_acks)
        self.assertGreater(len(harness.segment_files(broker.data_dir, topic)), 1)

        # Still serving after two crashes: new records go after the old ones.
        before = harness.watermarks(broker.bootstrap, topic)[1]
        reports = harness.produce(broker.bootstrap, topic, [{"value": b"after-crashes"}])
        self.assertEqual(reports, [(0, before)])


    def test_sigterm_under_load_is_clean(self):
        # SIGTERM while a producer streams acks=all records and a consumer
        # waits at the end of the log: a clean exit (status 0, no leak
        # report) and nothing to repair on the next start.
        broker = self.start_broker(log_segment_bytes=65536)
        topic = "dur-sigterm"
        harness.create_topic(broker.bootstrap, topic)
        consumer = Consumer(harness.client_config(broker.bootstrap, **{
            "group.id": "strand-e2e-assign", "enable.auto.commit": False, "fetch.wait.max.ms": 5000,
            "socket.timeout.ms": 15000}))
        self.addCleanup(consumer.close)
        consumer.assign([TopicPartition(topic, 0, OFFSET_END)])
        consumer.poll(0.5)
        producer, ack_path = self.start_stream(broker, topic, "sigterm", 0)
        try:
            self.wait_for_acks(producer, ack_path, 600)
            self.assertEqual(broker.stop(), 0, "broker did not exit cleanly on SIGTERM\n" + broker.log_tail())
        finally:
            producer.kill()
            producer.wait()
        acks = read_acks(ack_path)
        broker.start()
        repairs = [line for line in broker.log_text().splitlines() if WARN_LINE.search(line) and topic in line]
        self.assertEqual(repairs, [], "the log needed repair after a clean shutdown")
        self.check_acks_stored(broker, topic, acks)


class RecoveryTest(harness.BrokerTestCase):
    """Tampers with a segment of a cleanly stopped broker, removes the clean-shutdown
    marker so that the next start treats it as a crash, and checks the recovery."""

    topic = "dur-recover"

    def prepare(self, batches=5, per_batch=10):
        broker = self.start_broker()
        harness.create_topic(broker.bootstrap, self.topic)
        sent = []
        for b in range(batches):
            group = [{"key": b"k%d" % i, "value": b"batch %d record %d " % (b, i) * 8} for i in range(per_batch)]
            reports = harness.produce(broker.bootstrap, self.topic, group, linger_ms=50)
            self.assertEqual(reports, [(0, len(sent) + i) for i in range(per_batch)])
            sent.extend(group)
        running = set(os.listdir(broker.data_dir))
        self.assertEqual(broker.stop(), 0)
        segments = harness.segment_files(broker.data_dir, self.topic)
        self.assertEqual(len(segments), 1, segments)
        on_disk = harness.read_batches(segments[0])
        self.assertGreaterEqual(len(on_disk), batches, "expected a batch per produce call: %s" % on_disk)
        self.assertEqual(on_disk[-1]["last_offset"], len(sent) - 1)
        # Whole batches and nothing else.
        self.assertEqual(on_disk[-1]["position"] + on_disk[-1]["size"], os.path.getsize(segments[0]))
        self.remove_clean_marker(broker, running)
        return broker, sent, segments[0], on_disk

    def remove_clean_marker(self, broker, listing_while_running):
        names = set(os.listdir(broker.data_dir))
        if CLEAN_SHUTDOWN_MARKER in names:
            marker = CLEAN_SHUTDOWN_MARKER
        else:
            # Whatever file a clean stop added is the marker.
            added = [n for n in names - listing_while_running if os.path.isfile(os.path.join(broker.data_dir, n))]
            self.assertEqual(len(added), 1, "cannot tell the clean-shutdown marker: stop added %s; directory: %s"
                             % (added, sorted(names)))
            marker = added[0]
        os.unlink(os.path.join(broker.data_dir, marker))

    def check_recovered(self, broker, sent, keep, segment, keep_bytes):
        """The first `keep` records survive, the segment is cut at keep_bytes, a
        WARN was logged, and the log takes and serves new records."""
        broker.start()
        warnings = [line for line in broker.log_text().splitlines()
                    if WARN_LINE.search(line) and "%s-0" % self.topic in line]
        self.assertTrue(warnings, "no WARN line naming %s-0\n%s" % (self.topic, broker.log_tail()))
        self.assertEqual(os.path.getsize(segment), keep_bytes, "segment not truncated at the first bad batch")
        self.assertEqual(harness.watermarks(broker.bootstrap, self.topic), (0, keep))
        got = harness.consume(broker.bootstrap, self.topic, min_count=keep, timeout=TIMEOUT)
        self.assertEqual([(r.offset, r.key, r.value) for r in got],
                         [(i, r["key"], r["value"]) for i, r in enumerate(sent[:keep])])

        more = [{"key": b"new", "value": b"after recovery %d" % i} for i in range(10)]
        self.assertEqual(harness.produce(broker.bootstrap, self.topic, more), [(0, keep + i) for i in range(10)])
        expected = sent[:keep] + more
        got = harness.consume(broker.bootstrap, self.topic, min_count=len(expected), timeout=TIMEOUT)
        self.assertEqual([(r.offset, r.value) for r in got], [(i, r["value"]) for i, r in enumerate(expected)])

        # A clean restart afterwards finds the same log.
        broker.restart()
        got = harness.consume(broker.bootstrap, self.topic, min_count=len(expected), timeout=TIMEOUT)
        self.assertEqual([(r.offset, r.value) for r in got], [(i, r["value"]) for i, r in enumerate(expected)])

    def test_garbage_appended_is_cut(self):
        broker, sent, segment, batches = self.prepare()
        size = os.path.getsize(segment)
        with open(segment, "ab") as f:
            f.write(random.Random(7).randbytes(333))
        self.check_recovered(broker, sent, len(sent), segment, size)

    def test_torn_last_write_is_cut(self):
        # A crash in the middle of writing a batch: its first half is on disk.
        broker, sent, segment, batches = self.prepare()
        size = os.path.getsize(segment)
        with open(segment, "rb") as f:
            f.seek(batches[-1]["position"])
            last = bytearray(f.read(batches[-1]["size"]))
        last[0:8] = (batches[-1]["last_offset"] + 1).to_bytes(8, "big")
        with open(segment, "ab") as f:
            f.write(last[:len(last) // 2])
        self.check_recovered(broker, sent, len(sent), segment, size)

    def test_flipped_byte_truncates_from_that_batch(self):
        broker, sent, segment, batches = self.prepare()
        bad = batches[len(batches) // 2]
        self.assertGreater(bad["base_offset"], 0)
        # A byte inside the records (after the 61-byte header): only the CRC can tell.
        pos = bad["position"] + harness.BATCH_HEADER_SIZE + (bad["size"] - harness.BATCH_HEADER_SIZE) // 2
        with open(segment, "r+b") as f:
            f.seek(pos)
            byte = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([byte ^ 0x5A]))
        self.check_recovered(broker, sent, bad["base_offset"], segment, bad["position"])


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--produce-stream":
        produce_stream(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        unittest.main()
